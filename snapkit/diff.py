"""The diff engine (docs/diff.md): what changed between two snapshots, deterministically.

Each diff section is a plugin (``snapkit_register_diff_sections``). Its implementation says
which pairs of snapshots it ``applies`` to and ``compute``\\ s one :class:`DiffSection` from a
:class:`DiffContext` that holds both manifests and reads parts from the store. The engine
runs every applicable section (or the ones asked for), then normalizes every section's data
once, the same way for all sections:

- mapping keys sorted (and required to be strings);
- sets (id lists) written as sorted lists;
- ``-0.0`` written as ``0.0``; NaN and infinity refused with :class:`DiffError`;
- numeric deltas are made with :func:`delta`: ``round(to - from, 4)`` on the unrounded
  values, with a missing value counting as zero.

The result is built through :func:`snapkit.convert.to_json` and
:func:`snapkit.canonical.canonical_bytes`, so the same pair always gives byte-identical
canonical JSON, whatever the hash seed or the order of the input. Diffs only read: no
manifest or part is ever written.

Typical use::

    from snapkit.diff import compute_diff, diff_bytes

    diff = compute_diff(project.manager, project.store, project.resolve("current~1"),
                        project.resolve("current"))
    print(diff_bytes(diff).decode())
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, nullcontext
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, runtime_checkable

import attrs
from attrs import evolve, field, frozen

from snapkit import events
from snapkit.canonical import canonical_bytes, canonical_str, loads, sha256_hex
from snapkit.contracts import Diff, DiffSection, PartRef, SnapshotManifest
from snapkit.convert import from_json, to_json
from snapkit.errors import DiffError, SnapkitError, UnknownKeyError, UsageError

if TYPE_CHECKING:
    from snapkit.store import ChunkTable

__all__ = [
    "FLOAT_PLACES",
    "DiffContext",
    "MemoryParts",
    "PartLines",
    "PartSource",
    "compute_diff",
    "delta",
    "diff_bytes",
    "diff_from_bytes",
    "diff_project",
    "diff_schema",
    "is_number",
    "normalize",
    "sort_key",
]

FLOAT_PLACES = 4
"""Decimal places every float delta is rounded to (docs/diff.md)."""

CHUNK = 1 << 22
"""Bytes read from a part at a time by :meth:`DiffContext.line_batches`."""


# -- reading parts ---------------------------------------------------------------------------


@runtime_checkable
class PartSource(Protocol):
    """Where a diff reads parts from: any :class:`snapkit.store.SnapshotStore` fits.

    Only :meth:`iter_part_lines` is required; a source that also has ``open_part`` (as stores
    do) is read in large chunks, which is much faster for big tables.
    """

    def iter_part_lines(self, sha256: str) -> Iterator[bytes]:
        """Yield a part's lines (each a canonical JSON record ending in ``\\n``)."""
        ...


class MemoryParts:
    """Parts held in memory, by SHA-256: a :class:`PartSource` for tests and small tools.

    Example::

        parts = MemoryParts()
        ref = parts.add("users", [{"id": 1, "name": "Ada"}], key_column="id")
        manifest = SnapshotManifest(..., parts=(ref,))
    """

    key = "memory"

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def add(
        self,
        name: str,
        records: Iterable[Mapping[str, Any]],
        *,
        oracle: str | None = None,
        key_column: str | None = None,
    ) -> PartRef:
        """Store ``records`` as a canonical JSON Lines part and return its :class:`PartRef`."""
        lines = [canonical_bytes(dict(record)) + b"\n" for record in records]
        data = b"".join(lines)
        sha = sha256_hex(data)
        self._data[sha] = data
        return PartRef(name, sha, len(lines), len(data), oracle or name, key_column)

    def put(self, data: bytes) -> str:
        """Store raw part bytes as they are (even damaged ones); return their SHA-256."""
        sha = sha256_hex(data)
        self._data[sha] = data
        return sha

    def replace(self, sha256: str, data: bytes) -> None:
        """Overwrite the bytes stored under ``sha256`` (tests use it to simulate damage)."""
        self._data[sha256] = data

    def __contains__(self, sha256: object) -> bool:
        return sha256 in self._data

    def _bytes(self, sha256: str) -> bytes:
        from snapkit.errors import CorruptSnapshotError

        try:
            data = self._data[sha256]
        except KeyError:
            raise CorruptSnapshotError(
                f"part {sha256[:12]} is missing", hint="the snapshot references a part that is gone"
            ) from None
        if sha256_hex(data) != sha256:
            raise CorruptSnapshotError(f"part {sha256[:12]} does not match its SHA-256")
        return data

    def open_part(self, sha256: str) -> AbstractContextManager[BinaryIO]:
        """Open a part for reading its bytes (checked against its SHA-256 first)."""
        return nullcontext(io.BytesIO(self._bytes(sha256)))

    def iter_part_lines(self, sha256: str) -> Iterator[bytes]:
        """Yield a part's lines, each ending in ``\\n``."""
        yield from io.BytesIO(self._bytes(sha256))


# -- normalization -----------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    """Return whether ``value`` is a JSON number (an int or float, but not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def delta(from_value: Any, to_value: Any, places: int = FLOAT_PLACES) -> int | float:
    """Return the change ``to - from`` of two numbers, as the diff writes it.

    A missing value (``None``) counts as zero. Integers give an exact integer; when either
    side is a float the difference of the *unrounded* values is rounded once to ``places``
    decimals and ``-0.0`` becomes ``0.0``. Reversing the arguments negates the result.

    :raises DiffError: if a side is not a number, or a side or the result is not finite.
    """
    old = 0 if from_value is None else from_value
    new = 0 if to_value is None else to_value
    if not is_number(old) or not is_number(new):
        raise DiffError(
            f"a delta needs two numbers, got {type(old).__name__} and {type(new).__name__}"
        )
    if isinstance(old, int) and isinstance(new, int):
        return new - old
    difference = float(new) - float(old)
    if not math.isfinite(difference):
        raise DiffError(
            "a delta is not a finite number (NaN or infinity)",
            hint="diffs hold finite numbers only",
        )
    rounded = round(difference, places)
    return 0.0 if rounded == 0 else rounded


def sort_key(value: Any) -> tuple[int, Any, str]:
    """Return a total, deterministic sort key for ids of any JSON type.

    Numbers sort numerically before strings; strings sort by code point; anything else sorts
    by its canonical JSON text after both.
    """
    kind = type(value)
    if kind is str:
        return (1, value, "")
    if kind is int or (kind is float and math.isfinite(value)):
        return (0, value, repr(value))  # repr is the canonical JSON of an int or finite float
    if is_number(value):
        return (0, value, canonical_str(value))
    if isinstance(value, str):
        return (1, value, "")
    return (2, "", canonical_str(value))


def normalize(value: Any, where: str = "$") -> Any:
    """Return ``value`` as the plain, canonical data a diff holds.

    Mappings get sorted string keys, tuples become lists, sets and frozensets become lists
    sorted by :func:`sort_key`, ``-0.0`` becomes ``0.0`` and attrs contracts their JSON form.

    :param where: the path named in error messages.
    :raises DiffError: for NaN, infinity, a non-string key or a value JSON cannot hold.
    """
    try:
        return _plain(value)
    except _Unusual:  # walk it again, naming where each value is (for the error message)
        return _normalize(value, where)


class _Unusual(Exception):
    """A value :func:`_plain` leaves to :func:`_normalize`: not plain JSON, or refused."""


def _plain(value: Any) -> Any:
    """:func:`normalize` of plain JSON data (dicts with string keys, lists, tuples, finite
    numbers, strings, booleans, ``None``), without tracking paths; raises :class:`_Unusual`
    for anything else. Strings, integers, booleans and ``None`` inside are taken as they are
    without a call."""
    kind = type(value)
    if kind is dict:
        out = {}
        for key in sorted(value):
            if type(key) is not str:
                raise _Unusual
            item = value[key]
            inner = type(item)
            out[key] = (
                item
                if inner is str or inner is int or inner is bool or item is None
                else _plain(item)
            )
        return out
    if kind is list or kind is tuple:
        return [
            item
            if type(item) is str or type(item) is int or type(item) is bool or item is None
            else _plain(item)
            for item in value
        ]
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if not math.isfinite(value):
            raise _Unusual
        return 0.0 if value == 0 else value
    raise _Unusual


def _normalize(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DiffError(
                f"diff data at {where} is not a finite number (NaN or infinity)",
                hint="diffs hold finite numbers only",
            )
        return 0.0 if value == 0 else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in sorted(value, key=_key_order(where)):
            out[key] = _normalize(value[key], f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_normalize(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [_normalize(item, f"{where}[]") for item in value]
        return sorted(items, key=sort_key)
    if attrs.has(type(value)):
        return _normalize(to_json(value), where)
    raise DiffError(f"diff data at {where} is a {type(value).__name__}, which JSON cannot hold")


def _key_order(where: str) -> Callable[[Any], str]:
    def check(key: Any) -> str:
        if not isinstance(key, str):
            raise DiffError(
                f"diff data at {where} has a {type(key).__name__} key; keys must be strings"
            )
        return key

    return check


def _plain_settings(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


# -- the context sections get -------------------------------------------------------------------


@frozen
class DiffContext:
    """What a section's ``compute`` gets: both snapshots, where their parts are, the limits.

    :param a: the snapshot diffed *from* (the older one, usually).
    :param b: the snapshot diffed *to*.
    :param parts: reads part bytes (the store).
    :param max_items: the most items a section lists per list of changes; ``None``: no limit.
    :param settings: the section's settings from the config (``[diff_sections.<key>]``).
    """

    a: SnapshotManifest
    b: SnapshotManifest
    parts: PartSource
    max_items: int | None = None
    settings: Mapping[str, Any] = field(factory=dict, converter=_plain_settings)

    @property
    def from_id(self) -> str:
        """The id of snapshot ``a``."""
        return self.a.id

    @property
    def to_id(self) -> str:
        """The id of snapshot ``b``."""
        return self.b.id

    def lines(self, part: PartRef) -> Iterator[bytes]:
        """Yield the lines of ``part`` (canonical JSON records, each ending in ``\\n``)."""
        return self.parts.iter_part_lines(part.sha256)

    def records(self, part: PartRef) -> Iterator[dict[str, Any]]:
        """Yield the decoded records of ``part``, one at a time."""
        decode = json.loads
        for line in self.lines(part):
            yield decode(line)

    def line_batches(self, part: PartRef, chunk: int = CHUNK) -> PartLines:
        """Return the lines of ``part`` in batches, *without* their newlines: a
        :class:`PartLines`, which the table diff (:func:`snapkit.tablediff.diff_tables`) also
        asks for the part's chunks when the store keeps parts as chunks.

        Iterating it reads the part in large blocks when the source can (no Python call per
        line). Every byte is checked as it streams, whatever the store does: the part against
        its SHA-256 and size, or each chunk read against its own; a damaged part ends the
        diff with :class:`CorruptSnapshotError` instead of a wrong answer.
        """
        return PartLines(self.parts, part, chunk)

    def limit(self, items: Iterable[Any]) -> tuple[list[Any], bool]:
        """Return at most ``max_items`` of ``items`` and whether some were left out."""
        listed = list(items)
        if self.max_items is None or len(listed) <= self.max_items:
            return listed, False
        return listed[: self.max_items], True


class _PartCheck:
    """Hashes a part's bytes as they are read and compares them with its reference."""

    def __init__(self, part: PartRef) -> None:
        self.part = part
        self.hash = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes) -> None:
        self.hash.update(data)
        self.size += len(data)

    def finish(self) -> None:
        if self.size != self.part.bytes or self.hash.hexdigest() != self.part.sha256:
            from snapkit.errors import CorruptSnapshotError

            raise CorruptSnapshotError(
                f"part {self.part.sha256[:12]} ({self.part.name}) does not match its SHA-256 "
                "or size",
                hint="run 'snapkit snapshots verify'",
            )


class PartLines:
    """The lines of one part in batches (iterate it once), and its chunks if it has them.

    A :class:`snapkit.tablediff.ChunkedLines`: :meth:`chunks` and :meth:`chunk_batches` let
    the table diff read only the chunks one side lacks, when the store keeps parts as chunks
    (:class:`snapkit.store.ChunkedPartReader`).
    """

    def __init__(self, parts: PartSource, part: PartRef, chunk: int = CHUNK) -> None:
        self.parts = parts
        self.part = part
        self.chunk = chunk
        self._batches: Iterator[list[bytes]] | None = None
        self._chunks: ChunkTable | None = None

    def __iter__(self) -> Iterator[list[bytes]]:
        return self

    def __next__(self) -> list[bytes]:
        if self._batches is None:
            self._batches = self._read()
        return next(self._batches)

    def _read(self) -> Iterator[list[bytes]]:
        check = _PartCheck(self.part)
        from snapkit.store import PartBlockReader

        if isinstance(self.parts, PartBlockReader):
            blocks = self.parts.iter_part_blocks(self.part.sha256, verify=False)
        elif hasattr(self.parts, "open_part"):
            blocks = self._opened()
        else:
            yield from self._line_by_line(check)
            return
        try:
            yield from _split_blocks(blocks, check.update, self.chunk)
        finally:
            close = getattr(blocks, "close", None)
            if close is not None:  # a generator: release the part file now, even when stopped
                close()
        check.finish()

    def _opened(self) -> Iterator[bytes]:
        with self.parts.open_part(self.part.sha256) as stream:  # type: ignore[attr-defined]
            while data := stream.read(self.chunk):
                yield data

    def _line_by_line(self, check: _PartCheck) -> Iterator[list[bytes]]:
        batch: list[bytes] = []
        for line in self.parts.iter_part_lines(self.part.sha256):
            check.update(line)
            batch.append(line.rstrip(b"\n"))
            if len(batch) >= 50_000:
                yield batch
                batch = []
        check.finish()
        if batch:
            yield batch

    def chunks(self) -> ChunkTable | None:
        """The part's chunks in table order, or ``None`` if the store keeps it whole (or does
        not chunk parts at all).

        :raises CorruptSnapshotError: if the chunk list does not add up to the part (its bytes
            and rows), or the store finds it damaged.
        """
        from snapkit.store import ChunkedPartReader

        if self._chunks is None and isinstance(self.parts, ChunkedPartReader):
            listed = self.parts.part_chunks(self.part.sha256)
            if listed is not None:
                if sum(listed.sizes) != self.part.bytes or sum(listed.rows) != self.part.records:
                    raise _corrupt(self.part, "its chunk list does not add up to it")
                self._chunks = listed
        return self._chunks

    def chunk_batches(self, positions: Sequence[int]) -> Iterator[list[bytes]]:
        """The lines of the part's chunks at ``positions`` (ascending indexes into
        :meth:`chunks`), in batches, without their newlines. Each chunk is checked against its
        SHA-256, size and row count before its lines are handed out."""
        chunks = self.chunks()
        if chunks is None:
            raise ValueError(f"part {self.part.sha256[:12]} is not stored as chunks")
        if not positions:
            return
        reader = self.parts.iter_chunks(  # type: ignore[attr-defined]
            self.part.sha256, list(positions), verify=False
        )
        last = len(chunks) - 1
        held: list[bytes] = []
        size = 0
        with closing(reader):
            read = 0
            sizes, rows = chunks.sizes, chunks.rows
            for position, data in zip(positions, reader):
                ended = data.endswith(b"\n")
                if (
                    len(data) != sizes[position]
                    or data.count(b"\n") + (not ended) != rows[position]
                    or (not ended and position != last)  # only a part's end may lack one
                    or hashlib.sha256(data).digest() != chunks.digest(position)
                ):
                    raise _corrupt(
                        self.part, f"its chunk {chunks.digest(position).hex()[:12]} does not match"
                    )
                read += 1
                held.append(data)
                size += len(data)
                if size >= self.chunk:
                    yield _lines_of(held)
                    held, size = [], 0
            if read != len(positions):
                raise _corrupt(self.part, "a chunk of it is missing")
        if held:
            yield _lines_of(held)


def _lines_of(chunks: list[bytes]) -> list[bytes]:
    """The lines of whole-line chunks, without their newlines."""
    lines = b"".join(chunks).split(b"\n")
    if not lines[-1]:
        lines.pop()
    return lines


def _split_blocks(
    blocks: Iterable[bytes], update: Callable[[bytes], None], size: int
) -> Iterator[list[bytes]]:
    """Lines of canonical JSON Lines bytes given in blocks that end anywhere, in batches of
    about ``size`` bytes; each block is passed to ``update`` (the check) first."""
    rest = b""
    batch: list[bytes] = []
    held = 0
    for data in blocks:
        update(data)
        lines = data.split(b"\n")
        if rest:
            lines[0] = rest + lines[0]
        rest = lines.pop()
        if batch:
            batch += lines
        else:
            batch = lines
        held += len(data)
        if held >= size:
            yield batch
            batch, held = [], 0
    if rest:
        batch.append(rest)
    if batch:
        yield batch


def _corrupt(part: PartRef, what: str) -> SnapkitError:
    from snapkit.errors import CorruptSnapshotError

    return CorruptSnapshotError(
        f"part {part.sha256[:12]} ({part.name}): {what}", hint="run 'snapkit snapshots verify'"
    )


# -- the engine ----------------------------------------------------------------------------------


def compute_diff(
    manager: Any,
    store: PartSource,
    a: SnapshotManifest,
    b: SnapshotManifest,
    sections: Sequence[str] | None = None,
    max_items: int | None = None,
    settings: Mapping[str, Mapping[str, Any]] | Callable[[str], Mapping[str, Any]] | None = None,
) -> Diff:
    """Compute the diff from snapshot ``a`` to snapshot ``b``.

    :param manager: the :class:`snapkit.manager.PluginManager` holding the diff sections.
    :param store: where the snapshots' parts are read from (a store or :class:`MemoryParts`).
    :param sections: keys of the sections to run; default: every registered section that
        applies to the pair. A named section that does not apply is an error.
    :param max_items: the most items each list of changes holds (counts stay exact and the
        section is flagged ``truncated``); ``None`` for no limit.
    :param settings: each section's settings, by key (or a function of the key).
    :returns: a :class:`Diff` whose sections are sorted by their ``order``, then key.
    :raises UsageError: for an unknown section key or a negative ``max_items``.
    :raises DiffError: if a section fails or returns data a diff cannot hold.
    """
    if a is None or b is None:
        raise DiffError("a diff needs two snapshots", hint="resolve both references first")
    if max_items is not None and (isinstance(max_items, bool) or max_items < 0):
        raise UsageError(f"max_items must be a non-negative integer, got {max_items!r}")
    started = time.monotonic()
    registry = manager.diff_sections
    chosen = _choose(registry, sections)
    results: list[DiffSection] = []
    for descriptor in chosen:
        implementation = descriptor.factory(_settings_of(settings, descriptor.key))
        applies = getattr(implementation, "applies", None)
        if applies is not None and not applies(a, b):
            if sections is not None:
                raise DiffError(
                    f"diff section {descriptor.key!r} does not apply to these snapshots",
                    hint="leave it out, or diff snapshots it covers",
                )
            continue
        context = DiffContext(a, b, store, max_items, _settings_of(settings, descriptor.key))
        results.append(_run_section(descriptor.key, implementation, context))
    diff = Diff(a.id, b.id, tuple(results))
    changes = sum(s.added + s.removed + s.changed for s in diff.sections)
    manager.emit(
        "snapkit_diff_computed",
        events.DiffComputed(
            a.id,
            b.id,
            tuple(s.name for s in diff.sections),
            changes,
            (time.monotonic() - started) * 1000,
        ),
    )
    return diff


def diff_project(
    project: Any,
    from_ref: str,
    to_ref: str,
    *,
    sections: Sequence[str] | None = None,
    max_items: int | None = None,
) -> Diff:
    """Resolve two references in a :class:`snapkit.project.Project` and diff them.

    References are those :meth:`Project.resolve` takes: an id or unique prefix, ``current``,
    ``current~N``, ``latest`` or a date ``YYYY-MM-DD``. Section settings come from the
    project's ``[diff_sections.<key>]`` tables.

    :raises SnapshotNotFoundError, NoSnapshotError, CorruptSnapshotError: if a reference does
        not name a readable snapshot.
    """
    a = project.resolve(from_ref)
    b = project.resolve(to_ref)

    def settings(key: str) -> Mapping[str, Any]:
        result: Mapping[str, Any] = project.config.plugin_settings("diff_section", key)
        return result

    return compute_diff(
        project.manager,
        project.store,
        a,
        b,
        sections=sections,
        max_items=max_items,
        settings=settings,
    )


def _choose(registry: Any, sections: Sequence[str] | None) -> list[Any]:
    if sections is None:
        chosen = list(registry)
    else:
        chosen = []
        for key in dict.fromkeys(sections):
            try:
                chosen.append(registry.get(key))
            except UnknownKeyError as exc:
                raise UsageError(
                    exc.message.replace("diff_section", "diff section"), hint=exc.hint
                ) from None
    return sorted(chosen, key=lambda d: (d.order, d.key))


def _settings_of(settings: Any, key: str) -> dict[str, Any]:
    if settings is None:
        return {}
    if callable(settings):
        return dict(settings(key) or {})
    return dict(settings.get(key) or {})


def _run_section(key: str, implementation: Any, context: DiffContext) -> DiffSection:
    compute = getattr(implementation, "compute", implementation)
    try:
        section = compute(context)
    except SnapkitError:
        raise
    except Exception as exc:
        from snapkit.errors import describe_exception  # never the message: it can quote rows

        raise DiffError(f"diff section {key!r} failed: {describe_exception(exc)}") from exc
    if not isinstance(section, DiffSection):
        raise DiffError(
            f"diff section {key!r} returned {type(section).__name__}, not a DiffSection"
        )
    for count in ("added", "removed", "changed"):
        value = getattr(section, count)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise DiffError(f"diff section {key!r}: {count} must be a non-negative integer")
    return evolve(
        section, name=key, truncated=bool(section.truncated), data=normalize(section.data, key)
    )


# -- the JSON form -------------------------------------------------------------------------------


def diff_bytes(diff: Diff) -> bytes:
    """Return the canonical JSON bytes of a diff: the form that is byte-identical per pair."""
    return canonical_bytes(to_json(diff))


def diff_from_bytes(data: bytes | str) -> Diff:
    """Parse the canonical JSON of a diff back into a :class:`Diff`.

    :raises ContractError: if the data is not a diff's JSON form.
    """
    return from_json(loads(data), Diff)


def diff_schema() -> dict[str, Any]:
    """Return the versioned JSON Schema of a diff's JSON form (``urn:snapkit:schema:diff:v1``)."""
    from snapkit.schemas import schema_for

    return schema_for(Diff)
