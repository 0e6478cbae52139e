"""The distribution registers the ``memory`` and ``redis`` backends with validated settings."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import jsonschema
import pytest

from snapkit.cache import CacheBackend
from snapkit.descriptors import CacheBackendDescriptor
from snapkit.testing import assert_plugin_installed
from snapkit.validation import check_schema
from snapkit_cache import plugin
from snapkit_cache.memory import MemoryCache
from snapkit_cache.redis_backend import RedisCache


def _registered() -> dict[str, CacheBackendDescriptor]:
    found: list[CacheBackendDescriptor] = []
    plugin.snapkit_register_cache_backends(found.append)
    return {d.key: d for d in found}


def test_entry_point_in_the_snapkit_group_names_the_plugin_module() -> None:
    (ep,) = [ep for ep in entry_points(group="snapkit") if ep.name == "cache"]
    assert ep.load() is plugin
    assert_plugin_installed("snapkit-cache")


def test_importing_the_plugin_loads_neither_cachetools_nor_redis() -> None:
    import subprocess

    code = (
        "import sys, snapkit_cache.plugin; "
        "print(sorted(m for m in ('cachetools', 'redis') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_both_backends_are_registered_with_valid_settings_schemas() -> None:
    descriptors = _registered()
    assert sorted(descriptors) == ["memory", "redis"]
    for descriptor in descriptors.values():
        assert descriptor.kind == "cache_backend"
        assert check_schema(descriptor.settings_schema) is None


def test_the_memory_factory_builds_from_settings() -> None:
    backend = _registered()["memory"].factory({"ttl": 12, "capacity": 3})
    assert isinstance(backend, MemoryCache) and isinstance(backend, CacheBackend)
    assert (backend.ttl, backend.capacity) == (12.0, 3)


def test_the_redis_factory_builds_from_settings_without_connecting() -> None:
    backend = _registered()["redis"].factory(
        {"url": "redis://127.0.0.1:1/0", "ttl": 5, "capacity": 9, "namespace": "app"}
    )
    assert isinstance(backend, RedisCache) and isinstance(backend, CacheBackend)
    assert (backend.ttl, backend.capacity, backend.prefix) == (5.0, 9, "app")
    backend.close()


@pytest.mark.parametrize(
    ("key", "settings"),
    [
        ("memory", {"ttl": 0}),
        ("memory", {"capacity": 0}),
        ("memory", {"url": "redis://x"}),
        ("redis", {"url": "http://example"}),
        ("redis", {"lock_timeout": -1}),
        ("redis", {"namespace": ""}),
    ],
)
def test_settings_schemas_refuse_bad_settings(key, settings) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(settings, _registered()[key].settings_schema)


def test_redis_url_may_be_a_secret_from_the_environment() -> None:
    schema = _registered()["redis"].settings_schema
    jsonschema.validate({"url": {"env": "SNAPKIT_REDIS_URL"}}, schema)
