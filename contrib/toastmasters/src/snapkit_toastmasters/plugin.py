"""The snapkit entry point of Toastmasters (``[project.entry-points.snapkit] toastmasters``).

What it registers:

- ``tm_metadata`` (the collector: fetches every export, checks it, returns the metadata), one
  record oracle per table (``tm_districts``, ``tm_divisions``, ``tm_areas``, ``tm_clubs``,
  ``tm_district_statistics``) and ``toastmasters``, which requires them all -- so that an
  ``[oracles.toastmasters]`` section makes ``snapkit refresh`` fetch every configured
  district;
- the projections ``district_ranking`` and ``club_health``, and the datasets of the
  ``toastmasters`` export profile;
- the ``snapkit toastmasters`` command group (``serve``);
- the ``toastmasters`` demo scenario (a local dashboard).

``snapkit plugins list`` imports this module, so it imports nothing heavy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from snapkit.descriptors import (
    CommandDescriptor,
    DemoDescriptor,
    OracleDescriptor,
    ProjectionDescriptor,
)
from snapkit.markers import hookimpl
from snapkit_toastmasters import __version__
from snapkit_toastmasters.datasets import DATASETS
from snapkit_toastmasters.schema import KEY_COLUMNS, METADATA_SCHEMA, SUMMARY_SCHEMA, TABLE_SCHEMAS
from snapkit_toastmasters.settings import METADATA, SECTION, SETTINGS_SCHEMA, TABLE_ORACLES

Register = Callable[[Any], None]


def _metadata_factory(config: Any) -> Callable[[Mapping[str, Any]], Any]:
    def factory(settings: Mapping[str, Any]) -> Any:
        from snapkit.errors import OracleError
        from snapkit_toastmasters.oracles import MetadataOracle

        if config is None or SECTION not in config.settings.get("oracles", {}):
            raise OracleError(
                f"{METADATA!r} has no settings",
                hint=f"add an [oracles.{SECTION}] section with base_url, "
                "districts and program_year",
            )
        return MetadataOracle(config.plugin_settings("oracle", SECTION))

    return factory


def _table_factory(table: str) -> Callable[[Mapping[str, Any]], Any]:
    def factory(settings: Mapping[str, Any]) -> Any:
        from snapkit_toastmasters.oracles import TableOracle

        return TableOracle(table)

    return factory


def _summary_factory(settings: Mapping[str, Any]) -> Any:
    from snapkit_toastmasters.oracles import SummaryOracle

    return SummaryOracle()


def oracle_descriptors(config: Any) -> list[OracleDescriptor]:
    """The collector, the table oracles and ``toastmasters``; they read the
    ``[oracles.toastmasters]`` section of ``config`` (the loaded configuration, or ``None``)
    when they run. A refresh runs them when that section exists (``snapkit refresh`` runs
    every oracle with a section) or when ``refresh.oracles`` names them."""
    found = [
        OracleDescriptor(
            key=METADATA,
            version=__version__,
            factory=_metadata_factory(config),
            payload_schema=METADATA_SCHEMA,
            description="fetches and checks every export of [oracles.toastmasters]; the metadata",
        )
    ]
    found += [
        OracleDescriptor(
            key=key,
            version=__version__,
            factory=_table_factory(table),
            requires=(METADATA,),
            payload_schema=TABLE_SCHEMAS[table],
            records=True,
            key_column=KEY_COLUMNS[table],
            part_name=table,
            description=f"Toastmasters {table.replace('_', ' ')}",
        )
        for key, table in TABLE_ORACLES.items()
    ]
    found.append(
        OracleDescriptor(
            key=SECTION,
            version=__version__,
            factory=_summary_factory,
            settings_schema=SETTINGS_SCHEMA,
            requires=tuple(TABLE_ORACLES),
            payload_schema=SUMMARY_SCHEMA,
            description="every configured district: requires every table oracle; rows per table",
        )
    )
    return found


@hookimpl
def snapkit_register_oracles(register: Register, config: Any) -> None:
    """Register the collector, the table oracles and ``toastmasters``."""
    for descriptor in oracle_descriptors(config):
        register(descriptor)


def _derive(name: str) -> Callable[[Mapping[str, Any]], Callable[[Any], Any]]:
    def factory(settings: Mapping[str, Any]) -> Callable[[Any], Any]:
        derive: Callable[[Any], Any] = getattr(
            importlib.import_module("snapkit_toastmasters.projections"), name
        )
        return derive

    return factory


PROJECTIONS: tuple[ProjectionDescriptor, ...] = (
    ProjectionDescriptor(
        key="district_ranking",
        version=__version__,
        factory=_derive("derive_district_ranking"),
        requires=("tm_district_statistics", "tm_districts"),
        description="districts ranked by membership change",
    ),
    ProjectionDescriptor(
        key="club_health",
        version=__version__,
        factory=_derive("derive_club_health"),
        requires=("tm_clubs",),
        description="distinguished progress and risk per club (filter member_threshold)",
    ),
)


@hookimpl
def snapkit_register_projections(register: Register) -> None:
    """Register ``district_ranking`` and ``club_health``."""
    for descriptor in PROJECTIONS:
        register(descriptor)


@hookimpl
def snapkit_register_datasets(register: Register) -> None:
    """Register the datasets of the ``toastmasters`` export profile."""
    for descriptor in DATASETS:
        register(descriptor)


def _command(settings: Mapping[str, Any]) -> Any:
    from snapkit_toastmasters.cli import toastmasters

    return toastmasters


@hookimpl
def snapkit_register_commands(register: Register) -> None:
    """Register ``snapkit toastmasters`` (serve)."""
    register(
        CommandDescriptor(
            key="toastmasters",
            version=__version__,
            factory=_command,
            description="a local Toastmasters dashboard with faults",
        )
    )


def _demo(settings: Mapping[str, Any]) -> Any:
    from snapkit_toastmasters.demo import ToastmastersDemo

    return ToastmastersDemo(settings)


@hookimpl
def snapkit_register_demos(register: Register) -> None:
    """Register the Toastmasters demo: three districts behind a local dashboard."""
    register(
        DemoDescriptor(
            key="toastmasters",
            version=__version__,
            factory=_demo,
            priority=5,
            description="district statistics from a Toastmasters dashboard",
        )
    )
