"""Properties of diffs (hypothesis): identity, reversal, order and hash-seed independence,
rounding once. The sections here are small test sections built on the kernel's helpers
(:func:`snapkit.diff.delta`, sets, :func:`snapkit.tablediff.diff_tables`)."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import textwrap
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapkit.contracts import DiffSection, Scope, SnapshotManifest
from snapkit.convert import to_json
from snapkit.descriptors import DiffSectionDescriptor
from snapkit.diff import DiffContext, MemoryParts, compute_diff, delta, diff_bytes
from snapkit.manager import PluginManager, PluginSelection
from snapkit.markers import hookimpl
from snapkit.tablediff import diff_tables

# -- test sections -----------------------------------------------------------------------------


class Numbers:
    def __init__(self, settings: Any) -> None:
        pass

    def compute(self, ctx: DiffContext) -> DiffSection:
        old, new = ctx.a.payloads.get("n", {}), ctx.b.payloads.get("n", {})
        keys = old.keys() | new.keys()
        data = {k: delta(old.get(k), new.get(k)) for k in keys}
        return DiffSection(
            "n",
            sum(k not in old for k in keys),
            sum(k not in new for k in keys),
            sum(k in old and k in new and data[k] != 0 for k in keys),
            False,
            data,
        )


class Ids:
    def __init__(self, settings: Any) -> None:
        pass

    def compute(self, ctx: DiffContext) -> DiffSection:
        old, new = set(ctx.a.payloads.get("ids", [])), set(ctx.b.payloads.get("ids", []))
        return DiffSection(
            "ids",
            len(new - old),
            len(old - new),
            0,
            False,
            {"added": new - old, "removed": old - new},
        )


class Rows:
    def __init__(self, settings: Any) -> None:
        self.budget = int(settings.get("budget", 1 << 20))

    def applies(self, a: SnapshotManifest, b: SnapshotManifest) -> bool:
        return bool(a.parts) and bool(b.parts)

    def compute(self, ctx: DiffContext) -> DiffSection:
        pa, pb = ctx.a.part("t"), ctx.b.part("t")
        result = diff_tables(
            lambda: ctx.line_batches(pa, chunk=97),
            lambda: ctx.line_batches(pb, chunk=89),
            "id",
            size_hint=pa.bytes,
            memory_budget=self.budget,
            max_items=ctx.max_items,
        )
        return DiffSection(
            "rows",
            result.added_count,
            result.removed_count,
            result.changed_count,
            result.truncated,
            {"added": result.added, "removed": result.removed, "changed": result.changed},
        )


class Plugin:
    @hookimpl
    def snapkit_register_diff_sections(self, register: Any) -> None:
        register(DiffSectionDescriptor(key="n", factory=Numbers))
        register(DiffSectionDescriptor(key="ids", factory=Ids))
        register(DiffSectionDescriptor(key="rows", factory=Rows))


def make_manager() -> PluginManager:
    manager = PluginManager(PluginSelection(autoload=False))
    manager.register(Plugin(), name="property-sections")
    return manager


MANAGER = make_manager()

# -- strategies --------------------------------------------------------------------------------

names = st.text("abcdefgh", min_size=1, max_size=3)
numbers = st.one_of(
    st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
)
rows = st.dictionaries(
    st.integers(0, 40),
    st.fixed_dictionaries(
        {"v": numbers, "s": st.sampled_from(["x", "y", "z"])}, optional={"w": numbers}
    ),
    max_size=25,
)
contents = st.fixed_dictionaries(
    {
        "n": st.dictionaries(names, numbers, max_size=8),
        "ids": st.lists(names, unique=True, max_size=8),
        "rows": rows,
    }
)


def build(
    content: dict[str, Any],
    parts: MemoryParts,
    rng: random.Random | None = None,
    *,
    keys_only: bool = False,
) -> SnapshotManifest:
    """A snapshot of ``content``; ``rng`` shuffles every order that must not matter (with
    ``keys_only``, only mapping key orders, which leave the snapshot id unchanged)."""
    n_items = list(content["n"].items())
    ids = list(content["ids"])
    table = [{"id": key, **value} for key, value in content["rows"].items()]
    if rng is not None:
        rng.shuffle(n_items)
    if rng is not None and not keys_only:
        rng.shuffle(ids)
        rng.shuffle(table)
        table = [dict(rng.sample(list(row.items()), len(row))) for row in table]
    part = parts.add("t", table, key_column="id")
    return SnapshotManifest(
        Scope("p"), "1", "1", "success", payloads={"n": dict(n_items), "ids": ids}, parts=(part,)
    )


def sections(diff: Any) -> dict[str, Any]:
    return {s.name: s for s in diff.sections}


def run(a: SnapshotManifest, b: SnapshotManifest, parts: MemoryParts, budget: int = 1 << 20) -> Any:
    return compute_diff(MANAGER, parts, a, b, settings={"rows": {"budget": budget}})


budgets = st.sampled_from([1 << 20, 1024])  # in memory, and partitioned to disk
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- properties --------------------------------------------------------------------------------


@SETTINGS
@given(contents, budgets)
def test_a_snapshot_diffed_with_itself_has_no_changes(content: Any, budget: int) -> None:
    parts = MemoryParts()
    a = build(content, parts)
    diff = run(a, a, parts, budget)
    for section in diff.sections:
        assert (section.added, section.removed, section.changed) == (0, 0, 0)
    by_name = sections(diff)
    assert all(value == 0 for value in by_name["n"].data.values())
    assert by_name["ids"].data == {"added": [], "removed": []}
    assert by_name["rows"].data == {"added": [], "removed": [], "changed": []}


@SETTINGS
@given(contents, contents, budgets)
def test_reversing_a_diff_negates_deltas_and_swaps_added_and_removed(
    first: Any, second: Any, budget: int
) -> None:
    parts = MemoryParts()
    a, b = build(first, parts), build(second, parts)
    forward, backward = sections(run(a, b, parts, budget)), sections(run(b, a, parts, budget))
    for name in forward:
        f, r = forward[name], backward[name]
        assert (f.added, f.removed, f.changed) == (r.removed, r.added, r.changed)
    assert forward["n"].data == {k: -v for k, v in backward["n"].data.items()}
    assert forward["ids"].data["added"] == backward["ids"].data["removed"]
    assert forward["ids"].data["removed"] == backward["ids"].data["added"]
    rows_f, rows_b = forward["rows"].data, backward["rows"].data
    assert rows_f["added"] == rows_b["removed"] and rows_f["removed"] == rows_b["added"]
    assert [r["key"] for r in rows_f["changed"]] == [r["key"] for r in rows_b["changed"]]
    for one, other in zip(rows_f["changed"], rows_b["changed"]):
        assert one["fields"].keys() == other["fields"].keys()
        for field, change in one["fields"].items():
            back = other["fields"][field]
            assert change.get("from") == back.get("to") and change.get("to") == back.get("from")
            if "delta" in change:
                assert change["delta"] == -back["delta"]


@SETTINGS
@given(contents, contents, st.randoms(use_true_random=False), budgets)
def test_output_bytes_do_not_depend_on_input_order(
    first: Any, second: Any, rng: random.Random, budget: int
) -> None:
    parts = MemoryParts()
    plain = run(build(first, parts), build(second, parts), parts, budget)
    shuffled = run(build(first, parts, rng), build(second, parts, rng), parts, budget)
    # row order changes a part's hash, so the snapshot ids differ: compare the sections
    assert diff_bytes(plain.sections) == diff_bytes(shuffled.sections)  # type: ignore[arg-type]
    # key order alone leaves the ids as they are: the whole diff is byte-identical
    again = [build(first, parts), build(first, parts, rng, keys_only=True)]
    assert again[0].id == again[1].id
    assert diff_bytes(run(again[0], build(second, parts), parts, budget)) == diff_bytes(
        run(again[1], build(second, parts, rng, keys_only=True), parts, budget)
    )


@SETTINGS
@given(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-1e6, 1e6, allow_nan=False))
def test_rounding_is_done_once_on_the_difference(x: float, y: float) -> None:
    parts = MemoryParts()
    a = build({"n": {"k": x}, "ids": [], "rows": {}}, parts)
    b = build({"n": {"k": y}, "ids": [], "rows": {}}, parts)
    value = sections(run(a, b, parts))["n"].data["k"]
    expected = round(y - x, 4)
    assert value == (0.0 if expected == 0 else expected)
    assert str(value) != "-0.0"


def test_rounding_once_differs_from_rounding_each_side() -> None:
    parts = MemoryParts()
    a = build({"n": {"k": 0.12344}, "ids": [], "rows": {}}, parts)
    b = build({"n": {"k": 0.12346}, "ids": [], "rows": {}}, parts)
    assert sections(run(a, b, parts))["n"].data["k"] == 0.0  # not 0.1235 - 0.1234


SCRIPT = textwrap.dedent("""
    import hashlib, sys
    sys.path.insert(0, sys.argv[1])
    import test_diff_properties as t
    from snapkit.diff import MemoryParts, diff_bytes
    parts = MemoryParts()
    first = {"n": {w: i * 0.37 for i, w in enumerate(["zeta", "alpha", "mu", "beta"])},
             "ids": ["id-%d" % i for i in range(0, 60, 2)],
             "rows": {i: {"v": i * 1.5, "s": "x"} for i in range(300)}}
    second = {"n": {w: i * 0.41 for i, w in enumerate(["alpha", "omega", "mu"])},
              "ids": ["id-%d" % i for i in range(0, 60, 3)],
              "rows": {i: {"v": i * 1.5 + (i % 7 == 0), "s": "y" if i % 11 == 0 else "x"}
                       for i in range(20, 330)}}
    out = []
    for budget in (1 << 20, 512):
        diff = t.run(t.build(first, parts), t.build(second, parts), parts, budget)
        out.append(diff_bytes(diff))
    assert out[0] == out[1]
    print(hashlib.sha256(out[0]).hexdigest())
""")


def test_output_bytes_do_not_depend_on_the_hash_seed() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    digests = set()
    for seed in ("0", "1", "4242", "random"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT, here],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        digests.add(proc.stdout.strip())
    assert len(digests) == 1
    assert len(next(iter(digests))) == len(hashlib.sha256().hexdigest())


def test_shape_of_the_property_sections() -> None:
    parts = MemoryParts()
    a = build({"n": {"a": 1}, "ids": ["x"], "rows": {1: {"v": 1, "s": "x"}}}, parts)
    b = build({"n": {"a": 2.5}, "ids": ["y"], "rows": {1: {"v": 2, "s": "x"}}}, parts)
    data = to_json(run(a, b, parts))
    assert [s["name"] for s in data["sections"]] == ["ids", "n", "rows"]
    assert data["sections"][1]["data"] == {"a": 1.5}
    assert data["sections"][2]["data"]["changed"] == [
        {"key": 1, "fields": {"v": {"from": 1, "to": 2, "delta": 1}}}
    ]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=3), inner, max_size=4)
        | st.frozensets(st.integers() | st.text(max_size=3), max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_normalizing_plain_data_fast_equals_walking_it_with_paths(value: Any) -> None:
    from snapkit.diff import _normalize, normalize

    fast, walked = normalize(value), _normalize(value, "$")
    assert fast == walked
    assert repr(fast) == repr(walked)  # the same types too (1 is not 1.0, -0.0 becomes 0.0)
