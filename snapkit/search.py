"""Search: find rows in a snapshot's tables, streaming, in table order (SPEC §5).

A query is one or more terms, all of which must match:

- ``field=value``  the field equals ``value``;
- ``field^=value`` the field starts with ``value``;
- ``field~value``  the field contains ``value``;
- ``value``        some field contains ``value``.

Quote values with spaces (``name="Ada L"``); ``ignore_case`` compares case-insensitively.
Dotted fields reach into objects (``address.city``); a list matches when any item does.

The scan never decodes a line that cannot match: each line's raw bytes are checked for the
JSON-encoded search values first, and only candidates are parsed. Memory does not grow with
the table. An optional index (:mod:`snapkit.search_index`) answers ``=`` and ``^=`` terms with
the same results, faster.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

from attrs import field, frozen

from snapkit.errors import UsageError

Op = Literal["=", "^=", "~"]


def _rows(value: Iterable[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    return tuple(value)


@frozen
class Term:
    """One condition of a query: a field (or any field), an operator and a value."""

    field: str | None
    op: Op
    value: str


@frozen
class Query:
    """A parsed query: terms that must all match, and whether case is ignored."""

    terms: tuple[Term, ...]
    ignore_case: bool = False

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Return whether ``record`` matches every term."""
        return all(_term_matches(term, record, self.ignore_case) for term in self.terms)

    def needles(self) -> list[bytes]:
        """Byte strings every matching line must contain (the raw pre-filter)."""
        found = []
        for term in self.terms:
            encoded = json.dumps(term.value, ensure_ascii=False)[1:-1]
            if self.ignore_case:
                if not encoded.isascii():
                    continue
                encoded = encoded.lower()
            if encoded:
                found.append(encoded.encode("utf-8"))
        return found


@frozen
class SearchResult:
    """Matching rows of one table of one snapshot, in table order.

    :param more: whether more rows match past ``offset + limit``.
    :param scanned: how many rows were examined (streaming) or looked up (index).
    """

    snapshot_id: str
    table: str
    query: str
    offset: int
    limit: int | None
    rows: tuple[Mapping[str, Any], ...] = field(converter=_rows)
    more: bool = False
    scanned: int = 0
    used_index: str | None = None


def parse_query(text: str, *, ignore_case: bool = False) -> Query:
    """Parse a query string.

    :raises UsageError: if the query is empty or cannot be split (unbalanced quotes).
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"cannot read the query: {exc}",
                         hint="balance the quotes around values with spaces") from None
    if not words:
        raise UsageError("the query is empty", hint="give e.g. name=Ada, email^=ada, name~lov")
    terms = []
    for word in words:
        terms.append(_parse_term(word))
    return Query(tuple(terms), ignore_case)


def _parse_term(word: str) -> Term:
    ops: tuple[Op, ...] = ("^=", "=", "~")
    for op in ops:
        name, sep, value = word.partition(op)
        if sep and name and all(c.isalnum() or c in "._-" for c in name):
            return Term(name, op, value)
    return Term(None, "~", word)


def _values(record: Any, path: str | None) -> Iterator[Any]:
    if path is None:
        yield from _leaves(record)
        return
    current: list[Any] = [record]
    for key in path.split("."):
        following: list[Any] = []
        for item in current:
            if isinstance(item, Mapping) and key in item:
                value = item[key]
                following.extend(value if isinstance(value, list) else [value])
            elif isinstance(item, list):
                following.extend(i[key] for i in item if isinstance(i, Mapping) and key in i)
        current = following
    for value in current:
        if isinstance(value, list):
            yield from value
        else:
            yield value


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def as_text(value: Any) -> str | None:
    """The text a search compares: strings as they are, numbers and booleans as JSON."""
    if value is None or isinstance(value, Mapping | list):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _term_matches(term: Term, record: Mapping[str, Any], ignore_case: bool) -> bool:
    wanted = term.value.casefold() if ignore_case else term.value
    for value in _values(record, term.field):
        text = as_text(value)
        if text is None:
            continue
        if ignore_case:
            text = text.casefold()
        if term.op == "=" and text == wanted:
            return True
        if term.op == "^=" and text.startswith(wanted):
            return True
        if term.op == "~" and wanted in text:
            return True
    return False


def scan(
    lines: Iterable[bytes],
    query: Query,
    *,
    offset: int = 0,
    limit: int | None = None,
    accept: Callable[[Mapping[str, Any]], bool] | None = None,
) -> tuple[list[dict[str, Any]], bool, int]:
    """Stream ``lines`` (canonical JSON records) and return ``(rows, more, scanned)``.

    Stops as soon as ``offset + limit`` rows matched and one more was seen (for ``more``).
    """
    needles = query.needles()
    lower = query.ignore_case
    loads = json.loads
    rows: list[dict[str, Any]] = []
    matched = 0
    scanned = 0
    stop = None if limit is None else offset + limit
    for line in lines:
        scanned += 1
        if needles:
            haystack = line.lower() if lower else line
            if not all(n in haystack for n in needles):
                continue
        record = loads(line)
        if not query.matches(record) or (accept is not None and not accept(record)):
            continue
        if stop is not None and matched >= stop:
            return rows, True, scanned
        if matched >= offset:
            rows.append(record)
        matched += 1
    return rows, False, scanned


BLOCK = 1 << 20


def scan_stream(
    stream: Any,
    query: Query,
    *,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[dict[str, Any]], bool, int]:
    """Like :func:`scan`, over a binary stream of canonical JSON Lines, block by block.

    The first needle is searched in whole 1 MiB blocks with ``bytes.find`` (C speed); only the
    lines around its hits are cut out and checked. Results and ``more`` are exactly what
    :func:`scan` gives; ``scanned`` counts every line read.
    """
    needles = query.needles()
    if not needles:
        return scan(iter(stream), query, offset=offset, limit=limit)
    first = max(needles, key=len)
    others = [n for n in needles if n is not first]
    lower = query.ignore_case
    loads = json.loads
    rows: list[dict[str, Any]] = []
    matched = 0
    scanned = 0
    stop = None if limit is None else offset + limit
    tail = b""
    while True:
        chunk = stream.read(BLOCK)
        if not chunk:
            block = tail
            if block and not block.endswith(b"\n"):
                block += b"\n"
            tail = b""
        else:
            data = tail + chunk
            cut = data.rfind(b"\n") + 1
            block, tail = data[:cut], data[cut:]
        if block:
            haystack = block.lower() if lower else block
            position = haystack.find(first)
            while position != -1:
                start = haystack.rfind(b"\n", 0, position) + 1
                end = haystack.find(b"\n", position) + 1
                line = haystack[start:end]
                if all(n in line for n in others):
                    record = loads(block[start:end])
                    if query.matches(record):
                        if stop is not None and matched >= stop:
                            scanned += block.count(b"\n", 0, start)
                            return rows, True, scanned
                        if matched >= offset:
                            rows.append(record)
                        matched += 1
                position = haystack.find(first, end)
            scanned += block.count(b"\n")
        if not chunk:
            return rows, False, scanned


def search_table(
    project: Any,
    ref: str,
    table: str,
    query: str | Query,
    *,
    offset: int = 0,
    limit: int | None = 50,
    ignore_case: bool = False,
    use_index: bool = True,
) -> SearchResult:
    """Search one table of a snapshot (``ref`` as :meth:`Project.resolve` takes it).

    Uses an index built at commit time when one covers the query, else streams the part.
    """
    parsed = query if isinstance(query, Query) else parse_query(query, ignore_case=ignore_case)
    from snapkit.parts import require_table

    manifest = project.resolve(ref)
    part = require_table(manifest, table)
    text = query if isinstance(query, str) else " ".join(
        f"{t.field or ''}{t.op if t.field else ''}{t.value}" for t in parsed.terms)
    if use_index:
        from snapkit.search_index import indexed_search

        found = indexed_search(project, part, parsed, offset=offset, limit=limit)
        if found is not None:
            rows, more, scanned, used = found
            return SearchResult(manifest.id, table, text, offset, limit, rows, more, scanned,
                                used)
    with project.store.open_part(part.sha256) as stream:
        rows, more, scanned = scan_stream(stream, parsed, offset=offset, limit=limit)
    return SearchResult(manifest.id, table, text, offset, limit, rows, more, scanned)


def lookup_values(project: Any, manifest: Any, table: str, field_name: str,
                  values: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Return ``{value: [records]}`` for records of ``table`` whose field is one of ``values``.

    One streaming pass over the table (or index lookups, when the field is indexed).
    """
    wanted = {str(v) for v in values}
    found: dict[str, list[dict[str, Any]]] = {value: [] for value in sorted(wanted)}
    if not wanted:
        return found
    try:
        part = manifest.part(table)
    except KeyError:
        return found
    loads = json.loads
    for line in project.store.iter_part_lines(part.sha256):
        record = loads(line)
        for value in _values(record, field_name):
            text = as_text(value)
            if text in wanted:
                found[text].append(record)
    return found


def search_view(
    project: Any,
    ref: str,
    view_key: str,
    query: str,
    *,
    offset: int = 0,
    limit: int | None = 50,
    ignore_case: bool = False,
) -> SearchResult:
    """Search a registered search view (e.g. ``guardians``): its table's rows that the view
    accepts and that match ``query``, expanded with related rows."""
    descriptor = project.manager.registry("search_view").get(view_key)
    view = descriptor.factory({})
    parsed = parse_query(query, ignore_case=ignore_case)
    manifest = project.resolve(ref)
    try:
        part = manifest.part(descriptor.table)
    except KeyError:
        raise UsageError(f"snapshot {manifest.id[:12]} has no table {descriptor.table!r}, "
                         f"which the {view_key!r} view searches") from None
    rows, more, scanned = scan(project.store.iter_part_lines(part.sha256), parsed,
                               offset=offset, limit=limit, accept=view.accepts)

    def lookup(table: str, field_name: str, values: Iterable[str]
               ) -> dict[str, list[dict[str, Any]]]:
        return lookup_values(project, manifest, table, field_name, values)

    expanded = view.expand(rows, lookup)
    return SearchResult(manifest.id, view_key, query, offset, limit, expanded, more, scanned)
