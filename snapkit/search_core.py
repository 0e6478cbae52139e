"""The pieces a search shares with its index: the query model (terms, matching, case
folding), the text a record's values compare as, and reading a part's canonical JSON Lines in
blocks and lines. :mod:`snapkit.search` (the scan) and :mod:`snapkit.search_index` (the
optional index) both build on this module; it imports neither.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any, Literal

from attrs import frozen

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


FOLDS_TO_ASCII = (
    "\u00df\u0130\u0149\u017f\u01f0\u1e96\u1e97\u1e98\u1e99\u1e9a\u1e9e"
    "\u212a\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"
)
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


def json_decoder() -> Callable[[bytes], Any]:
    """A JSON decoder for canonical JSON lines: orjson when installed and the line holds no
    run of 19 or more digits (orjson reads integers beyond 64 bits as floats), else
    :mod:`json`; the records are the same either way. A line that is not JSON raises
    :class:`ValueError`, as :func:`json.loads` does."""
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


_decoder = json_decoder


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


_LONG_NUMBER = b"0" * 19


BLOCK = 1 << 20
"""Bytes :func:`scan_stream` reads from a stream at a time."""


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


def part_blocks(store: Any, sha256: str, *, verify: bool = True) -> Generator[bytes, None, None]:
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
