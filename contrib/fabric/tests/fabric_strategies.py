"""Hypothesis strategies for Fabric reports (shared by the property tests)."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import strategies as st

# A small pool of names makes both reports share engines, profiles and job ids often.
names = st.one_of(
    st.sampled_from(["ffmpeg", "resolve", "x264", "resolve_prores", "Zed", "ébène"]),
    st.text(max_size=4),
)
job_ids = st.one_of(st.sampled_from([f"job-{n:03d}" for n in range(8)]), st.text(max_size=6))
counts = st.integers(min_value=-(10**6), max_value=10**12)
rates = st.one_of(
    st.sampled_from([0.0, 0.1, 0.2, 0.3, 0.1 + 0.2, 0.033, 0.00005, 1.0, 0, 1]),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
)
json_leaves = st.one_of(st.none(), st.booleans(), counts, rates, st.text(max_size=5))


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


engine = _optional(jobs=counts, failures=counts, failure_rate=rates, extra=json_leaves)
profile = _optional(jobs=counts, failure_rate=rates)

reports = _optional(
    generated_at=st.text(max_size=25),
    execution_summary=_optional(
        total_jobs=counts, completed=counts, failed=counts, validation_failed=counts
    ),
    failure_summary=st.dictionaries(names, st.dictionaries(names, counts, max_size=3), max_size=3),
    engine_health=st.dictionaries(names, engine, max_size=4),
    proxy_profile_stability=st.dictionaries(names, profile, max_size=4),
    determinism=_optional(non_deterministic_jobs=st.lists(job_ids, max_size=6), count=counts),
)


def reorder_keys(value: Any, rnd: random.Random) -> Any:
    """Rebuild every dict in *value* with its keys in a random order; lists keep their order."""
    if isinstance(value, dict):
        keys = list(value)
        rnd.shuffle(keys)
        return {key: reorder_keys(value[key], rnd) for key in keys}
    if isinstance(value, list):
        return [reorder_keys(item, rnd) for item in value]
    return value
