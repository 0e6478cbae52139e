"""Registers the ``memory`` and ``redis`` cache backends (entry point ``cache``).

Importing this module is cheap: cachetools and redis load when the engine builds a backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from snapkit.descriptors import CacheBackendDescriptor
from snapkit.markers import hookimpl

VERSION = "0.1.0"

_COMMON: dict[str, Any] = {
    "ttl": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 300,
        "description": "seconds an entry lives after its last write or touch",
    },
    "capacity": {
        "type": "integer",
        "minimum": 1,
        "default": 1024,
        "description": "entries kept; the least recently used goes first",
    },
}

MEMORY_SCHEMA: Mapping[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "memory cache settings",
    "type": "object",
    "additionalProperties": False,
    "properties": dict(_COMMON),
}

_SECRET = {
    "type": "object",
    "properties": {"env": {"type": "string", "minLength": 1}},
    "required": ["env"],
    "additionalProperties": False,
}

REDIS_SCHEMA: Mapping[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "redis cache settings",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **_COMMON,
        "url": {
            "anyOf": [{"type": "string", "pattern": "^(redis|rediss|unix)://"}, _SECRET],
            "default": "redis://127.0.0.1:6379/0",
            "description": 'the server; use {env = "NAME"} when it holds a password',
        },
        "namespace": {
            "type": "string",
            "minLength": 1,
            "default": "snapkit:cache",
            "description": "prefix of every key this cache writes",
        },
        "lock_timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 30,
            "description": "seconds a load holds the coalescing lock at most",
        },
        "socket_timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 5,
            "description": "seconds a Redis call may take",
        },
    },
}


def _memory(settings: Mapping[str, Any]) -> Any:
    from snapkit_cache.memory import MemoryCache

    return MemoryCache.from_settings(settings)


def _redis(settings: Mapping[str, Any]) -> Any:
    from snapkit_cache.redis_backend import RedisCache

    return RedisCache.from_settings(settings)


@hookimpl
def snapkit_register_cache_backends(register: Callable[[Any], None]) -> None:
    register(
        CacheBackendDescriptor(
            key="memory",
            version=VERSION,
            factory=_memory,
            settings_schema=MEMORY_SCHEMA,
            description="in-process TTL + LRU cache (cachetools); one process only",
        )
    )
    register(
        CacheBackendDescriptor(
            key="redis",
            version=VERSION,
            factory=_redis,
            settings_schema=REDIS_SCHEMA,
            description="shared cache on a Redis server (redis-py); coalesces across processes",
        )
    )
