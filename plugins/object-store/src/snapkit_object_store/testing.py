"""Test helpers: a moto S3 server on loopback, stores on it, and the conformance kit's hooks.

:class:`MotoServer` starts ``python -m moto.server`` on a free loopback port as a subprocess
and stops it; moto 5.1.5 and later enforce ``If-None-Match`` and ``If-Match`` on PutObject,
which the store's guarantees rest on. A missing moto is an error, never a skip.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

from snapkit_object_store.client import Target, make_client
from snapkit_object_store.store import ObjectStore

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """A moto S3 server process on ``127.0.0.1`` (:meth:`start` it, :meth:`stop` it)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> MotoServer:
        import moto  # noqa: F401 - a missing moto fails here, loudly

        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **CREDENTIALS},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not listen on port {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def client(self) -> Any:
        return make_client(
            Target(self.endpoint_url, "unused", "", "us-east-1"),
            access_key_id="testing",
            secret_access_key="testing",
        )

    def make_bucket(self, name: str | None = None) -> str:
        bucket = name or f"snapkit-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket


def open_store(endpoint_url: str, bucket: str, prefix: str, **settings: Any) -> ObjectStore:
    """Open the ``s3`` store at ``endpoint_url``/``bucket``/``prefix`` with test credentials."""
    return ObjectStore.from_settings(
        {
            "endpoint_url": endpoint_url,
            "bucket": bucket,
            "prefix": prefix,
            "access_key_id": "testing",
            "secret_access_key": "testing",
            **settings,
        }
    )


def damage_part(store: ObjectStore, sha256: str, how: str) -> None:
    """Damage a stored part in place: ``flip`` one bit, ``truncate`` it, or ``delete`` it."""
    key = store.keys.part(sha256)
    bucket = store.target.bucket
    if how == "delete":
        store.client.delete_object(Bucket=bucket, Key=key)
        return
    data = bytearray(store.client.get_object(Bucket=bucket, Key=key)["Body"].read())
    if how == "flip":
        data[len(data) // 2] ^= 0x01
    elif how == "truncate":
        data = data[: len(data) // 2]
    else:
        raise ValueError(f"unknown damage {how!r}")
    store.client.put_object(Bucket=bucket, Key=key, Body=bytes(data))


def _pack_bytes(store: ObjectStore, name: str) -> bytearray:
    key = store.keys.pack(name)
    return bytearray(store.client.get_object(Bucket=store.target.bucket, Key=key)["Body"].read())


def damage_pack(store: ObjectStore, sha256: str, how: str) -> None:
    """Damage the first pack holding chunks of chunked part ``sha256`` in place: ``flip`` a
    bit in its middle (inside a frame of chunks), ``truncate`` it, or ``delete`` it."""
    raw = store._raw_list(sha256)
    if raw is None:
        raise ValueError(f"part {sha256} is stored whole: it has no packs")
    name = raw.packs[raw.runs[0][0]].name
    key = store.keys.pack(name)
    bucket = store.target.bucket
    if how == "delete":
        store.client.delete_object(Bucket=bucket, Key=key)
        return
    data = _pack_bytes(store, name)
    if how == "flip":
        data[len(data) // 3] ^= 0x10
    elif how == "truncate":
        del data[len(data) // 2 :]
    else:
        raise ValueError(f"unknown damage {how!r}; use flip, truncate or delete")
    store.client.put_object(Bucket=bucket, Key=key, Body=bytes(data))


def damage_chunk(store: ObjectStore, sha256: str, position: int, how: str) -> None:
    """Damage the stored bytes of chunk ``position`` of chunked part ``sha256``: ``flip`` a bit
    in the middle of the compressed frame holding it, or ``delete`` the pack holding it."""
    listed = store._listed(sha256)
    if listed is None:
        raise ValueError(f"part {sha256} is stored whole: it has no chunks")
    name = listed.packs[listed.pack_of[position]].name
    key = store.keys.pack(name)
    bucket = store.target.bucket
    if how == "delete":
        store.client.delete_object(Bucket=bucket, Key=key)
        return
    if how != "flip":
        raise ValueError(f"unknown damage {how!r}; use flip or delete")
    data = _pack_bytes(store, name)
    data[listed.frame_starts[position] + listed.frame_sizes[position] // 2] ^= 0x10
    store.client.put_object(Bucket=bucket, Key=key, Body=bytes(data))


def damage_manifest(store: ObjectStore, snapshot_id: str) -> None:
    """Change one byte of a stored manifest."""
    key = store.keys.manifest(snapshot_id)
    bucket = store.target.bucket
    data = bytearray(store.client.get_object(Bucket=bucket, Key=key)["Body"].read())
    at = data.index(b'"value"') + 2
    data[at] = ord("w") if data[at] != ord("w") else ord("x")
    store.client.put_object(Bucket=bucket, Key=key, Body=bytes(data))
