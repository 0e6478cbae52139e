"""The instructor dashboard (README.md), as snapkit plugins.

- :mod:`~snapkit_instructor_dashboard.oracles` -- a class's record, roster, line items and
  results, read over the OneRoster 1.1 REST API;
- :mod:`~snapkit_instructor_dashboard.gradebook` -- the one index every projection builds on,
  and the filters (thresholds) it reads from the scope;
- :mod:`~snapkit_instructor_dashboard.projections` -- progress, proficiency, student_support,
  assessments, summary;
- :mod:`~snapkit_instructor_dashboard.datasets` -- the seven CSV files of the
  ``instructor_dashboard`` export profile;
- :mod:`~snapkit_instructor_dashboard.plugin` -- registration (entry point
  ``instructor-dashboard``).
"""

from __future__ import annotations

__version__ = "0.1.0"
