"""Descriptors: what a plugin registers for each kind (docs/plugin-kinds.md).

A descriptor says what an implementation is — its ``key`` (unique within its kind), its
``version``, the JSON Schema of its settings, and a ``factory`` that builds it from validated
settings — without building it. Listing and validation read descriptors only; the engine calls
``factory`` when it needs the real thing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from attrs import field, fields, frozen

from snapkit.identifiers import check_name

Factory = Callable[[Mapping[str, Any]], Any]
FailurePolicy = Literal["fail_closed", "allow_partial_with_manifest"]


def _key(_instance: object, _attribute: Any, value: str) -> None:
    check_name(value, "key")


def _names(value: Any) -> tuple[str, ...]:
    return tuple(value or ())


@frozen(kw_only=True, repr=False, eq=False)
class Descriptor:
    """Fields every kind shares.

    :param key: stable identifier, unique within the kind; used in config and snapshots.
    :param version: the implementation's version; recorded in snapshots and results.
    :param factory: ``factory(settings) -> implementation``; called only when needed.
    :param settings_schema: JSON Schema of the settings ``factory`` accepts, or ``None``.
    :param description: one line for listings.
    """

    kind: str = field(init=False, default="")
    key: str = field(validator=_key)
    version: str = "1"
    factory: Factory
    settings_schema: Mapping[str, Any] | None = None
    description: str = ""

    # One ``__repr__``, ``__eq__`` and ``__hash__`` for every kind, written once here rather
    # than generated and compiled by attrs for each of the eleven classes (which cost several
    # milliseconds of every command's start-up). They behave as the generated ones: the class
    # name and every field; equal when of the same class with equal fields; hashed on both.

    def __repr__(self) -> str:
        values = ", ".join(f"{a.name}={getattr(self, a.name)!r}" for a in fields(type(self)))
        return f"{type(self).__qualname__}({values})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, a.name) == getattr(other, a.name) for a in fields(type(self)))

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash((type(self), *(getattr(self, a.name) for a in fields(type(self)))))


@frozen(kw_only=True, repr=False, eq=False)
class OracleDescriptor(Descriptor):
    """An oracle: loads one payload for a scope.

    ``factory(settings)`` returns an object with ``load(call: OracleCall)``, which returns a
    JSON value (``records=False``) or an iterable of record dicts (``records=True``).

    :param requires: keys of oracles whose results this one needs first.
    :param optional: a failure makes the snapshot ``partial`` instead of ``failed``.
    :param payload_schema: JSON Schema of the payload, or of each record when ``records``.
    :param records: the payload is a record stream, stored as a part named ``part_name``.
    :param key_column: the record field that identifies a row (for diffs and search).
    :param part_name: the part's name; defaults to the key.
    :param transient_errors: exception types worth retrying besides
        :class:`snapkit.errors.TransientOracleError`.
    """

    kind: str = field(init=False, default="oracle")
    requires: tuple[str, ...] = field(default=(), converter=_names)
    optional: bool = False
    payload_schema: Mapping[str, Any] | None = None
    records: bool = False
    key_column: str | None = None
    part_name: str | None = None
    transient_errors: tuple[type[BaseException], ...] = ()

    @property
    def table(self) -> str:
        """The name of the part this oracle's records are stored under."""
        return self.part_name or self.key


@frozen(kw_only=True, repr=False, eq=False)
class CacheBackendDescriptor(Descriptor):
    """A cache backend: read-through storage of oracle results (keys, TTL, capacity)."""

    kind: str = field(init=False, default="cache_backend")


@frozen(kw_only=True, repr=False, eq=False)
class ProjectionDescriptor(Descriptor):
    """A projection: derives a view from a snapshot and the scope's filters.

    ``factory(settings)`` returns a callable ``derive(inputs: ProjectionInputs) -> value``.

    :param requires: oracle keys without which the projection is ``unavailable``.
    :param optional: oracle keys whose absence makes the result ``partial``.
    """

    kind: str = field(init=False, default="projection")
    requires: tuple[str, ...] = field(default=(), converter=_names)
    optional: tuple[str, ...] = field(default=(), converter=_names)


@frozen(kw_only=True, repr=False, eq=False)
class SerializerDescriptor(Descriptor):
    """A serializer: writes rows into a file format as a stream.

    ``factory(settings)`` returns an object with ``write(rows, columns, stream) -> int``
    (the number of rows written).
    """

    kind: str = field(init=False, default="serializer")
    extension: str = ""
    mediatype: str = "application/octet-stream"


@frozen(kw_only=True, repr=False, eq=False)
class DatasetDescriptor(Descriptor):
    """A dataset: one file of an export, built from projections.

    ``factory(settings)`` returns a callable ``rows(projections) -> iterable of row dicts``.
    """

    kind: str = field(init=False, default="dataset")
    file_name: str
    columns: tuple[str, ...] = field(converter=_names)
    requires: tuple[str, ...] = field(default=(), converter=_names)
    optional: tuple[str, ...] = field(default=(), converter=_names)
    serializer: str = "csv"
    policy: FailurePolicy = "fail_closed"
    profiles: tuple[str, ...] = field(default=(), converter=_names)


@frozen(kw_only=True, repr=False, eq=False)
class StoreDescriptor(Descriptor):
    """A snapshot store: persists snapshots, keeps the current pointer, lists, prunes, locks.

    ``factory(settings)`` returns a :class:`snapkit.store.SnapshotStore`.
    """

    kind: str = field(init=False, default="store")


@frozen(kw_only=True, repr=False, eq=False)
class DiffSectionDescriptor(Descriptor):
    """A diff section: computes one named section of a diff between two snapshots.

    ``factory(settings)`` returns an object with ``applies(a, b) -> bool`` and
    ``compute(context) -> DiffSection``. ``order`` sorts sections in the output (then key).
    """

    kind: str = field(init=False, default="diff_section")
    order: int = 100


@frozen(kw_only=True, repr=False, eq=False)
class CommandDescriptor(Descriptor):
    """A CLI command group a plugin adds under ``snapkit`` (e.g. ``snapkit oneroster``).

    ``factory(settings)`` returns a :class:`click.Command`; it is called only when the command
    is invoked, so plugin commands never slow down ``snapkit --help``.
    """

    kind: str = field(init=False, default="command")


@frozen(kw_only=True, repr=False, eq=False)
class DemoDescriptor(Descriptor):
    """A demo scenario for ``snapkit demo``: a data source to refresh, change and refresh again.

    ``factory(settings)`` returns a :class:`snapkit.demo.DemoScenario`; ``settings`` holds
    ``size`` (how many records to start with). The scenario with the highest ``priority``
    runs when the user names none.
    """

    kind: str = field(init=False, default="demo")
    priority: int = 0


@frozen(kw_only=True, repr=False, eq=False)
class SearchViewDescriptor(Descriptor):
    """A search view: a named way to search one table and show related rows.

    ``factory(settings)`` returns an object with ``accepts(record) -> bool`` (which rows of
    ``table`` the view holds) and ``expand(rows, lookup) -> rows`` (adds related rows;
    ``lookup(table, field, values)`` returns ``{value: [records]}`` from the same snapshot).
    ``snapkit search KEY QUERY`` searches the view as if it were a table.
    """

    kind: str = field(init=False, default="search_view")
    table: str


KINDS: dict[str, type[Descriptor]] = {
    "oracle": OracleDescriptor,
    "cache_backend": CacheBackendDescriptor,
    "projection": ProjectionDescriptor,
    "serializer": SerializerDescriptor,
    "dataset": DatasetDescriptor,
    "store": StoreDescriptor,
    "diff_section": DiffSectionDescriptor,
    "command": CommandDescriptor,
    "demo": DemoDescriptor,
    "search_view": SearchViewDescriptor,
}
"""Every kind by name, with the descriptor class its registration hook accepts."""
