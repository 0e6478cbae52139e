"""The assembler (get-or-build, docs/cache.md) and the kernel's cache wiring: ``[cache]`` config,
``refresh.use_cache``, ``plugins validate``."""

from __future__ import annotations

import threading

import pytest

import snapkit_cache.plugin as cache_plugin
from snapkit.assemble import Assembler
from snapkit.cache import OracleCache, UnknownCacheBackendError, open_cache
from snapkit.config import config_from_data
from snapkit.contracts import Scope
from snapkit.descriptors import ProjectionDescriptor
from snapkit.errors import ConfigError
from snapkit.markers import hookimpl
from snapkit.refresh import run_refresh
from snapkit.testing.engine import OraclePlugin, make_project

SCOPE = Scope("district", "class-1", filters={"threshold": 0.5})


def oracles(fail: set[str] | None = None) -> OraclePlugin:
    fail = fail if fail is not None else set()
    plugin = OraclePlugin()

    def load(key, value):
        def run(call):
            if key in fail:
                raise RuntimeError(f"{key} source down")
            return value(call)

        return run

    plugin.add("klass", load("klass", lambda call: {"name": call.scope.context}))
    plugin.add(
        "roster",
        load("roster", lambda call: [{"id": f"s{i}", "n": i} for i in range(5)]),
        records=True,
        key_column="id",
    )
    plugin.add(
        "results",
        load("results", lambda call: {"count": call.inputs["klass"].payload["name"]}),
        requires=["klass"],
    )
    plugin.add("extras", load("extras", lambda call: {"x": 1}), optional=True)
    return plugin


def project(tmp_path, plugin, **config):
    data = {"cache": {"kind": "memory"}, **config}
    return make_project(tmp_path, plugin, cache_plugin, config=data)


# -- get_or_build -------------------------------------------------------------------------------


def test_get_or_build_loads_everything_then_serves_it_from_the_cache(tmp_path):
    plugin = oracles()
    assembler = Assembler.from_project(project(tmp_path, plugin))
    first = assembler.get_or_build(SCOPE, "t1")
    assert first.token == "t1" and first.scope == SCOPE
    assert set(first.sources.values()) == {"loaded"}
    assert all(r.request_token == "t1" for r in first.results.values())
    calls = dict(plugin.calls)
    second = assembler.get_or_build(SCOPE, "t2")
    assert plugin.calls == calls  # nothing loaded again
    assert set(second.sources.values()) == {"cache"}
    assert all(r.request_token == "t2" for r in second.results.values())
    assert second.manifest.payloads == first.manifest.payloads
    assert second.manifest.parts == first.manifest.parts
    (part,) = second.manifest.parts
    assert [r["id"] for r in second.records(part)] == [f"s{i}" for i in range(5)]
    assert second.manifest.status == "success"


def test_get_or_build_loads_only_the_missing_oracles(tmp_path):
    plugin = oracles()
    proj = project(tmp_path, plugin)
    assembler = Assembler.from_project(proj)
    assembler.get_or_build(SCOPE, "t1", ["klass"])
    assert plugin.calls == {"klass": 1}
    bundle = assembler.get_or_build(SCOPE, "t2", ["results", "roster"])
    assert plugin.calls == {"klass": 1, "results": 1, "roster": 1}
    assert bundle.sources == {"klass": "cache", "results": "loaded", "roster": "loaded"}
    assert bundle.manifest.payloads["results"] == {"count": "class-1"}  # from a cached input


def test_a_failing_oracle_gives_an_error_envelope_and_is_not_cached(tmp_path):
    plugin = oracles(fail={"extras", "results"})
    assembler = Assembler.from_project(project(tmp_path, plugin, refresh={"attempts": 1}))
    bundle = assembler.get_or_build(SCOPE, "t1")
    assert bundle.sources == {
        "extras": "skipped_optional",
        "klass": "loaded",
        "results": "error",
        "roster": "loaded",
    }
    assert bundle.manifest.status == "failed"
    assert bundle.manifest.payloads == {"klass": {"name": "class-1"}}  # the others are kept
    assert bundle.results["results"].error.code == "oracle_exception"
    again = assembler.get_or_build(SCOPE, "t2")
    assert again.sources["results"] == "error" and again.sources["klass"] == "cache"
    assert plugin.calls["results"] == 2  # a failure is never served from the cache


def test_a_bundle_derives_projections_without_its_failed_oracles(tmp_path):
    class Projections:
        @hookimpl
        def snapkit_register_projections(self, register):
            register(
                ProjectionDescriptor(
                    key="size",
                    requires=["roster"],
                    factory=lambda s: lambda inputs: len(inputs.table("roster")),
                )
            )
            register(
                ProjectionDescriptor(
                    key="count",
                    requires=["results"],
                    factory=lambda s: lambda inputs: inputs.payload("results"),
                )
            )

    plugin = oracles(fail={"results"})
    proj = project(tmp_path, plugin, refresh={"attempts": 1})
    proj.manager.register(Projections(), name="projections")
    bundle = Assembler.from_project(proj).get_or_build(SCOPE, "t1")
    derived = bundle.project(proj.manager)
    assert derived.statuses() == {"count": "failed", "size": "ready"}
    assert derived.value("size") == 5


def test_concurrent_builds_of_one_scope_load_each_oracle_once(tmp_path):
    gate = threading.Event()
    plugin = OraclePlugin()
    plugin.add("slow", lambda call: gate.wait(0.5) and {"v": 1})
    assembler = Assembler.from_project(project(tmp_path, plugin))
    bundles = []

    def build(token):
        bundles.append(assembler.get_or_build(SCOPE, token))

    threads = [threading.Thread(target=build, args=(f"t{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(30)
    assert plugin.calls == {"slow": 1}
    assert sorted(b.token for b in bundles) == [f"t{i}" for i in range(6)]
    assert all(b.manifest.payloads == {"slow": {"v": 1}} for b in bundles)


def test_another_scope_or_oracle_version_misses(tmp_path):
    plugin = oracles()
    assembler = Assembler.from_project(project(tmp_path, plugin))
    assembler.get_or_build(SCOPE, "t1", ["klass"])
    other = assembler.get_or_build(Scope("district", "class-2"), "t2", ["klass"])
    assert other.sources == {"klass": "loaded"}
    assert other.manifest.payloads == {"klass": {"name": "class-2"}}


def test_the_assembler_runner_streams_results_to_the_coordinator_driver(tmp_path):
    import asyncio

    from snapkit.coordinator import ApplyResult, ShowComplete
    from snapkit.coordinator_driver import CoordinatorDriver

    plugin = oracles()
    proj = project(tmp_path, plugin)
    assembler = Assembler.from_project(proj)
    assembler.get_or_build(SCOPE, "warm", ["klass"])
    shown: list = []

    async def scenario():
        parts: dict[str, bytes] = {}
        driver = CoordinatorDriver(
            assembler.runner(parts),
            cache=assembler.cache,
            versions=assembler.versions,
            on_update=shown.append,
            part_data=parts,
        )
        driver.request(SCOPE, assembler.profile(["results", "roster"]))
        await driver.settle()
        return driver

    driver = asyncio.run(scenario())
    applied = {u.result.oracle: u.result.source for u in shown if isinstance(u, ApplyResult)}
    assert applied == {"klass": "cache", "results": "loaded", "roster": "loaded"}
    assert isinstance(shown[-1], ShowComplete) and driver.errors == []
    again = assembler.get_or_build(SCOPE, "t3", ["results", "roster"])
    assert set(again.sources.values()) == {"cache"}  # the driver warmed the cache, parts too


# -- [cache] configuration ----------------------------------------------------------------------


def test_open_cache_builds_the_configured_backend(tmp_path):
    proj = project(tmp_path, oracles(), cache={"kind": "memory", "ttl": 5, "capacity": 7})
    cache = open_cache(proj.config, proj.manager)
    assert isinstance(cache, OracleCache) and cache.kind == "memory"
    assert (cache.backend.ttl, cache.backend.capacity) == (5.0, 7)


def test_no_cache_section_means_no_cache(tmp_path):
    proj = make_project(tmp_path, oracles(), cache_plugin)
    assert open_cache(proj.config, proj.manager) is None
    assert Assembler.from_project(proj).cache is None


def test_an_unknown_cache_kind_is_a_config_error_naming_it(tmp_path):
    proj = project(tmp_path, oracles(), cache={"kind": "memcached"})
    with pytest.raises(UnknownCacheBackendError, match="no cache backend 'memcached'"):
        open_cache(proj.config, proj.manager)


def test_cache_settings_are_validated_against_the_backends_schema(tmp_path):
    proj = project(tmp_path, oracles(), cache={"kind": "memory", "ttl": -1})
    with pytest.raises(ConfigError, match=r"cache\.ttl"):
        open_cache(proj.config, proj.manager)
    proj = project(tmp_path, oracles(), cache={"kind": "memory", "tll": 5})
    with pytest.raises(ConfigError, match="'tll' was unexpected"):
        open_cache(proj.config, proj.manager)


def test_refresh_use_cache_is_off_by_default_and_must_be_a_boolean(tmp_path):
    assert config_from_data({}, None, tmp_path).refresh.use_cache is False
    assert (
        config_from_data({"refresh": {"use_cache": True}}, None, tmp_path).refresh.use_cache is True
    )
    with pytest.raises(ConfigError, match=r"refresh\.use_cache: expected boolean"):
        config_from_data({"refresh": {"use_cache": "yes"}}, None, tmp_path)


def test_plugins_validate_reports_an_unknown_cache_kind(snapkit_cli, tmp_path):
    (tmp_path / "snapkit.toml").write_text(
        '[plugins]\nenabled = ["cache"]\n[cache]\nkind = "memcached"\n'
    )
    run = snapkit_cli("plugins", "validate")
    assert run.returncode == 1, run
    assert "config: unknown-cache-backend: [cache] kind = 'memcached'" in run.stdout
    (tmp_path / "snapkit.toml").write_text(
        '[plugins]\nenabled = ["cache"]\n[cache]\nkind = "redis"\nurl = "http://x"\n'
    )
    run = snapkit_cli("plugins", "validate")
    assert run.returncode == 1, run
    assert "config: invalid-cache-settings:" in run.stdout and "cache.url" in run.stdout
    (tmp_path / "snapkit.toml").write_text(
        '[plugins]\nenabled = ["cache"]\n[cache]\nkind = "memory"\nttl = 60\n'
    )
    assert snapkit_cli("plugins", "validate").returncode == 0


# -- refresh.use_cache --------------------------------------------------------------------------


def _refresh(proj, cache):
    return run_refresh(
        proj.manager, proj.store, SCOPE, proj.config.refresh, proj.oracle_settings, cache=cache
    )


def test_refresh_ignores_the_cache_unless_use_cache_is_set(tmp_path):
    plugin = oracles()
    proj = project(tmp_path, plugin)
    cache = open_cache(proj.config, proj.manager)
    Assembler(proj.manager, cache=cache, settings=proj.config.refresh).get_or_build(
        SCOPE, "warm"
    )  # a warm cache...
    calls = dict(plugin.calls)
    outcome = _refresh(proj, cache)
    assert {s.source for s in outcome.manifest.oracles} == {"loaded"}  # ...is not read
    assert all(plugin.calls[k] == calls[k] + 1 for k in calls)


def test_refresh_with_use_cache_reads_and_warms_the_cache(tmp_path):
    plugin = oracles()
    proj = project(tmp_path, plugin, refresh={"use_cache": True})
    cache = open_cache(proj.config, proj.manager)
    first = _refresh(proj, cache)
    assert first.status == "success"
    second = _refresh(proj, cache)
    sources = {s.key: s.source for s in second.manifest.oracles}
    # small payloads come from the cache; a record stream is loaded (refresh streams it to
    # the store and does not keep its bytes to cache)
    assert sources == {"extras": "cache", "klass": "cache", "results": "cache", "roster": "loaded"}
    assert second.snapshot_id != "" and second.manifest.payloads == first.manifest.payloads
    assert plugin.calls["klass"] == 1 and plugin.calls["roster"] == 2


def test_refresh_with_use_cache_rebuilds_a_cached_record_stream(tmp_path):
    plugin = oracles()
    proj = project(tmp_path, plugin, refresh={"use_cache": True})
    cache = open_cache(proj.config, proj.manager)
    Assembler(proj.manager, cache=cache, settings=proj.config.refresh).get_or_build(SCOPE, "w")
    outcome = _refresh(proj, cache)
    assert {s.source for s in outcome.manifest.oracles} == {"cache"}
    assert outcome.status == "success"
    report = proj.store.verify()
    assert report.ok and report.parts == 1  # the cached part's bytes hash to its address
    (part,) = outcome.manifest.parts
    assert part.records == 5


def test_an_unreadable_cache_entry_is_dropped_and_counts_as_a_miss(tmp_path, caplog):
    from snapkit.cache import cache_key

    plugin = oracles()
    proj = project(tmp_path, plugin)
    assembler = Assembler.from_project(proj)
    assembler.get_or_build(SCOPE, "t1", ["klass"])
    version = proj.manager.oracles.get("klass").version
    key = cache_key(SCOPE, "klass", version)
    assembler.cache.backend.put(key, b"not an entry", group="g")
    bundle = assembler.get_or_build(SCOPE, "t2", ["klass"])
    assert bundle.sources == {"klass": "loaded"} and plugin.calls["klass"] == 2
    assert "dropping an unreadable entry for oracle 'klass'" in caplog.text
    assert assembler.cache.backend.get(key) is not None  # rewritten by the fresh load


def test_the_driver_refuses_an_unknown_oracle_before_changing_the_session(tmp_path):
    import asyncio

    from snapkit.coordinator_driver import CoordinatorDriver
    from snapkit.errors import UnknownKeyError

    assembler = Assembler.from_project(project(tmp_path, oracles()))

    async def scenario():
        driver = CoordinatorDriver(
            assembler.runner(), cache=assembler.cache, versions=assembler.versions
        )
        with pytest.raises(UnknownKeyError):
            driver.request(SCOPE, ["klass", "nope"])
        return driver.state

    state = asyncio.run(scenario())
    assert state.phase == "idle" and state.counter == 0


def test_a_project_with_an_unknown_or_misconfigured_cache_does_not_load(tmp_path):
    from snapkit.project import Project

    proj = project(tmp_path, oracles(), cache={"kind": "memcached"})
    with pytest.raises(UnknownCacheBackendError, match="kind = 'memcached'"):
        Project.load(proj.config, proj.manager)
    proj = project(tmp_path, oracles(), cache={"kind": "memory", "capacity": "many"})
    with pytest.raises(ConfigError, match=r"cache\.capacity: expected integer"):
        Project.load(proj.config, proj.manager)
    assert (
        Project.load(project(tmp_path, oracles()).config, project(tmp_path, oracles()).manager)
        is not None
    )
