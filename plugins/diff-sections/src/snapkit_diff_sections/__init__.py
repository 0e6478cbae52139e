"""First-party snapkit diff sections: ``summary``, ``json`` and ``table``.

- :mod:`snapkit_diff_sections.summary`: two snapshots' facts side by side;
- :mod:`snapkit_diff_sections.jsondiff`: path-addressed changes of small payloads;
- :mod:`snapkit_diff_sections.table`: rows added, removed and changed in keyed tables;
- :mod:`snapkit_diff_sections.plugin`: registers the three through
  ``snapkit_register_diff_sections``.
"""

from __future__ import annotations

from snapkit_diff_sections.jsondiff import JsonSection, json_changes
from snapkit_diff_sections.summary import SummarySection
from snapkit_diff_sections.table import TableSection

__all__ = ["JsonSection", "SummarySection", "TableSection", "json_changes"]

__version__ = "0.1.0"
