"""The streaming scan over blocks: exactly the rows a record-by-record match gives (table order,
offset, limit, ``more``, ``scanned``), whatever the block boundaries and the case folding, and
damaged parts still detected on the unverified read it uses."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapkit.canonical import canonical_bytes
from snapkit.diff import MemoryParts
from snapkit.errors import CorruptSnapshotError
from snapkit.search import (
    FOLDS_TO_ASCII,
    Query,
    Term,
    parse_query,
    part_blocks,
    scan,
    scan_blocks,
    search_table,
)
from snapkit.testing.engine import OraclePlugin, make_project


def reference(
    records: list[dict[str, Any]], query: Query, offset: int, limit: int | None
) -> tuple[list[dict[str, Any]], bool, int]:
    """What a search must return: every record decoded and matched, in table order."""
    hits = [i for i, record in enumerate(records) if query.matches(record)]
    stop = None if limit is None else offset + limit
    if stop is not None and len(hits) > stop:
        return [records[i] for i in hits[offset:stop]], True, hits[stop] + 1
    return [records[i] for i in hits[offset:stop]], False, len(records)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


# letters that fold in odd ways (ß -> ss, Kelvin sign -> k, fi ligature -> fi, dotted I),
# a quote and a backslash (escaped in JSON), and plain ASCII
ALPHABET = 'aksfiKSI ß\u212a\ufb01\u0130\u00e9"\\'
texts = st.text(alphabet=ALPHABET, max_size=6)
records = st.lists(
    st.fixed_dictionaries(
        {"name": texts, "tags": st.lists(texts, max_size=3), "n": st.integers(-3, 12)}
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(
    rows=records,
    value=texts,
    op=st.sampled_from(["=", "^=", "~"]),
    field=st.sampled_from(["name", "tags", "n", None]),
    case=st.booleans(),
    offset=st.integers(0, 3),
    limit=st.none() | st.integers(1, 4),
    cuts=st.lists(st.integers(0, 2000), max_size=12),
    known=st.booleans(),
)
def test_property_block_scan_returns_what_matching_every_record_returns(
    rows: Any,
    value: str,
    op: Any,
    field: Any,
    case: bool,
    offset: int,
    limit: Any,
    cuts: list[int],
    known: bool,
) -> None:
    table = [{"id": f"r{i}", **row} for i, row in enumerate(rows)]
    data = b"".join(canonical_bytes(record) + b"\n" for record in table)
    query = Query((Term(field, op if field else "~", value),), case)
    expected = reference(table, query, offset, limit)
    got = scan_blocks(
        split(data, cuts), query, offset=offset, limit=limit, lines=len(table) if known else None
    )
    assert got == expected
    lines = [canonical_bytes(record) + b"\n" for record in table]
    assert scan(iter(lines), query, offset=offset, limit=limit) == expected


@pytest.mark.parametrize(
    "query", ["name~ss", "name~KELVIN", "name~fine", "name^=i", "strasse", "name=STRASSE"]
)
def test_ignore_case_finds_characters_that_fold_to_ascii_and_the_index_agrees(
    tmp_path: Path, query: str
) -> None:
    people = [
        {"id": "p1", "name": "Stra\u00dfe"},
        {"id": "p2", "name": "\u212aelvin"},
        {"id": "p3", "name": "\ufb01ne"},
        {"id": "p4", "name": "\u0130stanbul"},
        {"id": "p5", "name": "plain"},
    ]
    plugin = OraclePlugin().add("people", lambda call: iter(people), records=True, key_column="id")
    project = make_project(
        tmp_path,
        plugin,
        config={"search": {"index": {"people": ["name"]}, "index_dir": str(tmp_path / "idx")}},
    )
    project.refresh()
    parsed = parse_query(query, ignore_case=True)
    want = [p["id"] for p in people if parsed.matches(p)]
    assert want  # each query matches a row only through case folding
    scanned = search_table(project, "current", "people", query, ignore_case=True, use_index=False)
    assert [r["id"] for r in scanned.rows] == want
    if query.startswith("name=") or query.startswith("name^="):
        indexed = search_table(project, "current", "people", query, ignore_case=True)
        assert indexed.used_index and indexed.rows == scanned.rows


def test_folds_to_ascii_lists_every_character_whose_folding_holds_ascii() -> None:
    import sys

    found = "".join(
        chr(c)
        for c in range(128, sys.maxunicode + 1)
        if any(ord(f) < 128 for f in chr(c).casefold())
    )
    assert found == FOLDS_TO_ASCII


def _users(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"u{i:05d}",
            "email": f"user{i}@district.example",
            "big": 2**70 + i,
            "score": i / 7,
            "name": "Zo\u00eb" if i % 3 else "Ann",
        }
        for i in range(count)
    ]


@pytest.fixture
def users_project(tmp_path: Path) -> Any:
    users = _users(3000)
    plugin = OraclePlugin().add("users", lambda call: iter(users), records=True, key_column="id")
    project = make_project(tmp_path, plugin)
    project.refresh()
    return project


def test_table_search_counts_rows_and_keeps_numbers_exact(users_project: Any) -> None:
    everything = search_table(
        users_project, "current", "users", "email~7@district", limit=None, use_index=False
    )
    assert [r["id"] for r in everything.rows] == [
        f"u{i:05d}" for i in range(3000) if str(i).endswith("7")
    ]
    assert everything.scanned == 3000 and not everything.more
    assert everything.rows[0]["big"] == 2**70 + 7 and isinstance(everything.rows[0]["big"], int)
    assert everything.rows[0]["score"] == 7 / 7
    page = search_table(
        users_project, "current", "users", "email~7@district", limit=2, offset=1, use_index=False
    )
    assert [r["id"] for r in page.rows] == ["u00017", "u00027"]
    assert page.more and page.scanned == 38  # stopped on the 4th match, row u00037


def _damage_content(path: Path, plain: bytes) -> None:
    """Change one byte of a part's content, keeping its zstd frame well formed but with the
    content checksum of the original (what bit rot in the content looks like)."""
    from snapkit_file_store.testing import rot_part_content

    assert b"user1@" in plain
    rot_part_content(path, b"user1@", b"user1!")


@pytest.fixture
def whole_users_project(tmp_path: Path) -> Any:
    """``users_project`` in a file store of whole parts (seekable zstd files: the format
    ``rot_part_content`` rots; chunked parts have their own damage tests)."""
    users = _users(3000)
    plugin = OraclePlugin().add("users", lambda call: iter(users), records=True, key_column="id")
    store = {"kind": "file", "path": str(tmp_path / "store"), "chunk_size": 0}
    project = make_project(tmp_path, plugin, config={"store": store})
    project.refresh()
    return project


def test_a_search_read_detects_a_damaged_part_and_so_does_verify(
    whole_users_project: Any,
) -> None:
    users_project = whole_users_project
    store = users_project.store
    part = users_project.current().part("users")
    with store.open_part(part.sha256) as handle:
        plain = handle.read()
    _damage_content(store.layout.part(part.sha256), plain)
    with pytest.raises(CorruptSnapshotError, match="checksum"):
        search_table(users_project, "current", "users", "email~user2", limit=None, use_index=False)
    with pytest.raises(CorruptSnapshotError):
        search_table(
            users_project,
            "current",
            "users",
            "email~user2",
            limit=None,
            use_index=False,
            verify=True,
        )
    report = store.verify()
    assert any(problem.ref == part.sha256 for problem in report.problems)


def test_a_store_without_block_reads_is_read_through_open_part() -> None:
    parts = MemoryParts()
    ref = parts.add("t", [{"id": i, "name": f"n{i}"} for i in range(5000)])
    data = b"".join(canonical_bytes({"id": i, "name": f"n{i}"}) + b"\n" for i in range(5000))
    assert b"".join(part_blocks(parts, ref.sha256)) == data
    rows, more, scanned = scan_blocks(part_blocks(parts, ref.sha256), parse_query("name=n42"))
    assert (rows, more, scanned) == ([{"id": 42, "name": "n42"}], False, 5000)


def test_a_scan_without_needles_decodes_every_line() -> None:
    table = [{"id": i, "flag": i % 2 == 0} for i in range(50)]
    data = b"".join(canonical_bytes(record) + b"\n" for record in table)
    query = parse_query('flag=""')
    assert query.needles() == []
    assert scan_blocks(split(data, [7, 300, 301]), query) == ([], False, 50)
    assert json.loads(canonical_bytes(table[0])) == table[0]


leaves = st.one_of(texts, st.integers(-2, 12), st.booleans(), st.none())


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "name": leaves,
                "tags": st.lists(leaves, max_size=3),
                "kids": st.lists(st.fixed_dictionaries({"ref": leaves}), max_size=2),
            }
        ),
        max_size=25,
    ),
    field=st.sampled_from(["name", "tags", "kids.ref", "id"]),
    wanted=st.lists(st.one_of(texts, st.integers(-2, 12).map(str), st.just("true")), max_size=5),
)
def test_property_lookup_values_finds_what_matching_every_record_finds(
    tmp_path_factory: Any, rows: Any, field: str, wanted: list[str]
) -> None:
    from snapkit.search import _values, as_text, lookup_values

    table = [{"id": f"r{i}", **row} for i, row in enumerate(rows)]
    plugin = OraclePlugin().add("t", lambda call: iter(table), records=True, key_column="id")
    project = make_project(tmp_path_factory.mktemp("lookup"), plugin)
    project.refresh()
    expected: dict[str, list[dict[str, Any]]] = {value: [] for value in sorted(set(wanted))}
    for record in table:
        for value in _values(record, field):
            if as_text(value) in expected:
                expected[str(as_text(value))].append(record)
    got = lookup_values(project, project.current(), "t", field, wanted)
    assert got == expected
