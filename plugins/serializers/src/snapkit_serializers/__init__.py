"""First-party snapkit serializers: CSV with an explicit dialect, and JSON Lines."""

from __future__ import annotations

__version__ = "0.1.0"
