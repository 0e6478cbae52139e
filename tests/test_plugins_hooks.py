"""Hooks: call order you can see, event hooks that cannot break the kernel, registries."""

from __future__ import annotations

import logging

import pytest

from snapkit import hookimpl
from snapkit.descriptors import OracleDescriptor, StoreDescriptor
from snapkit.errors import UnknownKeyError
from snapkit.events import RefreshStarted
from snapkit.manager import PluginManager, PluginSelection


def test_hook_order_puts_tryfirst_first_then_the_latest_registered(fake_sites):
    fake_sites("good")
    manager = PluginManager(PluginSelection(enabled=("fake-good", "fake-audit")))
    manager.load_entry_points()
    assert manager.hook_order("snapkit_refresh_started") == ["fake-audit", "fake-good"]
    assert manager.hook_order("snapkit_snapshot_committed") == ["fake-audit"]
    assert manager.hook_order("snapkit_no_such_hook") == []


def test_cli_hook_option_shows_call_order(snapkit_cli):
    run = snapkit_cli("plugins", "list", "--hook", "snapkit_refresh_started", sites=["good"])
    assert run.returncode == 0, run
    assert "Call order of snapkit_refresh_started: fake-audit -> fake-good" in run.stdout
    as_json = snapkit_cli("plugins", "list", "--json", "--hook", "refresh_started", sites=["good"])
    assert [p["name"] for p in as_json.json()] == ["fake-audit", "fake-good"]


def test_cli_hook_option_with_an_unknown_hook_suggests_one(snapkit_cli):
    run = snapkit_cli("plugins", "list", "--hook", "snapkit_refresh_start")
    assert run.returncode == 2, run
    assert run.stderr.strip() == (
        "Error: --hook: no hook is called 'snapkit_refresh_start'; "
        "did you mean 'snapkit_refresh_started'?"
    )


def test_a_failing_event_hook_is_logged_never_raised(caplog):
    calls = []

    class Bad:
        @hookimpl
        def snapkit_refresh_started(self, event):  # type: ignore[no-untyped-def]
            raise RuntimeError("telemetry is down")

    class Good:
        @hookimpl(trylast=True)
        def snapkit_refresh_started(self, event):  # type: ignore[no-untyped-def]
            calls.append(event)

    manager = PluginManager(PluginSelection(autoload=False))
    manager.register(Good(), name="good")
    manager.register(Bad(), name="bad")
    event = RefreshStarted("run-1", "scope", "ns", ("users",))
    with caplog.at_level(logging.ERROR, logger="snapkit.plugins"):
        manager.emit("snapkit_refresh_started", event)
    assert "event hook snapkit_refresh_started failed" in caplog.text


def test_registering_the_wrong_descriptor_kind_is_a_register_error():
    class Confused:
        @hookimpl
        def snapkit_register_oracles(self, register):  # type: ignore[no-untyped-def]
            register(StoreDescriptor(key="oops", factory=dict))

    manager = PluginManager(PluginSelection(autoload=False))
    manager.register(Confused(), name="confused")
    assert [(p.plugin, p.code, p.message) for p in manager.problems] == [
        (
            "confused",
            "register-error",
            "TypeError: snapkit_register_oracles registered StoreDescriptor, "
            "expected OracleDescriptor",
        )
    ]
    assert len(manager.oracles) == 0


def test_an_undecorated_snapkit_function_is_an_implementation_and_a_typo_is_refused():
    class Plain:
        def snapkit_register_oracles(self, register):  # type: ignore[no-untyped-def]
            register(OracleDescriptor(key="plain", factory=dict))

        def snapkit_refresh_strated(self, event):  # type: ignore[no-untyped-def]
            pass

    manager = PluginManager(PluginSelection(autoload=False))
    assert manager.register(Plain(), name="plain") is False
    (problem,) = manager.problems
    assert problem.message == (
        "unknown hook 'snapkit_refresh_strated' (did you mean 'snapkit_refresh_started'?)"
    )


def test_an_oracle_registration_may_read_the_config():
    seen = []

    class Configured:
        @hookimpl
        def snapkit_register_oracles(self, register, config):  # type: ignore[no-untyped-def]
            seen.append(config)
            register(OracleDescriptor(key="from-config", factory=dict))

    sentinel = object()
    manager = PluginManager(PluginSelection(autoload=False), sentinel)
    manager.register(Configured(), name="configured")
    assert manager.oracles.keys() == ["from-config"]
    assert seen == [sentinel]


def test_an_unknown_key_suggests_the_closest_one():
    class One:
        @hookimpl
        def snapkit_register_oracles(self, register):  # type: ignore[no-untyped-def]
            register(OracleDescriptor(key="enrollments", factory=dict))

    manager = PluginManager(PluginSelection(autoload=False))
    manager.register(One(), name="one")
    with pytest.raises(UnknownKeyError) as caught:
        manager.oracles.get("enrolments")
    assert str(caught.value) == (
        "no oracle with key 'enrolments' is registered "
        "(known: enrollments); did you mean 'enrollments'?"
    )


def test_unregister_removes_the_plugin_and_its_keys():
    class One:
        @hookimpl
        def snapkit_register_oracles(self, register):  # type: ignore[no-untyped-def]
            register(OracleDescriptor(key="users", factory=dict))

    manager = PluginManager(PluginSelection(autoload=False))
    manager.register(One(), name="one")
    assert "users" in manager.oracles
    manager.unregister("one")
    assert "users" not in manager.oracles
    assert manager.records == []
