"""Search: find rows in a snapshot's tables, streaming, in table order (SPEC §5).

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
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import closing
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
        """Byte strings every matching line contains: the raw pre-filter, longest first.

        Each is a term's value as canonical JSON writes it inside a string (numbers and
        booleans read the same). With ``ignore_case`` they are the lowercase runs of ASCII
        in the case-folded values, and a matching line contains them once its ASCII letters
        are lowered — unless the line holds one of the few characters beyond ASCII that
        fold to ASCII letters (:data:`FOLDS_TO_ASCII`), so lines holding those are decoded
        whatever the needles say (:meth:`line_may_match`).
        """
        found = []
        for term in self.terms:
            runs = _ascii_runs(term.value.casefold()) if self.ignore_case else [term.value]
            for run in runs:
                try:
                    encoded = json.dumps(run, ensure_ascii=False)[1:-1].encode("utf-8")
                except UnicodeEncodeError:  # a lone surrogate: no line holds it as UTF-8
                    continue
                if encoded:
                    found.append(encoded)
        return sorted(found, key=len, reverse=True)

    def line_may_match(self, line: bytes, needles: list[bytes] | None = None) -> bool:
        """Whether a raw line passes the pre-filter of :meth:`needles` (``needles`` may be
        given, already computed). ``False`` means the line cannot match."""
        needles = self.needles() if needles is None else needles
        if not self.ignore_case:
            return all(n in line for n in needles)
        lowered = line.lower()
        if all(n in lowered for n in needles):
            return True
        return not line.isascii() and _FOLDING.search(line) is not None


FOLDS_TO_ASCII = "\u00df\u0130\u0149\u017f\u01f0\u1e96\u1e97\u1e98\u1e99\u1e9a\u1e9e" \
    "\u212a\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"
"""The characters beyond ASCII whose case folding holds an ASCII letter (``ß`` folds to
``ss``, the Kelvin sign to ``k``, the ligature ``ﬁ`` to ``fi``...). A line holding one of
them may match an ignore-case query although its lowered bytes do not hold the needles."""

_FOLDING = re.compile(b"|".join(re.escape(c.encode("utf-8")) for c in FOLDS_TO_ASCII))


def _folding_into(needles: list[bytes]) -> str:
    """The characters of :data:`FOLDS_TO_ASCII` whose folding holds a letter of ``needles``
    (only those can make a line match without holding the needles)."""
    letters = {chr(b) for needle in needles for b in needle if chr(b).isalpha()}
    return "".join(c for c in FOLDS_TO_ASCII if letters & set(c.casefold()))


def _ascii_runs(text: str) -> list[str]:
    """The maximal runs of ASCII characters in ``text``."""
    runs, current = [], []
    for char in text:
        if char.isascii():
            current.append(char)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


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
        if sep and name and all(map(_field_char, name)):
            return Term(name, op, value)
    return Term(None, "~", word)


def _field_char(char: str) -> bool:
    """Whether ``char`` may be part of a field name: a letter, a combining mark or a digit of
    any script (``naïve``, decomposed or not; ``名前``), or ``.``, ``_``, ``-``."""
    import unicodedata

    return char in "._-" or unicodedata.category(char)[0] in "LMN"


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


def _decoder() -> Callable[[bytes], Any]:
    """A JSON decoder for candidate lines: orjson when installed and the line holds no run of
    19 or more digits (orjson reads integers beyond 64 bits as floats), else :mod:`json`;
    the records are the same either way."""
    loads = json.loads
    try:
        import orjson
    except ImportError:  # pragma: no cover - exercised where orjson is not installed
        return loads
    fast, error = orjson.loads, orjson.JSONDecodeError

    def decode(line: bytes) -> Any:
        if len(line) < 19 or line.translate(_DIGITS_AS_ZERO).find(_LONG_NUMBER) < 0:
            try:
                return fast(line)
            except error:
                pass
        return loads(line)

    return decode


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


class _Matches:
    """The rows a scan keeps: decodes candidate lines, checks them, counts matches."""

    def __init__(self, query: Query, offset: int, limit: int | None,
                 accept: Callable[[Mapping[str, Any]], bool] | None) -> None:
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
        if not self.query.matches(record) or (self.accept is not None
                                              and not self.accept(record)):
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


BLOCK = 1 << 20
"""Bytes :func:`scan_stream` reads from a stream at a time."""


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
    return scan_blocks(iter(lambda: stream.read(BLOCK), b""), query, offset=offset,
                       limit=limit, accept=accept)


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


def _take_hits(block: bytes, haystack: bytes, lo: int, hi: int, first: bytes,
               others: list[bytes], matches: _Matches) -> int:
    """Check the lines of ``block[lo:hi]`` where ``haystack`` (the block, or it lowered)
    holds ``first``; return the end of the line that stopped the scan, or -1."""
    find, rfind = haystack.find, haystack.rfind
    position = find(first, lo, hi)
    while position >= 0:
        start = rfind(b"\n", lo, position) + 1 or lo
        end = find(b"\n", position, hi) + 1
        if (not others or all(n in haystack[start:end] for n in others)) and matches.take(
                block[start:end]):
            return end
        position = find(first, end, hi)
    return -1


def _holds_any(block: bytes, lo: int, hi: int, chars: str) -> bool:
    """Whether ``block[lo:hi]`` (whole lines of UTF-8) holds one of ``chars``. Decoding is
    fast, and so is looking for a character in text of narrower characters (never there)."""
    text = str(memoryview(block)[lo:hi], "utf-8", "replace")
    return any(c in text for c in chars)


def _take_lines(block: bytes, lo: int, hi: int, needles: list[bytes],
                may_match: Callable[[bytes, list[bytes]], bool], matches: _Matches) -> int:
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


def _split_lines(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of canonical JSON Lines given in blocks, without their ``\\n``."""
    pending = b""
    for block in blocks:
        data = pending + block if pending else block
        cut = data.rfind(b"\n") + 1
        if cut:
            yield from data[: cut - 1].split(b"\n")
        pending = data[cut:]
    if pending:
        yield pending


def part_blocks(store: Any, sha256: str, *, verify: bool = True
                ) -> Generator[bytes, None, None]:
    """A stored part's bytes in blocks: through the store's ``iter_part_blocks`` when it has
    one (:class:`snapkit.store.PartBlockReader`; ``verify`` is passed on), else read from
    ``open_part`` (always checked) :data:`BLOCK` bytes at a time."""
    from snapkit.store import PartBlockReader

    if isinstance(store, PartBlockReader):
        yield from store.iter_part_blocks(sha256, verify=verify)
        return
    with store.open_part(sha256) as stream:
        while block := stream.read(BLOCK):
            yield block


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
    text = query if isinstance(query, str) else " ".join(
        f"{t.field or ''}{t.op if t.field else ''}{t.value}" for t in parsed.terms)
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
                return SearchResult(manifest.id, table, text, offset, limit, rows, more,
                                    scanned, used)
    with closing(part_blocks(project.store, part.sha256, verify=verify)) as blocks:
        rows, more, scanned = scan_blocks(blocks, parsed, offset=offset, limit=limit,
                                          lines=part.records)
    return SearchResult(manifest.id, table, text, offset, limit, rows, more, scanned,
                        index_problem=problem)


def lookup_values(project: Any, manifest: Any, table: str, field_name: str,
                  values: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
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
    pattern = re.compile(b"|".join(re.escape(n) for n in sorted(needles, key=len,
                                                                  reverse=True)))
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
        raise UsageError(f"snapshot {manifest.id[:12]} has no table {descriptor.table!r}, "
                         f"which the {view_key!r} view searches") from None
    with closing(part_blocks(project.store, part.sha256, verify=False)) as blocks:
        rows, more, scanned = scan_blocks(blocks, parsed, offset=offset, limit=limit,
                                          accept=view.accepts, lines=part.records)

    def lookup(table: str, field_name: str, values: Iterable[str]
               ) -> dict[str, list[dict[str, Any]]]:
        return lookup_values(project, manifest, table, field_name, values)

    expanded = view.expand(rows, lookup)
    return SearchResult(manifest.id, view_key, query, offset, limit, expanded, more, scanned)
