"""Benchmark: snapshot assembly, derive_all and ZIP export of one large class (seed 000).

A deterministic class of 5,000 students x 50 line items (250,000 results) is served by inline
oracles (as a cache hit would serve them: in memory, no network), with the instructor
dashboard's projections, datasets and payload schemas. Three phases are timed, each several
times, and printed beside seed 000's budgets (p95: assembly 700 ms, derivation 300 ms, CSV
ZIP 5 s):

- snapshot assembly: a refresh from those oracle results to a committed snapshot in a file
  store (validation against the payload schemas, canonical JSON Lines, SHA-256, zstd, fsync);
- derive_all (cold): every projection from the committed snapshot, reading and decoding its
  parts from the store (nothing kept between runs);
- derive_all (warm): the same with a :class:`snapkit.projection.TableCache` that keeps the
  decoded parts between runs (a host deriving one snapshot repeatedly);
- ZIP export: the seven CSV files and manifest.json from the derived bundle.

Peak RSS is the process's high-water mark (``resource.getrusage``). Run::

    python bench/export.py [--students 5000] [--items 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BUDGETS_MS = {"snapshot assembly": 700.0, "derive_all (cold)": 300.0,
              "derive_all (warm)": 300.0, "ZIP export": 5000.0}
TARGET_RATIO = 3.0


def synthetic_class(students: int, items: int, seed: int = 0) -> dict[str, Any]:
    """A class's four oracle payloads: the class record, roster, line items, results."""
    rng = random.Random(seed)
    start = dt.date(2025, 8, 18)
    roster = [{"sourcedId": f"stu-{i:06d}", "givenName": f"Given{i % 97}",
               "familyName": f"Family{i % 331}", "identifier": str(100000 + i)}
              for i in range(students)]
    line_items = []
    for j in range(items):
        assign = start + dt.timedelta(days=2 * j)
        line_items.append({
            "sourcedId": f"li-{j:03d}", "title": f"Assignment {j + 1}",
            "assignDate": f"{assign.isoformat()}T08:00:00.000Z",
            "dueDate": f"{(assign + dt.timedelta(days=7)).isoformat()}T23:59:00.000Z",
            "category": f"cat-{j % 4}", "resultValueMin": 0.0, "resultValueMax": 100.0})
    results = []
    n = 0
    for i in range(students):
        skill = rng.random()
        for j in range(items):
            n += 1
            due = start + dt.timedelta(days=2 * j + 7)
            roll = rng.random()
            status = "not submitted" if roll < 0.05 else "exempt" if roll < 0.06 \
                else "fully graded"
            score = None if status == "exempt" else 0.0 if status == "not submitted" \
                else round(min(100.0, max(0.0, rng.gauss(40 + 55 * skill, 12))), 1)
            results.append({"sourcedId": f"res-{n:07d}", "lineItem": f"li-{j:03d}",
                            "student": f"stu-{i:06d}", "score": score, "scoreStatus": status,
                            "scoreDate": due.isoformat()})
    klass = {"sourcedId": "class-bench", "title": "Benchmark class", "classCode": "BENCH-1",
             "course": None, "school": None, "container": None}
    return {"class": klass, "roster": roster, "line_items": line_items, "results": results}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    import snapkit_serializers.plugin as serializers_plugin
    from snapkit_instructor_dashboard import keys
    from snapkit_instructor_dashboard.oracles import (
        CLASS_SCHEMA,
        LINE_ITEM_SCHEMA,
        RESULT_SCHEMA,
        ROSTER_SCHEMA,
    )
    from snapkit_instructor_dashboard.plugin import ViewsPlugin

    from snapkit.contracts import Scope
    from snapkit.export import SnapshotBundle, build_export, check_parity
    from snapkit.projection import TableCache, derive_for_project
    from snapkit.testing.engine import OraclePlugin, make_project

    data = synthetic_class(args.students, args.items)
    oracles = OraclePlugin()
    oracles.add(keys.CLASS, lambda call: data["class"], payload_schema=CLASS_SCHEMA)
    for key, name, schema in ((keys.ROSTER, "roster", ROSTER_SCHEMA),
                              (keys.LINE_ITEMS, "line_items", LINE_ITEM_SCHEMA),
                              (keys.RESULTS, "results", RESULT_SCHEMA)):
        oracles.add(key, lambda call, name=name: iter(data[name]), records=True,
                    key_column="sourcedId", payload_schema=schema)
    print(f"class: {args.students:,} students x {args.items} line items = "
          f"{len(data['results']):,} results; {args.runs} runs per phase; "
          f"Python {sys.version.split()[0]}")

    figures: dict[str, list[float]] = {name: [] for name in BUDGETS_MS}
    with tempfile.TemporaryDirectory() as folder:
        scope = {"namespace": "bench", "context": "class-bench"}
        project = make_project(Path(folder), oracles, ViewsPlugin(), serializers_plugin,
                               config={"scope": scope})
        for run in range(args.runs):
            # a new scope filter per run gives a new snapshot id: every run writes its parts
            fresh = Scope("bench", "class-bench", filters={"run": run})
            ms, outcome = timed(lambda fresh=fresh: project.refresh(scope=fresh))
            assert outcome.status == "success", outcome.errors
            figures["snapshot assembly"].append(ms)
        manifest = outcome.manifest
        for _ in range(args.runs):
            ms, derived = timed(lambda: derive_for_project(project, manifest))
            figures["derive_all (cold)"].append(ms)
        cache = TableCache()
        derive_for_project(project, manifest, cache=cache)  # fills the cache
        for _ in range(args.runs):
            ms, derived = timed(lambda: derive_for_project(project, manifest, cache=cache))
            figures["derive_all (warm)"].append(ms)
        statuses = {r.status for r in derived.results.values()}
        assert statuses == {"ready"}, derived.statuses()
        bundle = SnapshotBundle.from_projection_set(manifest, derived)
        for _ in range(args.runs):
            ms, (zip_bytes, export_manifest, status) = timed(
                lambda: build_export(bundle, keys.PROFILE, project.manager))
            figures["ZIP export"].append(ms)
        parity = check_parity(zip_bytes, project.manager, bundle=bundle)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"\n{'phase':<18} {'median':>9} {'max':>9} {'budget':>9} {'budget/max':>11}  "
          f"target (>= {TARGET_RATIO:g}x)")
    for name, values in figures.items():
        budget = BUDGETS_MS[name]
        worst = max(values)
        ratio = budget / worst
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(f"{name:<18} {statistics.median(values):>7.0f}ms {worst:>7.0f}ms "
              f"{budget:>7.0f}ms {ratio:>10.2f}x  {verdict}")
    print(f"\nZIP: {len(zip_bytes):,} bytes, {len(export_manifest.resources)} files, "
          f"status {status}; parity {'ok' if parity.ok else 'MISMATCH'}")
    print(f"peak RSS: {peak_mb:,.0f} MB (includes the {len(data['results']):,} in-memory "
          "oracle records the benchmark generates)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
