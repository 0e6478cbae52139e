"""Search: find rows in a snapshot's tables, streaming, in table order (docs/search.md).

A query is one or more terms, all of which must match:

- ``field=value``  the field equals ``value``;
- ``field^=value`` the field starts with ``value``;
- ``field~value``  the field contains ``value``;
- ``value``        some field contains ``value``.

Quote values with spaces (``name="Ada L"``); ``ignore_case`` compares case-insensitively.
Dotted fields reach into objects (``address.city``); a list matches when any item does.

The scan never decodes a line that cannot match: the part's bytes are read in blocks as the
store decompresses them, the longest JSON-encoded search value is looked for in each whole
block with ``bytes.find``, and only the lines around its hits are cut out and parsed. Memory
does not grow with the table. Parts are read without their SHA-256 (the file store still
detects damage through zstd's content checksum; ``snapkit snapshots verify`` re-hashes
everything). An optional index (:mod:`snapkit.search_index`) answers ``=`` and ``^=`` terms
with the same results, from rows it reads from the part and checks against its digests; an
index found damaged is rebuilt and the search answered by a scan.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing
from typing import Any

from attrs import field, frozen

from snapkit.errors import UsageError
from snapkit.search_core import (  # the shared pieces (also re-exported for callers)
    BLOCK,
    FOLDS_TO_ASCII,  # noqa: F401
    Op,
    Query,
    Term,
    _decoder,
    _folding_into,
    _rows,
    _split_lines,
    _values,
    as_text,
    part_blocks,
)


@frozen
class SearchResult:
    """Matching rows of one table of one snapshot, in table order.

    :param more: whether more rows match past ``offset + limit``.
    :param scanned: how many rows were examined (streaming) or looked up (index).
    :param used_index: the field whose index answered, or ``None`` (a scan).
    :param index_problem: why an index that should have answered did not (damaged, foreign,
        missing), and whether it was rebuilt; the rows then come from a scan of the part.
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
    index_problem: str | None = None


def parse_query(text: str, *, ignore_case: bool = False) -> Query:
    """Parse a query string.

    :raises UsageError: if the query is empty or cannot be split (unbalanced quotes).
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(
            f"cannot read the query: {exc}", hint="balance the quotes around values with spaces"
        ) from None
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
        if sep and name and all(map(_field_char, name)):
            return Term(name, op, value)
    return Term(None, "~", word)


def _field_char(char: str) -> bool:
    """Whether ``char`` may be part of a field name: a letter, a combining mark or a digit of
    any script (``naïve``, decomposed or not; ``名前``), or ``.``, ``_``, ``-``."""
    import unicodedata

    return char in "._-" or unicodedata.category(char)[0] in "LMN"


class _Matches:
    """The rows a scan keeps: decodes candidate lines, checks them, counts matches."""

    def __init__(
        self,
        query: Query,
        offset: int,
        limit: int | None,
        accept: Callable[[Mapping[str, Any]], bool] | None,
    ) -> None:
        self.query = query
        self.offset = offset
        self.stop = None if limit is None else offset + limit
        self.accept = accept
        self.rows: list[dict[str, Any]] = []
        self.matched = 0
        self.decode = _decoder()

    def take(self, line: bytes) -> bool:
        """Decode a candidate line and keep it if it matches; return ``True`` when it is a
        match past ``offset + limit`` (the scan stops there: more rows match)."""
        record = self.decode(line)
        if not self.query.matches(record) or (self.accept is not None and not self.accept(record)):
            return False
        if self.stop is not None and self.matched >= self.stop:
            return True
        if self.matched >= self.offset:
            self.rows.append(record)
        self.matched += 1
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

    Stops as soon as ``offset + limit`` rows matched and one more was seen (for ``more``);
    ``scanned`` counts the lines read, that one included.
    """
    needles = query.needles()
    may_match = query.line_may_match
    matches = _Matches(query, offset, limit, accept)
    scanned = 0
    for line in lines:
        scanned += 1
        if needles and not may_match(line, needles):
            continue
        if matches.take(line):
            return matches.rows, True, scanned
    return matches.rows, False, scanned


def scan_stream(
    stream: Any,
    query: Query,
    *,
    offset: int = 0,
    limit: int | None = None,
    accept: Callable[[Mapping[str, Any]], bool] | None = None,
) -> tuple[list[dict[str, Any]], bool, int]:
    """Like :func:`scan`, over a binary stream of canonical JSON Lines, read in blocks of
    :data:`BLOCK` bytes (see :func:`scan_blocks`)."""
    return scan_blocks(
        iter(lambda: stream.read(BLOCK), b""), query, offset=offset, limit=limit, accept=accept
    )


def scan_blocks(
    blocks: Iterable[bytes],
    query: Query,
    *,
    offset: int = 0,
    limit: int | None = None,
    accept: Callable[[Mapping[str, Any]], bool] | None = None,
    lines: int | None = None,
) -> tuple[list[dict[str, Any]], bool, int]:
    """Like :func:`scan`, over canonical JSON Lines bytes given in blocks whose boundaries
    fall anywhere (as a store's decompressor hands them out); same rows, ``more`` and
    ``scanned``.

    The longest needle (:meth:`Query.needles`) is searched in each whole block with
    ``bytes.find`` (C speed, no copy); only the lines around its hits are cut out, checked
    for the other needles and decoded. With ``ignore_case`` the block is lowered first, and a
    block holding a character of :data:`FOLDS_TO_ASCII` that folds to a letter of the needles
    is checked line by line.

    :param lines: how many lines the blocks hold, when known (a part's ``records``): a scan
        without ``limit`` reads everything and reports it as ``scanned`` instead of counting
        line breaks. With a limit, lines are counted (the scan may stop early).
    """
    needles = query.needles()
    if not needles:
        return scan(_split_lines(blocks), query, offset=offset, limit=limit, accept=accept)
    first, others = needles[0], needles[1:]
    lower = query.ignore_case
    folding = _folding_into(needles) if lower else ""
    may_match = query.line_may_match
    matches = _Matches(query, offset, limit, accept)
    count = lines is None or limit is not None
    scanned = 0
    pending: list[bytes] = []
    for block in blocks:
        lo = block.find(b"\n") + 1
        if not lo:
            if block:
                pending.append(block)
            continue
        if pending:
            # the line that began in earlier blocks ends here
            pending.append(block[:lo])
            line = b"".join(pending)
            pending.clear()
            scanned += 1
            if may_match(line, needles) and matches.take(line):
                return matches.rows, True, scanned
        else:
            lo = 0
        hi = block.rfind(b"\n") + 1
        if lo < hi:
            # block[lo:hi] is whole lines
            haystack = block.lower() if lower else block
            if folding and not block.isascii() and _holds_any(block, lo, hi, folding):
                found = _take_lines(block, lo, hi, needles, may_match, matches)
            else:
                found = _take_hits(block, haystack, lo, hi, first, others, matches)
            if found >= 0:
                return matches.rows, True, scanned + block.count(b"\n", lo, found)
            if count:
                scanned += block.count(b"\n", lo, hi)
        if hi < len(block):
            pending.append(block[hi:])
    if pending:
        line = b"".join(pending)
        scanned += 1
        if may_match(line, needles) and matches.take(line):
            return matches.rows, True, scanned
    if not count and lines is not None:
        scanned = lines
    return matches.rows, False, scanned


def _take_hits(
    block: bytes,
    haystack: bytes,
    lo: int,
    hi: int,
    first: bytes,
    others: list[bytes],
    matches: _Matches,
) -> int:
    """Check the lines of ``block[lo:hi]`` where ``haystack`` (the block, or it lowered)
    holds ``first``; return the end of the line that stopped the scan, or -1."""
    find, rfind = haystack.find, haystack.rfind
    position = find(first, lo, hi)
    while position >= 0:
        start = rfind(b"\n", lo, position) + 1 or lo
        end = find(b"\n", position, hi) + 1
        if (not others or all(n in haystack[start:end] for n in others)) and matches.take(
            block[start:end]
        ):
            return end
        position = find(first, end, hi)
    return -1


def _holds_any(block: bytes, lo: int, hi: int, chars: str) -> bool:
    """Whether ``block[lo:hi]`` (whole lines of UTF-8) holds one of ``chars``. Decoding is
    fast, and so is looking for a character in text of narrower characters (never there)."""
    text = str(memoryview(block)[lo:hi], "utf-8", "replace")
    return any(c in text for c in chars)


def _take_lines(
    block: bytes,
    lo: int,
    hi: int,
    needles: list[bytes],
    may_match: Callable[[bytes, list[bytes]], bool],
    matches: _Matches,
) -> int:
    """Check every line of ``block[lo:hi]``; return the end of the line that stopped the scan,
    or -1."""
    start = lo
    while start < hi:
        end = block.find(b"\n", start, hi) + 1
        line = block[start:end]
        if may_match(line, needles) and matches.take(line):
            return end
        start = end
    return -1


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
    verify: bool = False,
) -> SearchResult:
    """Search one table of a snapshot (``ref`` as :meth:`Project.resolve` takes it).

    Uses an index built at commit time when one covers the query, else streams the part.
    The stream skips the part's SHA-256 unless ``verify`` (see
    :class:`snapkit.store.PartBlockReader`): the file store still raises
    :class:`snapkit.errors.CorruptSnapshotError` on a damaged part, from zstd's checksum.

    An index found damaged, foreign or missing (see :mod:`snapkit.search_index`) is rebuilt
    on the spot (reading the part with its SHA-256 checked: a damaged part raises) and the
    answer comes from a scan with the SHA-256 checked; ``index_problem`` says what happened.
    """
    parsed = query if isinstance(query, Query) else parse_query(query, ignore_case=ignore_case)
    from snapkit.parts import require_table

    manifest = project.resolve(ref)
    part = require_table(manifest, table)
    text = (
        query
        if isinstance(query, str)
        else " ".join(f"{t.field or ''}{t.op if t.field else ''}{t.value}" for t in parsed.terms)
    )
    problem = None
    if use_index:
        from snapkit.search_index import IndexDamaged, indexed_search, repair_after

        try:
            found = indexed_search(project, part, parsed, offset=offset, limit=limit)
        except IndexDamaged as exc:
            problem = repair_after(project, part, exc)
            verify = True
        else:
            if found is not None:
                rows, more, scanned, used = found
                return SearchResult(
                    manifest.id, table, text, offset, limit, rows, more, scanned, used
                )
    with closing(part_blocks(project.store, part.sha256, verify=verify)) as blocks:
        rows, more, scanned = scan_blocks(
            blocks, parsed, offset=offset, limit=limit, lines=part.records
        )
    return SearchResult(
        manifest.id, table, text, offset, limit, rows, more, scanned, index_problem=problem
    )


def lookup_values(
    project: Any, manifest: Any, table: str, field_name: str, values: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """Return ``{value: [records]}`` for records of ``table`` whose field is one of ``values``.

    One streaming pass over the table: only lines holding one of the values (as canonical
    JSON writes it) are decoded, found by one regular expression over whole blocks.
    """
    wanted = {str(v) for v in values}
    found: dict[str, list[dict[str, Any]]] = {value: [] for value in sorted(wanted)}
    if not wanted:
        return found
    try:
        part = manifest.part(table)
    except KeyError:
        return found
    needles = set()
    for value in wanted:
        try:
            needles.add(json.dumps(value, ensure_ascii=False)[1:-1].encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate: no line holds it as UTF-8
            continue
    if not needles:
        return found
    pattern = re.compile(b"|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
    decode = _decoder()
    with closing(part_blocks(project.store, part.sha256, verify=False)) as blocks:
        lines = _split_lines(blocks) if b"" in needles else _lines_holding(blocks, pattern)
        for line in lines:
            record = decode(line)
            for value in _values(record, field_name):
                text = as_text(value)
                if text in wanted:
                    found[text].append(record)
    return found


def _lines_holding(blocks: Iterable[bytes], pattern: re.Pattern[bytes]) -> Iterator[bytes]:
    """The lines of canonical JSON Lines given in blocks where ``pattern`` (which never
    matches an empty string) matches, in order; a match never spans lines, as canonical JSON
    holds no raw line break."""
    pending: list[bytes] = []
    for block in blocks:
        lo = block.find(b"\n") + 1
        if not lo:
            if block:
                pending.append(block)
            continue
        if pending:
            pending.append(block[:lo])
            line = b"".join(pending)
            pending.clear()
            if pattern.search(line):
                yield line
        else:
            lo = 0
        hi = block.rfind(b"\n") + 1
        hit = pattern.search(block, lo, hi)
        while hit is not None:
            start = block.rfind(b"\n", lo, hit.start()) + 1 or lo
            end = block.find(b"\n", hit.start(), hi) + 1
            yield block[start:end]
            hit = pattern.search(block, end, hi)
        if hi < len(block):
            pending.append(block[hi:])
    if pending:
        line = b"".join(pending)
        if pattern.search(line):
            yield line


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
        raise UsageError(
            f"snapshot {manifest.id[:12]} has no table {descriptor.table!r}, "
            f"which the {view_key!r} view searches"
        ) from None
    with closing(part_blocks(project.store, part.sha256, verify=False)) as blocks:
        rows, more, scanned = scan_blocks(
            blocks, parsed, offset=offset, limit=limit, accept=view.accepts, lines=part.records
        )

    def lookup(
        table: str, field_name: str, values: Iterable[str]
    ) -> dict[str, list[dict[str, Any]]]:
        return lookup_values(project, manifest, table, field_name, values)

    expanded = view.expand(rows, lookup)
    return SearchResult(manifest.id, view_key, query, offset, limit, expanded, more, scanned)
