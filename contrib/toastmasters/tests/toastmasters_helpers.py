"""Helpers the Toastmasters tests share (a module of its own: several distributions' test
folders are on sys.path, so ``conftest`` names would clash)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import snapkit_toastmasters.plugin as plugin
from snapkit.canonical import canonical_bytes
from snapkit.project import Project
from snapkit.testing.engine import make_project
from snapkit_toastmasters.collect import Collected, Request, collect
from snapkit_toastmasters.server import ServerHandle

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(folder: str, report: str) -> bytes:
    """The bytes of ``fixtures/<folder>/<report>.csv``."""
    return (FIXTURES / folder / f"{report}.csv").read_bytes()


def collect_fixtures(
    folder: str = "open_year", program_year: str = "2026-2027", **replaced: bytes
) -> Collected:
    """Collect district 86 from the fixture files of ``folder`` (``replaced`` swaps reports
    for other bytes, e.g. a broken export)."""

    def fetch(district: str, report: str, url: str) -> bytes:
        return replaced[report] if report in replaced else fixture(folder, report)

    request = Request(
        base_url="http://dashboard.invalid", districts=("86",), program_year=program_year
    )
    return collect(request, fetch)


def section(server: ServerHandle, **changes: Any) -> dict[str, Any]:
    """An ``[oracles.toastmasters]`` section for every district the server has."""
    data: dict[str, Any] = {
        "base_url": server.base_url,
        "districts": sorted(server.dashboard.districts),
        "program_year": server.dashboard.program_year,
    }
    data.update(changes)
    return data


def tm_project(
    folder: Path, server: ServerHandle, *, filters: Mapping[str, Any] | None = None, **changes: Any
) -> Project:
    """A project refreshing the server's districts into ``folder/store`` (no backoff)."""
    config: dict[str, Any] = {
        "oracles": {"toastmasters": section(server, **changes)},
        "refresh": {"backoff": 0.0},
    }
    if filters:
        config["scope"] = {"namespace": "toastmasters", "filters": dict(filters)}
    return make_project(folder, plugin, config=config)


def part_checksum(rows: Iterable[Mapping[str, Any]]) -> tuple[int, str]:
    """Row count and SHA-256 of rows as a snapshot part stores them (canonical JSON Lines)."""
    digest = hashlib.sha256()
    count = 0
    for row in rows:
        digest.update(canonical_bytes(dict(row)) + b"\n")
        count += 1
    return count, digest.hexdigest()
