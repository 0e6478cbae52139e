"""Registers the instructor dashboard (entry point ``instructor-dashboard``).

Oracles ``dashboard_class`` (a payload), ``dashboard_roster``, ``dashboard_line_items`` and
``dashboard_results`` (records); projections ``progress``, ``proficiency``,
``student_support``, ``assessments`` and ``summary``; seven CSV datasets in the export profile
``instructor_dashboard``. Importing this module is cheap: the OneRoster client loads when an
oracle runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from snapkit.descriptors import OracleDescriptor, ProjectionDescriptor
from snapkit.markers import hookimpl
from snapkit_instructor_dashboard import keys
from snapkit_instructor_dashboard.datasets import DATASETS
from snapkit_instructor_dashboard.oracles import (
    CLASS_SCHEMA,
    LINE_ITEM_SCHEMA,
    RESULT_SCHEMA,
    ROSTER_SCHEMA,
    SETTINGS_SCHEMA,
    ClassOracle,
    LineItemsOracle,
    OneRosterSource,
    ResultsOracle,
    RosterOracle,
)

VERSION = "0.1.0"

Register = Callable[[Any], None]


def _factory(kind: type, config: Any) -> Callable[[Mapping[str, Any]], Any]:
    """Build an oracle from its own settings, or from ``[oracles.dashboard_class]``'s."""

    def factory(settings: Mapping[str, Any]) -> Any:
        merged: dict[str, Any] = {}
        if config is not None:
            merged.update(config.plugin_settings("oracle", keys.CLASS))
        merged.update(settings)
        return kind(OneRosterSource(merged))

    return factory


def oracle_descriptors(config: Any = None) -> tuple[OracleDescriptor, ...]:
    """The four oracles (``config`` supplies the shared settings section)."""

    def oracle(
        key: str,
        kind: Any,
        schema: Mapping[str, Any],
        description: str,
        key_column: str | None = None,
    ) -> OracleDescriptor:
        return OracleDescriptor(
            key=key,
            factory=_factory(kind, config),
            version=VERSION,
            settings_schema=SETTINGS_SCHEMA,
            payload_schema=schema,
            records=key_column is not None,
            key_column=key_column,
            description=description,
        )

    return (
        oracle(keys.CLASS, ClassOracle, CLASS_SCHEMA, "the class record and grading category"),
        oracle(
            keys.ROSTER, RosterOracle, ROSTER_SCHEMA, "the class's students", key_column="sourcedId"
        ),
        oracle(
            keys.LINE_ITEMS,
            LineItemsOracle,
            LINE_ITEM_SCHEMA,
            "the class's line items (in the category)",
            key_column="sourcedId",
        ),
        oracle(
            keys.RESULTS,
            ResultsOracle,
            RESULT_SCHEMA,
            "results of those line items, a record per line item",
            key_column="lineItem",
        ),
    )


def _derive(name: str) -> Callable[[Mapping[str, Any]], Callable[[Any], Any]]:
    """Return a projection factory that returns ``projections.<name>``.

    The projections module loads when the factory is first called: it needs the kernel's
    projection engine, which listing plugins never loads.
    """

    def factory(settings: Mapping[str, Any]) -> Callable[[Any], Any]:
        derive: Callable[[Any], Any] = getattr(
            importlib.import_module("snapkit_instructor_dashboard.projections"), name
        )
        return derive

    return factory


def _projection(
    key: str, derive: str, description: str, optional: tuple[str, ...] = ()
) -> ProjectionDescriptor:
    return ProjectionDescriptor(
        key=key,
        version=VERSION,
        factory=_derive(derive),
        requires=keys.GRADEBOOK,
        optional=optional,
        description=description,
    )


PROJECTIONS: tuple[ProjectionDescriptor, ...] = (
    _projection(keys.PROGRESS, "derive_progress", "completion per line item and per student"),
    _projection(
        keys.PROFICIENCY, "derive_proficiency", "mean score fraction and level per student"
    ),
    _projection(
        keys.STUDENT_SUPPORT,
        "derive_student_support",
        "support category and inactivity per student",
    ),
    _projection(
        keys.ASSESSMENTS, "derive_assessments", "score statistics and distribution per line item"
    ),
    _projection(
        keys.SUMMARY,
        "derive_summary",
        "class, date, filters and course metrics",
        optional=(keys.CLASS,),
    ),
)
"""The five projections."""


@hookimpl
def snapkit_register_oracles(register: Register, config: Any) -> None:
    """Register the four OneRoster oracles."""
    for descriptor in oracle_descriptors(config):
        register(descriptor)


@hookimpl
def snapkit_register_projections(register: Register) -> None:
    """Register the five projections."""
    for descriptor in PROJECTIONS:
        register(descriptor)


@hookimpl
def snapkit_register_datasets(register: Register) -> None:
    """Register the seven datasets of the ``instructor_dashboard`` profile."""
    for descriptor in DATASETS:
        register(descriptor)


class ViewsPlugin:
    """The projections and datasets alone, for hosts (and tests) that bring their own oracles
    under the same keys: ``manager.register(ViewsPlugin())``."""

    @hookimpl
    def snapkit_register_projections(self, register: Register) -> None:
        """Register the five projections."""
        snapkit_register_projections(register)

    @hookimpl
    def snapkit_register_datasets(self, register: Register) -> None:
        """Register the seven datasets."""
        snapkit_register_datasets(register)
