"""Toastmasters district statistics for snapkit (docs/toastmasters.md): a collector of the
dashboard's CSV exports, normalized into districts, divisions, areas, clubs and district statistics.

Modules, one job each:

- :mod:`~snapkit_toastmasters.exportcsv` -- the export file format (BOM, quoting, trailer);
- :mod:`~snapkit_toastmasters.columns` -- the reports' columns, matched by normalized heading;
- :mod:`~snapkit_toastmasters.reports` -- an export as typed rows;
- :mod:`~snapkit_toastmasters.normalize` -- a district's reports checked and made tables;
- :mod:`~snapkit_toastmasters.collect` -- the collector's core (fetch injected);
- :mod:`~snapkit_toastmasters.fetch` -- its HTTP shell;
- :mod:`~snapkit_toastmasters.oracles` -- the snapkit oracles;
- :mod:`~snapkit_toastmasters.projections`, :mod:`~snapkit_toastmasters.datasets` -- views;
- :mod:`~snapkit_toastmasters.generator`, :mod:`~snapkit_toastmasters.render`,
  :mod:`~snapkit_toastmasters.server` -- a deterministic local dashboard with faults.
"""

from __future__ import annotations

__version__ = "0.1.0"
