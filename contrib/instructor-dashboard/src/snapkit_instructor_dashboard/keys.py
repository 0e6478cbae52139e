"""The keys this plugin registers: oracles, projections, the export profile."""

from __future__ import annotations

CLASS = "dashboard_class"
"""Oracle: the class record (a small payload), with the scope's grading category."""
ROSTER = "dashboard_roster"
"""Oracle: the class's students (records keyed by the user's sourcedId)."""
LINE_ITEMS = "dashboard_line_items"
"""Oracle: the class's line items, in the scope's category if it has one (records)."""
RESULTS = "dashboard_results"
"""Oracle: the results of those line items (a record per line item, keyed by lineItem)."""

ORACLES = (CLASS, ROSTER, LINE_ITEMS, RESULTS)
GRADEBOOK = (ROSTER, LINE_ITEMS, RESULTS)
"""The oracles the gradebook index reads; every projection requires them."""

PROGRESS = "progress"
PROFICIENCY = "proficiency"
STUDENT_SUPPORT = "student_support"
ASSESSMENTS = "assessments"
SUMMARY = "summary"

PROFILE = "instructor_dashboard"
"""The export profile holding every dataset of this plugin."""
