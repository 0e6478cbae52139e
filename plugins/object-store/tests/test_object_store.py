"""The object store's own behaviour beyond the kit: lost answers, recovery, large parts, errors."""

from __future__ import annotations

import json
import os
import tracemalloc
import uuid
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

import snapkit_object_store.commit as commit_module
from snapkit.chunking import CHUNK_TARGET
from snapkit.errors import StoreError
from snapkit.store import (
    ChunkedPartReader,
    PartBlockReader,
    PartRangeReader,
    SnapshotStore,
    StoreLocation,
)
from snapkit.testing.store_kit import commit, record_lines
from snapkit_object_store.store import ObjectStore
from snapkit_object_store.testing import MotoServer, open_store


def _on_pointer_put(store: ObjectStore, stage: str, exc: Exception) -> list[int]:
    """Raise ``exc`` from the pointer's PutObject: once after the call (the answer lost), or
    before every send (botocore's retries included: the write never arrives)."""
    fired: list[int] = []

    def hook(params: Any = None, model: Any = None, request: Any = None, **_kw: Any) -> Any:
        url = request.url if request is not None else ""
        key = params.get("Key") if isinstance(params, dict) else None
        if not (str(url).endswith("/pointer.json") or key == store.keys.pointer):
            return None
        fired.append(1)
        raise exc

    if stage == "after-call":

        def after(
            http_response: Any = None,
            parsed: Any = None,
            model: Any = None,
            context: Any = None,
            **_kw: Any,
        ) -> None:
            if not fired and context and context.get("pointer"):
                fired.append(1)
                raise exc

        def mark(params: Any = None, context: Any = None, **_kw: Any) -> None:
            if params.get("Key") == store.keys.pointer:
                context["pointer"] = True

        store.client.meta.events.register("before-parameter-build.s3.PutObject", mark)
        store.client.meta.events.register("after-call.s3.PutObject", after)
    else:
        store.client.meta.events.register("before-send.s3.PutObject", hook)
    return fired


def test_a_lost_answer_after_the_pointer_write_counts_as_committed(store: ObjectStore) -> None:
    first = commit(store, payload=1, records={"t": [{"id": 1}]})
    fired = _on_pointer_put(
        store, "after-call", ReadTimeoutError(endpoint_url=store.target.endpoint_url or "")
    )
    second = commit(store, payload=2, records={"t": [{"id": 2}]})
    assert fired, "the injected loss never happened"
    assert second.pointer is not None and second.pointer.generation == 2
    assert store.read_pointer() == second.pointer
    moves = [e for e in store.history() if e.event == "pointer_moved"]
    assert [(e.snapshot_id, e.generation) for e in moves] == [
        (first.snapshot_id, 1),
        (second.snapshot_id, 2),
    ]
    assert store.verify().ok


def test_a_pointer_write_that_never_arrived_fails_and_leaves_the_pointer(
    store: ObjectStore,
) -> None:
    first = commit(store, payload=1)
    fired = _on_pointer_put(
        store, "before-send", EndpointConnectionError(endpoint_url=store.target.endpoint_url)
    )
    with pytest.raises(StoreError, match="did not move the pointer"):
        commit(store, payload=2)
    assert fired
    assert store.read_pointer() == first.pointer
    assert store.verify().ok


def test_a_damaged_pointer_is_recovered_to_the_last_verified_move(store: ObjectStore) -> None:
    a = commit(store, payload="A", records={"t": [{"id": 1}]})
    b = commit(store, payload="B", records={"t": [{"id": 2}]})
    store.client.put_object(Bucket=store.target.bucket, Key=store.keys.pointer, Body=b"{oops")
    report = store.verify()
    assert report.pointer_recovered and not report.ok
    pointer = store.read_pointer()
    assert pointer is not None and pointer.snapshot_id == b.snapshot_id
    assert pointer.generation == 3
    assert store.verify().ok
    assert a.snapshot_id in {i.id for i in store.list()}


def test_a_lost_pointer_is_recovered_by_a_read(store: ObjectStore) -> None:
    good = commit(store, payload="good", records={"t": [{"id": 1}]})
    store.client.delete_object(Bucket=store.target.bucket, Key=store.keys.pointer)
    current = store.latest_successful()
    assert current is not None and current.id == good.snapshot_id
    assert store.take_recovery_flag()
    assert store.verify().ok


def test_a_crash_between_the_pointer_and_its_history_event_is_healed(
    store: ObjectStore,
) -> None:
    commit(store, payload=1)
    second = commit(store, payload=2)
    assert second.pointer is not None
    moves = [
        k["Key"] for k in store._list(store.keys.history, "test") if "-pointer_moved-" in k["Key"]
    ]
    store.client.delete_object(Bucket=store.target.bucket, Key=moves[-1])
    store._history_cache.clear()
    third = commit(store, payload=3)
    generations = [e.generation for e in store.history() if e.event == "pointer_moved"]
    assert generations == [1, 2, 3]
    assert third.pointer is not None and third.pointer.generation == 3


@pytest.mark.parametrize("chunk_size", [0, CHUNK_TARGET], ids=["whole", "chunked"])
def test_a_large_part_goes_up_in_pieces_and_reads_back_with_memory_flat(
    moto_server: MotoServer, bucket: str, monkeypatch: pytest.MonkeyPatch, chunk_size: int
) -> None:
    monkeypatch.setattr(commit_module, "MULTIPART_THRESHOLD", 6 << 20)
    monkeypatch.setattr(commit_module, "MULTIPART_CHUNK", 5 << 20)
    store = open_store(
        moto_server.endpoint_url, bucket, f"big-{uuid.uuid4().hex[:8]}", chunk_size=chunk_size
    )

    def line() -> bytes:
        return json.dumps({"blob": os.urandom(3000).hex()}).encode() + b"\n"

    width = len(line())
    count = (24 << 20) // width
    txn = store.begin()
    tracemalloc.start()
    try:
        writer = txn.part_writer()
        for _ in range(count):  # random lines: zstd halves them at best
            writer.write(line())
        sha, size = writer.close()
        from snapkit.contracts import PartRef
        from snapkit.testing.store_kit import manifest

        ref = PartRef(name="big", sha256=sha, records=count, bytes=size, oracle="big")
        txn.commit(manifest(payload="big", parts=[ref]), move_pointer=True, expected_generation=0)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == count * width and size > 20 << 20
    assert peak < size // 2, f"peak {peak} bytes for a {size}-byte part"
    if chunk_size:
        raw = store._raw_list(sha)
        assert raw is not None and len(raw.packs) == 1
        key = store.keys.pack(raw.packs[0].name)
    else:
        assert store.part_chunks(sha) is None
        key = store.keys.part(sha)
    head = store.client.head_object(Bucket=store.target.bucket, Key=key)
    assert "-" in head["ETag"], "the object was not a multipart upload"
    tracemalloc.start()
    try:
        read = 0
        with store.open_part(sha) as handle:
            while block := handle.read(1 << 16):
                read += len(block)
        assert read == size
        assert sum(len(b) for b in store.iter_part_blocks(sha)) == size
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a chunked read holds the frames in flight (4 of about 1 MiB, compressed and plain)
    assert peak < min(size // 2, 12 << 20), f"peak {peak} bytes reading a {size}-byte part"
    assert store.verify().ok


def test_a_part_written_again_is_uploaded_only_if_absent(store: ObjectStore) -> None:
    rows = [{"id": i} for i in range(50)]
    first = commit(store, payload=1, records={"t": rows})
    sha = store.get(first.snapshot_id).part("t").sha256
    before = store.client.head_object(Bucket=store.target.bucket, Key=store.keys.part(sha))
    commit(store, payload=2, records={"t": rows})
    after = store.client.head_object(Bucket=store.target.bucket, Key=store.keys.part(sha))
    assert after["LastModified"] == before["LastModified"]
    assert list(store.iter_part_lines(sha)) == record_lines(rows)


def test_the_store_says_where_it_lives_without_secrets(
    moto_server: MotoServer, bucket: str
) -> None:
    store = open_store(
        moto_server.endpoint_url, bucket, "/team/north/", secret_access_key="very-secret-value"
    )
    assert isinstance(store, SnapshotStore) and isinstance(store, StoreLocation)
    assert isinstance(store, PartBlockReader) and isinstance(store, PartRangeReader)
    assert isinstance(store, ChunkedPartReader)
    assert store.location == f"s3://{bucket}/team/north/ at {moto_server.endpoint_url}"
    assert "secret" not in repr(store) and "testing" not in store.location


def test_an_unreachable_endpoint_is_a_one_line_store_error(tmp_path: Path) -> None:
    from snapkit_object_store.testing import free_port

    store = open_store(f"http://127.0.0.1:{free_port()}", "nowhere", "p", connect_timeout=0.5)
    for action in (store.read_pointer, store.list, store.begin):
        with pytest.raises(StoreError) as caught:
            action()
        message = str(caught.value)
        assert "cannot reach the S3 endpoint" in message and "\n" not in message
        assert "testing" not in message


def test_a_missing_bucket_is_named(moto_server: MotoServer) -> None:
    store = open_store(moto_server.endpoint_url, "no-such-bucket-here", "p")
    with pytest.raises(StoreError, match="bucket 'no-such-bucket-here' does not exist"):
        store.read_pointer()


@pytest.fixture(scope="module")
def strict_server() -> Any:
    """A moto server that checks credentials against its (empty) IAM: every key is wrong."""
    server = MotoServer()
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    try:
        server.start()
    finally:
        del os.environ["INITIAL_NO_AUTH_ACTION_COUNT"]
    yield server
    server.stop()


def test_wrong_credentials_are_a_one_line_store_error_and_write_nothing(
    strict_server: MotoServer,
) -> None:
    store = open_store(
        strict_server.endpoint_url, "any-bucket", "p", secret_access_key="wrong-secret"
    )
    for action in (store.read_pointer, store.begin, lambda: commit(store, payload=1)):
        with pytest.raises(StoreError) as caught:
            action()
        message = str(caught.value)
        assert "refused the credentials" in message and "\n" not in message
        assert "wrong-secret" not in message


def test_the_plugin_registers_the_s3_store_with_its_schema(
    moto_server: MotoServer, bucket: str
) -> None:
    import jsonschema

    from snapkit_object_store import plugin

    (ep,) = [ep for ep in entry_points(group="snapkit") if ep.name == "object-store"]
    assert ep.load() is plugin
    found: list[Any] = []
    plugin.snapkit_register_stores(found.append)
    (descriptor,) = found
    assert descriptor.key == "s3" and descriptor.kind == "store"
    jsonschema.Draft202012Validator.check_schema(descriptor.settings_schema)
    assert descriptor.settings_schema["required"] == ["bucket"]
    store = descriptor.factory(
        {
            "endpoint_url": moto_server.endpoint_url,
            "bucket": bucket,
            "prefix": "plugin-made",
            "access_key_id": "testing",
            "secret_access_key": "testing",
        }
    )
    assert store.key == "s3" and not store.exists()
