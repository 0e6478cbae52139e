"""First-party snapkit diff sections: ``summary``, ``json`` and ``table``.

- :mod:`snapkit_diff_sections.summary`: two snapshots' facts side by side;
- :mod:`snapkit_diff_sections.jsondiff`: path-addressed changes of small payloads;
- :mod:`snapkit_diff_sections.table`: rows added, removed and changed in keyed tables;
- :mod:`snapkit_diff_sections.plugin`: registers the three through
  ``snapkit_register_diff_sections``.

Importing this package is cheap: the names below load their module (and the kernel's diff
engine) on first use, so ``snapkit plugins list`` never pays for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["JsonSection", "SummarySection", "TableSection", "json_changes"]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from snapkit_diff_sections.jsondiff import JsonSection, json_changes
    from snapkit_diff_sections.summary import SummarySection
    from snapkit_diff_sections.table import TableSection

_LAZY = {
    "JsonSection": "snapkit_diff_sections.jsondiff",
    "json_changes": "snapkit_diff_sections.jsondiff",
    "SummarySection": "snapkit_diff_sections.summary",
    "TableSection": "snapkit_diff_sections.table",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
