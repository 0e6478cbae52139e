"""Search over snapshot tables: streaming scans, indexes that agree with them, views, CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapkit.descriptors import SearchViewDescriptor
from snapkit.errors import UsageError
from snapkit.markers import hookimpl
from snapkit.search import parse_query, search_table, search_view
from snapkit.search_index import build_configured_indexes
from snapkit.testing.engine import OraclePlugin, make_project

PEOPLE = [
    {
        "id": "p1",
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "role": "guardian",
        "kids": ["p3"],
        "age": 36,
    },
    {
        "id": "p2",
        "name": "Alan Turing",
        "email": "alan@example.org",
        "role": "teacher",
        "kids": [],
        "age": 41,
    },
    {
        "id": "p3",
        "name": "Byron Lovelace",
        "email": "byron@example.org",
        "role": "student",
        "kids": [],
        "age": 9,
    },
    {
        "id": "p4",
        "name": "ADA Byron",
        "email": "ada.b@example.org",
        "role": "student",
        "kids": [],
        "age": 10,
        "address": {"city": "London"},
    },
    {
        "id": "p5",
        "name": 'Grace "Amazing" Hopper',
        "email": "grace@example.org",
        "role": "guardian",
        "kids": ["p4", "p3"],
        "age": 85,
    },
]


def _project(folder: Path, people: list[dict[str, Any]], index: bool = False) -> Any:
    plugin = OraclePlugin().add("people", lambda call: iter(people), records=True, key_column="id")
    config = (
        {
            "search": {
                "index": {"people": ["name", "email", "kids"]},
                "index_dir": str(folder / "idx"),
            }
        }
        if index
        else {}
    )
    project = make_project(folder, plugin, config=config)
    project.refresh()
    return project


@pytest.fixture
def project(tmp_path: Path) -> Any:
    return _project(tmp_path, PEOPLE)


def ids(result: Any) -> list[str]:
    return [row["id"] for row in result.rows]


def test_exact_prefix_and_substring_terms_match_in_table_order(project: Any) -> None:
    assert ids(search_table(project, "current", "people", "role=student")) == ["p3", "p4"]
    assert ids(search_table(project, "current", "people", "email^=ada")) == ["p1", "p4"]
    assert ids(search_table(project, "current", "people", "name~Lovelace")) == ["p1", "p3"]
    assert ids(search_table(project, "current", "people", "Lovelace role=student")) == ["p3"]


def test_ignore_case_and_quoted_values(project: Any) -> None:
    assert ids(search_table(project, "current", "people", "name^=ada")) == []
    assert ids(search_table(project, "current", "people", "name^=ada", ignore_case=True)) == [
        "p1",
        "p4",
    ]
    assert ids(search_table(project, "current", "people", 'name="Ada Lovelace"')) == ["p1"]
    assert ids(search_table(project, "current", "people", 'name~"Amazing"')) == ["p5"]


def test_numbers_lists_and_dotted_fields(project: Any) -> None:
    assert ids(search_table(project, "current", "people", "age=9")) == ["p3"]
    assert ids(search_table(project, "current", "people", "kids=p3")) == ["p1", "p5"]
    assert ids(search_table(project, "current", "people", "address.city=London")) == ["p4"]


def test_limit_offset_and_more(project: Any) -> None:
    first = search_table(project, "current", "people", "example.org", limit=2)
    assert ids(first) == ["p1", "p2"] and first.more
    last = search_table(project, "current", "people", "example.org", limit=2, offset=4)
    assert ids(last) == ["p5"] and not last.more


def test_bad_queries_and_tables_are_usage_errors(project: Any) -> None:
    with pytest.raises(UsageError):
        parse_query("   ")
    with pytest.raises(UsageError):
        parse_query('name="unclosed')
    with pytest.raises(UsageError, match="no table 'nope'"):
        search_table(project, "current", "people" if False else "nope", "x")


def test_index_answers_with_the_same_rows_as_a_scan(tmp_path: Path) -> None:
    project = _project(tmp_path, PEOPLE, index=True)
    for query, case in [
        ("name^=ada", True),
        ("name=Ada Lovelace", False),
        ("email^=ada", False),
        ("kids=p3", False),
        ("name^=A", False),
    ]:
        query = query if " " not in query else 'name="Ada Lovelace"'
        indexed = search_table(project, "current", "people", query, ignore_case=case)
        scanned = search_table(
            project, "current", "people", query, ignore_case=case, use_index=False
        )
        assert indexed.used_index is not None
        assert indexed.rows == scanned.rows


names = st.text(alphabet="abcAB é", min_size=0, max_size=6)
people = st.lists(
    st.fixed_dictionaries({"name": names, "tags": st.lists(names, max_size=3)}), max_size=25
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=people,
    value=names,
    op=st.sampled_from(["=", "^="]),
    field=st.sampled_from(["name", "tags"]),
    case=st.booleans(),
    offset=st.integers(0, 3),
    limit=st.integers(1, 5),
)
def test_property_indexed_search_equals_streaming_search(
    tmp_path_factory: Any,
    rows: Any,
    value: str,
    op: str,
    field: str,
    case: bool,
    offset: int,
    limit: int,
) -> None:
    folder = tmp_path_factory.mktemp("p")
    records = [{"id": f"r{i}", **row} for i, row in enumerate(rows)]
    plugin = OraclePlugin().add("t", lambda call: iter(records), records=True, key_column="id")
    project = make_project(
        folder,
        plugin,
        config={"search": {"index": {"t": ["name", "tags"]}, "index_dir": str(folder / "idx")}},
    )
    project.refresh()
    query = parse_query(f'{field}{op}"{value}"', ignore_case=case)
    indexed = search_table(project, "current", "t", query, offset=offset, limit=limit)
    scanned = search_table(
        project, "current", "t", query, offset=offset, limit=limit, use_index=False
    )
    assert (indexed.rows, indexed.more) == (scanned.rows, scanned.more)


class Guardians:
    def accepts(self, record: Any) -> bool:
        return record.get("role") == "guardian"

    def expand(self, rows: Any, lookup: Any) -> list[dict[str, Any]]:
        kids = lookup("people", "id", {k for row in rows for k in row["kids"]})
        return [
            {**row, "children": sorted(r["id"] for k in row["kids"] for r in kids[k])}
            for row in rows
        ]


def test_search_view_adds_related_rows(project: Any) -> None:
    class ViewPlugin:
        @hookimpl
        def snapkit_register_search_views(self, register: Any) -> None:
            register(
                SearchViewDescriptor(key="guardians", table="people", factory=lambda s: Guardians())
            )

    project.manager.register(ViewPlugin(), name="views")
    result = search_view(project, "current", "guardians", "example.org")
    assert [(r["id"], r["children"]) for r in result.rows] == [("p1", ["p3"]), ("p5", ["p3", "p4"])]


def test_indexes_are_built_once_per_part(tmp_path: Path) -> None:
    project = _project(tmp_path, PEOPLE, index=True)
    built = sorted((tmp_path / "idx").rglob("*.sqlite"))
    assert [p.name for p in built] == ["email.sqlite", "kids.sqlite", "name.sqlite"]
    mtimes = [p.stat().st_mtime_ns for p in built]
    report = build_configured_indexes(project, project.current())
    assert report.built == () and len(report.kept) == 3 and report.warnings == ()
    assert [p.stat().st_mtime_ns for p in built] == mtimes


@settings(max_examples=60, deadline=None)
@given(
    rows=people,
    value=names,
    op=st.sampled_from(["=", "^=", "~"]),
    field=st.sampled_from(["name", "tags", None]),
    case=st.booleans(),
    offset=st.integers(0, 3),
    limit=st.integers(1, 5),
    block=st.integers(1, 64),
)
def test_property_block_scan_equals_line_scan(
    rows: Any, value: str, op: str, field: Any, case: bool, offset: int, limit: int, block: int
) -> None:
    import io

    import snapkit.search as search_module
    from snapkit.canonical import canonical_bytes
    from snapkit.search import scan, scan_stream

    lines = [canonical_bytes({"id": f"r{i}", **row}) + b"\n" for i, row in enumerate(rows)]
    text = f'{field}{op}"{value}"' if field else f'"{value or "a"}"'
    query = parse_query(text, ignore_case=case)
    expected = scan(iter(lines), query, offset=offset, limit=limit)
    saved = search_module.BLOCK
    search_module.BLOCK = block
    try:
        got = scan_stream(io.BytesIO(b"".join(lines)), query, offset=offset, limit=limit)
    finally:
        search_module.BLOCK = saved
    assert got == expected
