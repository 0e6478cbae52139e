"""The snapkit entry point of OneRoster (``[project.entry-points.snapkit] oneroster``).

What it registers:

- with an ``[oracles.oneroster]`` section in the config: one record oracle per table
  (``users``, ``orgs``, ``classes``, ``courses``, ``academic_sessions``, ``enrollments``,
  ``categories``, ``line_items``, ``results``; or the section's ``tables``), and the
  ``oneroster`` oracle, which requires them all and records a small fetch summary -- so that
  one section makes ``snapkit refresh`` fetch a whole district;
- the ``snapkit oneroster`` command group (``serve``, ``export-csv``, ``layout``);
- the ``guardians`` search view (each guardian with their children);
- the ``oneroster`` demo scenario (a local server over a synthetic district).

``snapkit plugins list`` imports this module, so it imports nothing heavy: the HTTP client,
the CSV reader and the server load inside the factories, when they are used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from snapkit.descriptors import (
    CommandDescriptor,
    DemoDescriptor,
    OracleDescriptor,
    SearchViewDescriptor,
)
from snapkit.markers import hookimpl
from snapkit_oneroster import __version__
from snapkit_oneroster.settings import SECTION, SETTINGS_SCHEMA, TABLE_KEYS, selected_tables

Register = Callable[[Any], None]


def _record_schema(table: str) -> dict[str, Any]:
    """A table's record schema; the schema module loads only when oracles are registered."""
    from snapkit_oneroster.schema import record_json_schema

    return record_json_schema(table)


SUMMARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["source", "tables", "records"],
    "properties": {
        "source": {"enum": ["rest", "csv"]},
        "tables": {"type": "object", "additionalProperties": {"type": "integer"}},
        "records": {"type": "integer", "minimum": 0},
    },
    "additionalProperties": False,
}
"""The payload schema of the ``oneroster`` oracle: what was fetched, never a record value."""


def _table_factory(key: str, config: Any) -> Callable[[Mapping[str, Any]], Any]:
    def factory(settings: Mapping[str, Any]) -> Any:
        from snapkit_oneroster.oracles import TableOracle

        return TableOracle(key, config.plugin_settings("oracle", SECTION), config.root)

    return factory


def _summary_factory(config: Any) -> Callable[[Mapping[str, Any]], Any]:
    def factory(settings: Mapping[str, Any]) -> Any:
        from snapkit_oneroster.oracles import SummaryOracle

        return SummaryOracle(dict(settings).get("source", "rest"))

    return factory


def oracle_descriptors(config: Any) -> list[OracleDescriptor]:
    """The oracles an ``[oracles.oneroster]`` section defines (none without one).

    :param config: the loaded :class:`snapkit.config.Config`, or ``None``.
    """
    if config is None:
        return []
    section = config.settings.get("oracles", {}).get(SECTION)
    if section is None:
        return []
    source = section.get("source", "rest")
    tables = selected_tables(section)
    found: list[OracleDescriptor] = [
        OracleDescriptor(
            key=key,
            version=__version__,
            factory=_table_factory(key, config),
            description=f"OneRoster {TABLE_KEYS[key]} over {source} (settings: "
            f"[oracles.{SECTION}])",
            payload_schema=_record_schema(TABLE_KEYS[key]),
            records=True,
            key_column="sourcedId",
        )
        for key in tables
    ]
    found.append(
        OracleDescriptor(
            key=SECTION,
            version=__version__,
            factory=_summary_factory(config),
            settings_schema=SETTINGS_SCHEMA,
            description="a whole OneRoster district: requires every table oracle; records "
            "a fetch summary",
            requires=tables,
            payload_schema=SUMMARY_SCHEMA,
        )
    )
    return found


@hookimpl
def snapkit_register_oracles(register: Register, config: Any) -> None:
    """Register the table oracles and the ``oneroster`` summary oracle, when configured."""
    for descriptor in oracle_descriptors(config):
        register(descriptor)


def _command(settings: Mapping[str, Any]) -> Any:
    from snapkit_oneroster.cli import oneroster

    return oneroster


@hookimpl
def snapkit_register_commands(register: Register) -> None:
    """Register ``snapkit oneroster`` (serve, export-csv, layout)."""
    register(
        CommandDescriptor(
            key="oneroster",
            version=__version__,
            factory=_command,
            description="OneRoster server, CSV export, daily layout view",
        )
    )


def _guardians(settings: Mapping[str, Any]) -> Any:
    from snapkit_oneroster.views import GuardiansView

    return GuardiansView()


@hookimpl
def snapkit_register_search_views(register: Register) -> None:
    """Register the ``guardians`` view: parents and guardians with their children."""
    register(
        SearchViewDescriptor(
            key="guardians",
            table="users",
            version=__version__,
            factory=_guardians,
            description="guardians with their children (via agents)",
        )
    )


def _demo(settings: Mapping[str, Any]) -> Any:
    from snapkit_oneroster.demo import OneRosterDemo

    return OneRosterDemo(settings)


@hookimpl
def snapkit_register_demos(register: Register) -> None:
    """Register the OneRoster demo: a local server over a synthetic district."""
    register(
        DemoDescriptor(
            key="oneroster",
            version=__version__,
            factory=_demo,
            priority=10,
            description="a school district served over OneRoster 1.1 REST",
        )
    )
