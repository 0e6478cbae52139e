"""The snapkit plugin of Fabric (README.md): the ``fabric_report`` oracle and four diff sections.

Registered through the entry point ``fabric`` in the group ``snapkit``:

- oracle ``fabric_report``: reads the JSON of ``FabricReportExporter.export_json()`` from a file
  (``path``) or from a command's standard output (``command``, ``timeout``); the payload is
  small, so it lives in the snapshot manifest under ``payloads["fabric_report"]``;
- diff sections ``execution_summary``, ``engine_health``, ``proxy_profile_stability`` and
  ``determinism``, in the seed's order, each exactly as :mod:`snapkit_fabric.sections`
  computes it. They apply only when both snapshots carry a ``fabric_report`` payload.

:func:`fabric_diff` turns a snapkit :class:`~snapkit.contracts.Diff` back into the seed's
``FabricDiff`` shape (``from_snapshot``, ``to_snapshot``, ``changes``).

Configuration::

    [oracles.fabric_report]
    path = "reports/fabric.json"            # or: command = ["fabric", "report", "--json"]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snapkit import hookimpl
from snapkit.descriptors import DiffSectionDescriptor, OracleDescriptor
from snapkit.errors import DiffError, OracleError
from snapkit_fabric._defaults import DEFAULT_COMMAND_TIMEOUT
from snapkit_fabric.errors import FabricDiffError, FabricSnapshotError
from snapkit_fabric.schema import REPORT_SCHEMA
from snapkit_fabric.sections import SECTIONS

if TYPE_CHECKING:
    from snapkit.contracts import Diff, DiffSection, SnapshotManifest

__all__ = [
    "ORACLE_KEY",
    "ORACLE_SETTINGS_SCHEMA",
    "SECTION_ORDER",
    "FabricReportOracle",
    "FabricSection",
    "FabricSectionError",
    "FabricSourceError",
    "fabric_diff",
    "report_of",
]

VERSION = "0.1.0"
ORACLE_KEY = "fabric_report"
"""The oracle's key, and so the manifest payload key its report is stored under."""

SECTION_ORDER = 20
"""``order`` of the first Fabric section: after ``summary`` (0), before generic sections."""

ORACLE_SETTINGS_SCHEMA: Mapping[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "fabric_report oracle settings",
    "type": "object",
    "additionalProperties": False,
    "oneOf": [{"required": ["path"]}, {"required": ["command"]}],
    "properties": {
        "path": {
            "type": "string",
            "minLength": 1,
            "description": "a Fabric report JSON file (relative to the config's folder)",
        },
        "command": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string"},
            "description": "a command printing the report JSON, run without a shell",
        },
        "timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": DEFAULT_COMMAND_TIMEOUT,
            "description": "seconds the command may run",
        },
        "cwd": {"type": "string", "description": "working folder of the command"},
    },
}
"""JSON Schema of ``[oracles.fabric_report]``."""

_FIELD_ORDER: Mapping[str, tuple[str, ...]] = {
    "execution_summary": (
        "completed_delta",
        "failed_delta",
        "validation_failed_delta",
        "total_jobs_delta",
    ),
    "engine_health": ("jobs_delta", "failures_delta", "failure_rate_delta"),
    "proxy_profile_stability": ("jobs_delta", "failure_rate_delta"),
    "determinism": ("new_non_deterministic_jobs", "resolved_non_deterministic_jobs"),
}


class FabricSourceError(FabricSnapshotError, OracleError):
    """The report could not be loaded.

    A :class:`FabricSnapshotError` that snapkit records as an oracle failure.
    """


class FabricSectionError(FabricDiffError, DiffError):
    """A Fabric section could not be computed.

    A :class:`FabricDiffError` that snapkit's CLI reports in one line.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        DiffError.__init__(self, message, hint=hint)


# -- the oracle ---------------------------------------------------------------------------------


class FabricReportOracle:
    """Loads one Fabric report from a file or a command, per the oracle's settings."""

    def __init__(self, settings: Mapping[str, Any], root: Path | None = None) -> None:
        path = settings.get("path")
        self.path: Path | None = None if path is None else (root or Path()) / path
        self.command: list[str] | None = (
            list(settings["command"]) if "command" in settings else None
        )
        self.timeout = float(settings.get("timeout", DEFAULT_COMMAND_TIMEOUT))
        self.cwd: str | None = settings.get("cwd")
        if (self.path is None) == (self.command is None):
            raise FabricSourceError(
                "the fabric_report oracle needs exactly one of 'path' and 'command'"
            )

    def load(self, call: Any) -> dict[str, Any]:
        """Return the report (validated against :data:`REPORT_SCHEMA`).

        :raises FabricSourceError: when the file or command does not give a valid report.
        """
        from snapkit_fabric.report import load_report_from_command, load_report_from_file

        try:
            if self.path is not None:
                return load_report_from_file(self.path)
            timeout = min(self.timeout, float(getattr(call, "timeout", self.timeout)))
            return load_report_from_command(self.command or [], timeout=timeout, cwd=self.cwd)
        except FabricSourceError:
            raise
        except FabricSnapshotError as exc:
            raise FabricSourceError(str(exc)) from exc

    __call__ = load


@hookimpl
def snapkit_register_oracles(register: Callable[[Any], None], config: Any) -> None:
    """Register the ``fabric_report`` oracle (a small payload kept in the manifest).

    A relative ``path`` is resolved from the configuration file's folder.
    """
    root: Path | None = getattr(config, "root", None)

    def factory(settings: Mapping[str, Any]) -> FabricReportOracle:
        return FabricReportOracle(settings, root)

    register(
        OracleDescriptor(
            key=ORACLE_KEY,
            version=VERSION,
            factory=factory,
            settings_schema=ORACLE_SETTINGS_SCHEMA,
            payload_schema=REPORT_SCHEMA,
            records=False,
            description="a Fabric report (FabricReportExporter.export_json) from a file or command",
        )
    )


# -- the sections -------------------------------------------------------------------------------


def report_of(manifest: SnapshotManifest | None, side: str = "a") -> Mapping[str, Any]:
    """Return the Fabric report a snapshot carries.

    :raises FabricSectionError: when the snapshot is missing or has no ``fabric_report``.
    """
    if manifest is None:
        raise FabricSectionError(f"snapshot {side} is missing; a Fabric diff needs two snapshots")
    report = manifest.payloads.get(ORACLE_KEY)
    if not isinstance(report, Mapping):
        raise FabricSectionError(
            f"snapshot {manifest.id[:12]} carries no Fabric report",
            hint=f"refresh with the {ORACLE_KEY!r} oracle enabled",
        )
    return report


class FabricSection:
    """One seed-004 section as a snapkit diff section.

    Counts: ``added``/``removed`` are engines or profiles on one side only, or job ids that
    became or stopped being non-deterministic; ``changed`` counts entries (or, for
    ``execution_summary``, fields) on both sides whose deltas are not all zero.
    """

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.function = SECTIONS[name]
        self.settings = dict(settings or {})

    def applies(self, a: SnapshotManifest, b: SnapshotManifest) -> bool:
        """Return whether both snapshots carry a ``fabric_report`` payload."""
        return ORACLE_KEY in a.payloads and ORACLE_KEY in b.payloads

    def compute(self, context: Any) -> DiffSection:
        """Compute the section from the two reports (``to - from``)."""
        from snapkit.contracts import DiffSection  # here: listing plugins never computes

        old = report_of(context.a, "a")
        new = report_of(context.b, "b")
        try:
            data: Any = self.function(old, new)
        except FabricDiffError as exc:
            raise FabricSectionError(f"fabric section {self.name!r}: {exc}") from exc
        added = removed = changed = 0
        truncated = False
        if self.name == "execution_summary":
            changed = sum(1 for value in data.values() if value != 0)
        elif self.name == "determinism":
            added = len(data["new_non_deterministic_jobs"])
            removed = len(data["resolved_non_deterministic_jobs"])
            for field in _FIELD_ORDER["determinism"]:
                data[field], cut = context.limit(data[field])
                truncated = truncated or cut
        else:
            old_names = set(old.get(self.name) or {})
            new_names = set(new.get(self.name) or {})
            for name, deltas in data.items():
                if name not in old_names:
                    added += 1
                elif name not in new_names:
                    removed += 1
                elif any(value != 0 for value in deltas.values()):
                    changed += 1
            kept, truncated = context.limit(sorted(data))
            data = {name: data[name] for name in kept}
        return DiffSection(self.name, added, removed, changed, truncated, data)


def _section_factory(name: str) -> Callable[[Mapping[str, Any]], FabricSection]:
    def factory(settings: Mapping[str, Any]) -> FabricSection:
        return FabricSection(name, settings)

    return factory


@hookimpl
def snapkit_register_diff_sections(register: Callable[[Any], None]) -> None:
    """Register the four seed-004 sections, in the seed's order."""
    descriptions = {
        "execution_summary": "Change of completed, failed, validation-failed and total jobs.",
        "engine_health": "Change of each engine's jobs, failures and failure rate.",
        "proxy_profile_stability": "Change of each proxy profile's jobs and failure rate.",
        "determinism": "Jobs that became, or stopped being, non-deterministic.",
    }
    for index, name in enumerate(SECTIONS):
        register(
            DiffSectionDescriptor(
                key=name,
                version=VERSION,
                factory=_section_factory(name),
                order=SECTION_ORDER + index,
                settings_schema={"type": "object", "additionalProperties": False},
                description=descriptions[name],
            )
        )


# -- the seed's shape ---------------------------------------------------------------------------


def fabric_diff(diff: Diff | None) -> dict[str, Any]:
    """Return a snapkit diff's Fabric sections in the seed's ``FabricDiff`` shape.

    ``{"from_snapshot": id, "to_snapshot": id, "changes": {...}}`` with the sections and their
    fields in the seed's order (engine and profile names sorted, job ids ascending).

    :raises FabricSectionError: when ``diff`` is ``None`` or lacks a Fabric section.
    """
    if diff is None:
        raise FabricSectionError("no diff to convert; compute one with snapkit.diff first")
    by_name = {section.name: section.data for section in diff.sections}
    changes: dict[str, Any] = {}
    for name, fields in _FIELD_ORDER.items():
        if name not in by_name:
            raise FabricSectionError(
                f"the diff has no {name!r} section",
                hint="both snapshots need a fabric_report payload",
            )
        data = by_name[name]
        if name in {"engine_health", "proxy_profile_stability"}:
            changes[name] = {key: {f: data[key][f] for f in fields} for key in sorted(data)}
        else:
            changes[name] = {f: data[f] for f in fields}
    return {"from_snapshot": diff.from_id, "to_snapshot": diff.to_id, "changes": changes}
