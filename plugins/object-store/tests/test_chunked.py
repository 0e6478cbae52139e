"""Chunked parts in the object store: packs shared between snapshots, old whole parts still
read, prune keeping shared packs, verify finding damage, a commit killed between its pack and
its chunk list (docs/stores.md, "S3 (object storage)")."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from snapkit.errors import StoreError
from snapkit.store import ChunkedPartReader, RetentionPolicy
from snapkit.testing.store_kit import commit, record_lines
from snapkit_object_store.store import ObjectStore
from snapkit_object_store.testing import MotoServer, damage_chunk, damage_pack, open_store

OpenStore = Callable[..., ObjectStore]


@pytest.fixture
def open_prefix(moto_server: MotoServer, bucket: str) -> OpenStore:
    """``open_prefix(**settings)``: a handle on this test's store (same prefix every call)."""
    prefix = f"chunked-{uuid.uuid4().hex[:8]}"
    return lambda **settings: open_store(moto_server.endpoint_url, bucket, prefix, **settings)


def _rows(count: int, day: int = 0, changed: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    return [
        {"id": i, "name": f"person {i}", "grade": i % 12, "day": day if i in changed else 0}
        for i in range(count)
    ]


def _part(store: ObjectStore, snapshot_id: str) -> str:
    return store.get(snapshot_id).part("t").sha256


def _packs(store: ObjectStore) -> dict[str, int]:
    return {
        str(item["Key"]): int(item["Size"])
        for item in store._list(store.keys.packs, "test: listing packs")
    }


def _read(store: ObjectStore, sha: str) -> bytes:
    with store.open_part(sha) as handle:
        return handle.read()


def test_a_changed_row_stores_a_small_pack_and_shares_the_rest(open_prefix: OpenStore) -> None:
    store = open_prefix()
    first = commit(store, payload=1, records={"t": _rows(20_000)})
    packs_after_first = _packs(store)
    rows = _rows(20_000, day=2, changed=(7_777,))
    second = commit(store, payload=2, records={"t": rows})
    new = {k: v for k, v in _packs(store).items() if k not in packs_after_first}
    assert len(packs_after_first) == 1 and len(new) == 1
    assert sum(new.values()) < sum(packs_after_first.values()) // 20
    sha = _part(store, second.snapshot_id)
    raw = store._raw_list(sha)
    assert raw is not None and len(raw.packs) == 2, "the second list references both packs"
    assert _read(store, sha) == b"".join(record_lines(rows))
    assert list(store.iter_part_lines(_part(store, first.snapshot_id))) == record_lines(
        _rows(20_000)
    )
    assert store.verify().ok


def test_part_chunks_costs_the_list_and_one_index_read_per_pack(open_prefix: OpenStore) -> None:
    store = open_prefix()
    last = None
    rows = _rows(20_000)
    for day in range(3):
        rows[day * 5_000] = {**rows[day * 5_000], "day": day + 1}  # changes accumulate
        last = commit(store, payload=day, records={"t": rows})
    assert last is not None
    sha = _part(store, last.snapshot_id)
    fresh = open_prefix()
    raw = fresh._raw_list(sha)
    assert raw is not None and len(raw.packs) == 3
    sent: list[str] = []
    fresh.client.meta.events.register(
        "before-send.s3.GetObject", lambda request, **_kw: sent.append(request.url)
    )
    table = fresh.part_chunks(sha)
    assert table is not None and sum(table.rows) == 20_000
    assert len(sent) == 1 + 3, sent
    assert b"".join(fresh.iter_chunks(sha, range(len(table)))) == _read(fresh, sha)


def test_stores_of_whole_parts_stay_readable_and_take_chunks_from_then_on(
    open_prefix: OpenStore,
) -> None:
    old = open_prefix(chunk_size=0)
    rows = _rows(20_000)
    first = commit(old, payload=1, records={"t": rows})
    whole = _part(old, first.snapshot_id)
    assert old.part_chunks(whole) is None and _packs(old) == {}

    store = open_prefix()
    assert isinstance(store, ChunkedPartReader)
    assert store.part_chunks(whole) is None
    assert _read(store, whole) == b"".join(record_lines(rows))
    assert b"".join(store.iter_part_blocks(whole, verify=False)) == b"".join(record_lines(rows))
    with pytest.raises(StoreError, match="stored whole"):
        list(store.iter_chunks(whole, [0]))

    again = commit(store, payload=2, records={"t": rows})  # same table: the whole part stays
    assert _part(store, again.snapshot_id) == whole and store.part_chunks(whole) is None
    assert _packs(store) == {}, "a pack went up for a part stored whole already"
    changed = _rows(20_000, day=3, changed=(5,))
    third = commit(store, payload=3, records={"t": changed})
    chunked = _part(store, third.snapshot_id)
    assert store.part_chunks(chunked) is not None
    assert _read(store, chunked) == b"".join(record_lines(changed))
    report = store.verify()
    assert report.ok and report.parts == 2


def test_too_small_a_chunk_size_is_refused_with_what_to_set(open_prefix: OpenStore) -> None:
    with pytest.raises(StoreError, match="chunk size 10 is too small") as caught:
        open_prefix(chunk_size=10)
    assert "chunk_size" in (caught.value.hint or "")
    import jsonschema

    from snapkit_object_store.plugin import SCHEMA

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"bucket": "b", "chunk_size": -1}, SCHEMA)
    jsonschema.validate({"bucket": "b", "chunk_size": 0}, SCHEMA)
    assert SCHEMA["properties"]["chunk_size"]["default"] == open_prefix().chunk_size == 768


def test_small_parts_stay_whole(open_prefix: OpenStore) -> None:
    store = open_prefix()
    result = commit(store, payload=1, records={"t": _rows(200)})
    assert store.part_chunks(_part(store, result.snapshot_id)) is None
    assert _packs(store) == {}


def test_prune_keeps_packs_a_kept_chunk_list_shares_and_deletes_the_rest(
    open_prefix: OpenStore,
) -> None:
    store = open_prefix()
    commit(store, payload=1, records={"t": _rows(20_000)})
    first_packs = set(_packs(store))
    rows = _rows(20_000, day=2, changed=(100,))
    second = commit(store, payload=2, records={"t": rows})
    report = store.prune(RetentionPolicy(keep_last=1))
    assert report.removed_snapshots == 1 and report.removed_parts == 1
    assert first_packs <= set(_packs(store)), "a pack the kept snapshot shares was deleted"
    assert _read(store, _part(store, second.snapshot_id)) == b"".join(record_lines(rows))
    assert store.verify().ok

    other = [{"id": f"x{i}", "note": "another table"} for i in range(5_000)]
    third = commit(store, payload=3, records={"t": other})
    report = store.prune(RetentionPolicy(keep_last=1))
    assert report.removed_snapshots == 1
    live = store._raw_list(_part(store, third.snapshot_id))
    assert live is not None
    assert set(_packs(store)) == {store.keys.pack(ref.name) for ref in live.packs}
    assert store.verify().ok


@pytest.mark.parametrize("how", ["flip", "truncate", "delete"])
def test_verify_reports_a_damaged_pack(open_prefix: OpenStore, how: str) -> None:
    store = open_prefix()
    result = commit(store, payload=1, records={"t": _rows(20_000)})
    sha = _part(store, result.snapshot_id)
    damage_pack(store, sha, how)
    report = store.verify()
    kinds = {problem.kind for problem in report.problems}
    assert not report.ok and "part" in kinds
    if how != "delete":
        assert "pack" in kinds
    with pytest.raises(StoreError):
        _read(open_prefix(), sha)


def test_verify_reports_a_damaged_chunk_list(open_prefix: OpenStore) -> None:
    store = open_prefix()
    result = commit(store, payload=1, records={"t": _rows(20_000)})
    sha = _part(store, result.snapshot_id)
    key = store.keys.part(sha)
    data = bytearray(store.client.get_object(Bucket=store.target.bucket, Key=key)["Body"].read())
    data[-5] ^= 0x01
    store.client.put_object(Bucket=store.target.bucket, Key=key, Body=bytes(data))
    problems = store.verify().problems
    assert [(p.kind, p.ref) for p in problems if p.kind == "part"] == [("part", sha)]
    assert "digest" in next(p.message for p in problems if p.kind == "part")
    with pytest.raises(StoreError, match="digest"):
        store.part_chunks(sha)


def test_a_damaged_chunk_is_written_again_by_the_next_refresh(open_prefix: OpenStore) -> None:
    store = open_prefix()
    first = commit(store, payload=1, records={"t": _rows(20_000)})
    old = _part(store, first.snapshot_id)
    table = store.part_chunks(old)
    assert table is not None
    damage_chunk(store, old, len(table) // 2, "flip")
    rows = _rows(20_000, day=2, changed=(3,))
    second = commit(open_prefix(), payload=2, records={"t": rows})
    sha = _part(store, second.snapshot_id)
    assert _read(open_prefix(), sha) == b"".join(record_lines(rows))
    report = open_prefix().verify()
    assert {p.ref for p in report.problems if p.kind == "part"} == {old}


def _fail_put_of(store: ObjectStore, key: str) -> list[int]:
    """Make every send of the PutObject of ``key`` fail (the process died before it)."""
    fired: list[int] = []

    def hook(request: Any = None, **_kw: Any) -> None:
        if str(request.url).split("?")[0].endswith(key):
            fired.append(1)
            raise EndpointConnectionError(endpoint_url=str(request.url))

    store.client.meta.events.register("before-send.s3.PutObject", hook)
    return fired


def test_a_commit_dying_between_its_pack_and_its_chunk_list_leaves_the_store_verified(
    open_prefix: OpenStore,
) -> None:
    store = open_prefix()
    good = commit(store, payload=1, records={"t": _rows(20_000)})
    rows = _rows(20_000, day=2, changed=(42,))
    from snapkit.canonical import sha256_hex

    sha = sha256_hex(b"".join(record_lines(rows)))
    before = set(_packs(store))
    doomed = open_prefix()
    fired = _fail_put_of(doomed, doomed.keys.part(sha))
    with pytest.raises(StoreError):
        commit(doomed, payload=2, records={"t": rows})
    assert fired
    orphans = set(_packs(store)) - before
    assert len(orphans) == 1, "the pack went up before the list"
    checker = open_prefix()
    assert checker.read_pointer() == good.pointer
    assert checker.verify().ok
    current = checker.latest_successful()
    assert current is not None and current.id == good.snapshot_id
    assert _read(checker, current.part("t").sha256) == b"".join(record_lines(_rows(20_000)))

    report = checker.prune(RetentionPolicy(keep_last=5))
    assert report.removed_snapshots == 0
    assert set(_packs(checker)) == before, "the orphan pack was not pruned"
    retried = commit(checker, payload=2, records={"t": rows})
    assert _read(open_prefix(), _part(checker, retried.snapshot_id)) == b"".join(record_lines(rows))
    assert open_prefix().verify().ok


def test_a_range_of_a_chunked_part_fetches_only_the_frame_holding_it(
    open_prefix: OpenStore,
) -> None:
    store = open_prefix()
    rows = _rows(60_000)
    result = commit(store, payload=1, records={"t": rows})
    sha = _part(store, result.snapshot_id)
    data = b"".join(record_lines(rows))
    fresh = open_prefix()
    listed = fresh._listed(sha)
    assert listed is not None and len(set(listed.frame_starts)) >= 3
    ranges: list[str] = []
    fresh.client.meta.events.register(
        "before-send.s3.GetObject",
        lambda request, **_kw: ranges.append(_range_of(request)),
    )
    middle = len(data) // 2
    assert list(fresh.read_part_ranges(sha, [(middle, 100), (middle + 50, 10)])) == [
        data[middle : middle + 100],
        data[middle + 50 : middle + 60],
    ]
    # the chunk list (its resolution kept from before), then the one frame holding both
    assert ranges == ["whole", f"bytes={_frame_range(listed, middle)}"]


def _range_of(request: Any) -> str:
    value = request.headers.get("Range", b"whole")
    return value.decode() if isinstance(value, bytes) else str(value)


def _frame_range(listed: Any, offset: int) -> str:
    from bisect import bisect_right

    position = bisect_right(listed.offsets, offset) - 1
    start, size = listed.frame_starts[position], listed.frame_sizes[position]
    return f"{start}-{start + size - 1}"


def test_a_commit_compares_each_stored_frame_once(open_prefix: OpenStore) -> None:
    store = open_prefix()
    first = commit(store, payload=1, records={"t": _rows(60_000)})
    listed = store._listed(_part(store, first.snapshot_id))
    assert listed is not None
    frames = {f"{s}-{s + z - 1}" for s, z in zip(listed.frame_starts, listed.frame_sizes)}
    writer = open_prefix()
    ranges: list[str] = []
    writer.client.meta.events.register(
        "before-send.s3.GetObject", lambda request, **_kw: ranges.append(_range_of(request))
    )
    commit(writer, payload=2, records={"t": _rows(60_000, day=2, changed=(30_000,))})
    fetched = [r.removeprefix("bytes=") for r in ranges if r.removeprefix("bytes=") in frames]
    assert sorted(fetched) == sorted(frames), "a stored frame was fetched twice, or never"


def test_a_sequential_read_fetches_neighbouring_frames_together_and_each_once() -> None:
    import zstandard

    from snapkit_object_store.packs import frames_ahead

    def pack_of(texts: list[bytes]) -> tuple[bytes, list[tuple[int, int]]]:
        body, places = b"", []
        for text in texts:
            frame = zstandard.ZstdCompressor(write_checksum=True).compress(text)
            places.append((len(body), len(frame)))
            body += frame
        return body, places

    a, a_frames = pack_of([b"a0" * 100, b"a1" * 100, b"a2" * 100])
    b, b_frames = pack_of([b"b0" * 100])
    objects = {"a": a, "b": b}
    fetched: list[tuple[str, int, int]] = []

    def fetch(pack: str, start: int, size: int) -> bytes:
        fetched.append((pack, start, size))
        return objects[pack][start : start + size]

    order = [("a", 0), ("b", 0), ("a", 1), ("a", 2), ("b", 0), ("a", 0)]
    places = {"a": a_frames, "b": b_frames}
    frames = [(pack, *places[pack][n]) for pack, n in order]
    got = list(frames_ahead(fetch, frames))
    assert got == [f"{pack}{n}".encode() * 100 for pack, n in order]
    a1, a2 = a_frames[1], a_frames[2]
    assert sorted(fetched) == sorted(
        [("a", 0, a_frames[0][1]), ("b", 0, len(b)), ("a", a1[0], a2[0] + a2[1] - a1[0])]
    ), "a1 and a2 come in one read, and the frames named again are not fetched again"
