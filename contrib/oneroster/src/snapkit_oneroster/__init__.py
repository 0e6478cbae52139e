"""OneRoster 1.1 / ClassLink for snapkit, independent of the snapkit kernel.

Modules, one job each:

- :mod:`~snapkit_oneroster.schema` -- the tables and how their fields look in each binding;
- :mod:`~snapkit_oneroster.normalize` -- the one normalization both bindings go through;
- :mod:`~snapkit_oneroster.client` -- the REST client (paging, retries, deadline);
- :mod:`~snapkit_oneroster.auth` -- OAuth 2.0 client credentials and OAuth 1.0a signing;
- :mod:`~snapkit_oneroster.bulk_csv` -- the CSV bulk binding, read and written;
- :mod:`~snapkit_oneroster.relations` -- students and guardians through ``agents``;
- :mod:`~snapkit_oneroster.district` -- a deterministic synthetic district;
- :mod:`~snapkit_oneroster.server` -- a local OneRoster server over it, with faults;
- :mod:`~snapkit_oneroster.cli` -- the ``oneroster`` click group.

The names below are importable from the package; they load their module on first use, so
``import snapkit_oneroster`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "OneRosterClient": "client",
    "RetryPolicy": "client",
    "OAuth2ClientCredentials": "auth",
    "OAuth1Signature": "auth",
    "BulkReader": "bulk_csv",
    "write_bulk_csv": "bulk_csv",
    "normalize_record": "normalize",
    "build_households": "relations",
    "Households": "relations",
    "District": "district",
    "DayChange": "district",
    "serve": "server",
    "ServerHandle": "server",
    "Faults": "faults",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'snapkit_oneroster' has no attribute {name!r}")
    return getattr(importlib.import_module(f"snapkit_oneroster.{module}"), name)
