"""The cache-backend protocol and the oracle cache built on it (docs/cache.md).

Two layers, one job each:

- a **backend** (:class:`CacheBackend`, a plugin kind registered through
  ``snapkit_register_cache_backends``) stores opaque bytes under string keys and owns the
  storage policy: time to live, capacity (least recently used goes first), revisit retention
  (:meth:`CacheBackend.touch` renews every live entry of a group) and miss coalescing
  (:meth:`CacheBackend.get_or_load`: concurrent misses on one key run one load);
- the **oracle cache** (:class:`OracleCache`) is the stable API the assembler, the coordinator's
  driver and (when ``refresh.use_cache = true``) refresh talk to. It owns the keys — oracle key,
  oracle version and scope identity (:func:`cache_key`) — the group of a scope's container
  (:func:`container_group`), the identity guard on writes and the encoding of a result.

Only results that loaded (status ``ok``) are cached; a failure is never cached. A cached result
comes back with source ``cache`` and the token of the request that read it. Record streams are
cached with their canonical JSON Lines bytes, so a hit rebuilds the same part (same SHA-256).

Nothing here knows the coordinator: the coordinator plans cache actions, its driver calls this
module (FR-010).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from attrs import frozen

from snapkit.canonical import canonical_bytes, content_id
from snapkit.contracts import OracleResult, PartRef, Scope
from snapkit.errors import ConfigError, SnapkitError

if TYPE_CHECKING:
    from snapkit.config import Config
    from snapkit.manager import PluginManager

ENTRY_FORMAT = "snapkit.cache-entry/1"

log = logging.getLogger("snapkit.cache")

# -- errors --------------------------------------------------------------------------------


class CacheError(SnapkitError):
    """A cache backend could not do what was asked."""


class CacheUnavailableError(CacheError):
    """The cache backend cannot be reached (a server is down, a connection was refused)."""


class CacheValueError(CacheError):
    """A value given to or read from the cache is not what the protocol allows (bytes), or a
    stored entry cannot be decoded."""


class UnknownCacheBackendError(ConfigError):
    """``[cache] kind`` names a backend no installed plugin registers."""


# -- the backend protocol ----------------------------------------------------------------------


Loader = Callable[[], "bytes | None"]
"""Loads a missing value: returns its bytes, or ``None`` for "nothing to cache"."""


@frozen
class Loaded:
    """What :meth:`CacheBackend.get_or_load` returns: the value (``None`` if the loader had
    nothing to cache) and whether *this* call ran the loader."""

    value: bytes | None
    loaded: bool


@runtime_checkable
class CacheBackend(Protocol):
    """Storage policy for cached oracle results: bytes under string keys, in groups.

    A backend is built by its descriptor's ``factory(settings)``; every first-party backend
    takes ``ttl`` (seconds an entry lives after its last write or touch) and ``capacity``
    (entries kept; the least recently used goes first). Methods are safe to call from several
    threads. They raise :class:`CacheError` subclasses only.
    """

    def get(self, key: str) -> bytes | None:
        """Return the live value under ``key`` (and count it as used), or ``None``."""
        ...

    def put(self, key: str, value: bytes, *, group: str) -> None:
        """Store ``value`` under ``key`` as a member of ``group`` (its container), with the
        backend's TTL, evicting the least recently used entries beyond capacity.

        :raises CacheValueError: if ``value`` is not bytes.
        """

    def get_or_load(self, key: str, loader: Loader, *, group: str) -> Loaded:
        """Return the value under ``key``; on a miss run ``loader`` and store what it returns.

        Concurrent misses on one key run ``loader`` once: the others wait and get its value.
        If the loader raises, the calling thread gets the exception, nothing is stored, and
        waiters get the same exception; a later call loads again.
        """
        ...

    def touch(self, group: str) -> int:
        """Revisit retention: renew the TTL and recency of every live entry of ``group``;
        return how many were renewed."""
        ...

    def delete(self, key: str) -> bool:
        """Remove ``key``; return whether it was there."""
        ...

    def clear(self) -> None:
        """Remove every entry of this cache."""

    def close(self) -> None:
        """Release connections and threads; the backend is not used afterwards."""


def require_bytes(value: object) -> bytes:
    """Return ``value`` if it is bytes, else raise :class:`CacheValueError` (for backends)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise CacheValueError(
        f"a cache value must be bytes, not {type(value).__name__}",
        hint="the oracle cache encodes results; pass its bytes through",
    )


# -- keys --------------------------------------------------------------------------------------


def cache_key(scope: Scope, oracle: str, version: str) -> str:
    """The key of one oracle's result for one scope: scope identity, oracle key, version.

    A new oracle version never reads an old version's entries.
    """
    return f"{scope.id}:{oracle}:{version}"


def container_group(scope: Scope) -> str:
    """The group revisit retention renews: the scope's namespace, context and container
    (filters excluded, so revisiting a class keeps its entries for every filter set)."""
    return content_id(
        {"namespace": scope.namespace, "context": scope.context, "container": scope.container}
    )


# -- the oracle cache --------------------------------------------------------------------------


@frozen
class CacheHit:
    """A result read from the cache, and the bytes of its record stream if it has one."""

    result: OracleResult
    part_data: bytes | None = None


class OracleCache:
    """The stable cache API for oracle results, over any :class:`CacheBackend`.

    ::

        cache = OracleCache(backend)
        hits = cache.lookup(scope, {"roster": "1", "results": "1"}, token="t1")
        cache.write(scope, result)           # identity-guarded; failures are not cached
        cache.touch(scope)                   # revisit retention for the scope's container
    """

    def __init__(self, backend: CacheBackend, *, kind: str = "") -> None:
        self.backend = backend
        self.kind = kind or type(backend).__name__

    def lookup(
        self, scope: Scope, oracles: Mapping[str, str], token: str | None = None
    ) -> dict[str, CacheHit]:
        """Return the cached results among ``oracles`` (key -> version), by key.

        Hits come back with source ``cache`` and request token ``token``.
        """
        hits: dict[str, CacheHit] = {}
        for oracle in sorted(oracles):
            version = oracles[oracle]
            key = cache_key(scope, oracle, version)
            raw = self.backend.get(key)
            if raw is None:
                continue
            try:
                hit = decode_entry(raw, token)
            except CacheValueError as exc:  # a damaged or foreign entry is a miss
                log.warning(
                    "oracle cache (%s): dropping an unreadable entry for oracle %r: %s",
                    self.kind,
                    oracle,
                    exc.message,
                )
                self.backend.delete(key)
                continue
            if (hit.result.oracle, hit.result.version, hit.result.scope_id) == (
                oracle,
                version,
                scope.id,
            ):
                hits[oracle] = hit
        return hits

    def write(self, scope: Scope, result: OracleResult, part_data: bytes | None = None) -> bool:
        """Store a loaded result for its own ``(scope, oracle, version)``; return whether it
        was stored.

        Identity guard: the result's scope identity must be ``scope``'s, its status ``ok``;
        a record stream is stored only with its bytes (``part_data``) and only if they hash to
        the part's SHA-256. Anything else is not written (never an error: a stale or failed
        result simply does not warm the cache).
        """
        entry = encode_entry(scope, result, part_data)
        if entry is None:
            return False
        self.backend.put(
            cache_key(scope, result.oracle, result.version), entry, group=container_group(scope)
        )
        return True

    def get_or_load(
        self,
        scope: Scope,
        oracle: str,
        version: str,
        load: Callable[[], tuple[OracleResult, bytes | None]],
        token: str | None = None,
    ) -> tuple[CacheHit, bool]:
        """Return the cached result of ``oracle``, or run ``load`` once for every concurrent
        caller (miss coalescing) and cache what it returns if it loaded.

        Returns the hit and whether this call ran ``load``. A load whose result is not
        cacheable (a failure) is returned to its caller only; a waiter then loads itself.
        """
        box: list[tuple[OracleResult, bytes | None]] = []

        def loader() -> bytes | None:
            result, part_data = load()
            box.append((result, part_data))
            return encode_entry(scope, result, part_data)

        outcome = self.backend.get_or_load(
            cache_key(scope, oracle, version), loader, group=container_group(scope)
        )
        if box:
            result, part_data = box[0]
            return CacheHit(result, part_data), True
        if outcome.value is None:  # the coalesced load failed: load for ourselves
            result, part_data = load()
            self.write(scope, result, part_data)
            return CacheHit(result, part_data), True
        return decode_entry(outcome.value, token), False

    def touch(self, scope: Scope) -> int:
        """Renew the entries of ``scope``'s container (revisit retention)."""
        return self.backend.touch(container_group(scope))

    def close(self) -> None:
        """Close the backend."""
        self.backend.close()


def encode_entry(
    scope: Scope, result: OracleResult, part_data: bytes | None = None
) -> bytes | None:
    """Encode a loaded result as a cache entry, or return ``None`` if it may not be cached."""
    if result.status != "ok" or result.scope_id != scope.id:
        return None
    header: dict[str, Any] = {
        "format": ENTRY_FORMAT,
        "oracle": result.oracle,
        "version": result.version,
        "scope_id": result.scope_id,
        "payload": result.payload,
        "part": None,
    }
    if result.part is not None:
        if part_data is None:
            return None
        from snapkit.canonical import sha256_hex

        if sha256_hex(part_data) != result.part.sha256:
            return None
        part = result.part
        header["part"] = {
            "name": part.name,
            "sha256": part.sha256,
            "records": part.records,
            "bytes": part.bytes,
            "oracle": part.oracle,
            "key_column": part.key_column,
        }
    body = canonical_bytes(header) + b"\n"
    return body + part_data if part_data is not None and result.part is not None else body


def decode_entry(raw: bytes, token: str | None = None) -> CacheHit:
    """Decode a cache entry into a result with source ``cache``.

    :raises CacheValueError: if the bytes are not an entry this version wrote.
    """
    head, _, rest = bytes(raw).partition(b"\n")
    try:
        header = json.loads(head)
    except ValueError:
        raise CacheValueError(
            "a cache entry is not valid JSON",
            hint="clear the cache; another program may share its keys",
        ) from None
    if not isinstance(header, dict) or header.get("format") != ENTRY_FORMAT:
        raise CacheValueError(
            "a cache entry has an unknown format", hint="clear the cache after upgrading snapkit"
        )
    try:
        part = PartRef(**header["part"]) if header["part"] else None
        result = OracleResult(
            header["oracle"],
            header["version"],
            header["scope_id"],
            token,
            "ok",
            "cache",
            payload=header["payload"],
            part=part,
        )
    except (KeyError, TypeError, ValueError):
        raise CacheValueError(
            "a cache entry lacks fields this version needs",
            hint="clear the cache after upgrading snapkit",
        ) from None
    return CacheHit(result, rest if part is not None else None)


# -- configuration -----------------------------------------------------------------------------


def cache_problem(manager: PluginManager, kind: str | None) -> str | None:
    """Say what is wrong with ``[cache] kind``, or ``None`` (no cache configured is fine)."""
    if kind is None or kind in manager.cache_backends:
        return None
    known = sorted(manager.cache_backends.keys())
    if known:
        what = (
            f"installed: {', '.join(known)}; use one of them or install the plugin that "
            f"provides {kind!r}"
        )
    else:
        what = "none is installed; install snapkit-cache (memory, redis) or remove [cache]"
    return f"[cache] kind = {kind!r}: no cache backend {kind!r} is installed ({what})"


def validate_cache_config(config: Config, manager: PluginManager) -> None:
    """Check ``[cache]``: the kind is installed and the settings match its schema.

    :raises UnknownCacheBackendError: if the kind is not installed.
    :raises ConfigError: naming the key, if the settings do not match.
    """
    problem = cache_problem(manager, config.cache_kind)
    if problem is not None:
        raise UnknownCacheBackendError(f"{config.where}: {problem}")
    if config.cache_kind is None:
        return
    schema = manager.cache_backends.get(config.cache_kind).settings_schema
    if schema is not None:
        from snapkit.config import validate_against

        validate_against(dict(config.cache_settings), schema, config.where, "cache")


def open_cache(config: Config, manager: PluginManager) -> OracleCache | None:
    """Build the configured cache (``[cache]``), or return ``None`` when none is configured.

    :raises UnknownCacheBackendError, ConfigError: see :func:`validate_cache_config`.
    """
    validate_cache_config(config, manager)
    if config.cache_kind is None:
        return None
    descriptor = manager.cache_backends.get(config.cache_kind)
    backend = descriptor.factory(config.plugin_settings("cache_backend", descriptor.key))
    return OracleCache(backend, kind=descriptor.key)


def versions_of(manager: PluginManager, keys: Sequence[str]) -> dict[str, str]:
    """The registered version of each oracle in ``keys`` (what cache keys are made of)."""
    return {key: manager.oracles.get(key).version for key in keys}
