"""The testing kit (snapkit.testing) as plugin authors use it, run through pytester."""

from __future__ import annotations

import pytest


@pytest.fixture
def run_inner(pytester):  # type: ignore[no-untyped-def]
    def run(source: str, *args: str):  # type: ignore[no-untyped-def]
        pytester.makepyfile(source)
        return pytester.runpytest("-p", "no:cacheprovider", *args)

    return run


def test_the_kit_is_a_pytest11_plugin():
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert eps["snapkit"] == "snapkit.testing.plugin"


def test_snapkit_manager_is_fresh_with_autoload_off(run_inner, fake_sites):
    fake_sites("good")  # installed, yet the fixture's manager does not discover it
    result = run_inner("""
        def test_fresh(snapkit_manager):
            assert snapkit_manager.selection.autoload is False
            snapkit_manager.load_entry_points()
            assert snapkit_manager.records == []
            assert len(snapkit_manager.oracles) == 0
    """)
    result.assert_outcomes(passed=1)


def test_register_plugin_registers_for_one_test_only(run_inner):
    result = run_inner("""
        from snapkit import hookimpl
        from snapkit.descriptors import OracleDescriptor

        class MyPlugin:
            @hookimpl
            def snapkit_register_oracles(self, register):
                register(OracleDescriptor(key="mine", factory=dict))

        managers = []

        def test_registered(register_plugin, snapkit_manager):
            assert register_plugin(MyPlugin(), "my-plugin") == "my-plugin"
            assert snapkit_manager.oracles.plugin_of("mine") == "my-plugin"
            managers.append(snapkit_manager)

        def test_gone_afterwards(snapkit_manager):
            assert "mine" not in managers[0].oracles
            assert "mine" not in snapkit_manager.oracles
    """)
    result.assert_outcomes(passed=2)


def test_register_plugin_fails_the_test_for_a_broken_plugin(run_inner):
    result = run_inner("""
        class Typo:
            def snapkit_register_oracle(self, register):
                pass

        def test_typo(register_plugin):
            register_plugin(Typo(), "typo")
    """)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*plugin 'typo' did not register: unknown hook 'snapkit_register_oracle' "
            "(did you mean 'snapkit_register_oracles'?)*"
        ]
    )


def test_hook_recorder_records_event_hook_calls(run_inner):
    result = run_inner("""
        from snapkit import hookimpl
        from snapkit.events import RefreshStarted

        class Audit:
            @hookimpl
            def snapkit_refresh_started(self, event):
                pass

        def test_recorded(snapkit_manager, register_plugin, hook_recorder):
            register_plugin(Audit(), "audit")
            event = RefreshStarted("run-1", "scope-id", "district", ("users",))
            snapkit_manager.emit("snapkit_refresh_started", event)
            hook_recorder.assert_called("snapkit_refresh_started", times=1)
            assert hook_recorder.events("snapkit_refresh_started") == [event]
            assert hook_recorder.names() == ["snapkit_refresh_started"]

        def test_assert_called_fails_clearly(hook_recorder):
            hook_recorder.assert_called("snapkit_refresh_failed")
    """)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*hook snapkit_refresh_failed was not called; calls: []*"])


def test_assert_plugin_installed_passes_for_an_installed_plugin(run_inner, fake_sites):
    fake_sites("good", "broken")
    result = run_inner("""
        from snapkit.testing import assert_plugin_installed

        def test_by_entry_point_name():
            assert_plugin_installed("fake-good")

        def test_by_distribution_name():
            assert_plugin_installed("snapkit-fake-audit")
    """)
    result.assert_outcomes(passed=2)


def test_assert_plugin_installed_fails_for_missing_and_broken_plugins(run_inner, fake_sites):
    fake_sites("good", "broken", "problems")
    result = run_inner(
        """
        from snapkit.testing import assert_plugin_installed

        def test_missing():
            assert_plugin_installed("not-installed-anywhere")

        def test_broken():
            assert_plugin_installed("fake-broken")

        def test_cross_plugin_requirements_are_for_validate_not_for_install():
            # 'orphan' requires an oracle another plugin may provide: loads cleanly.
            assert_plugin_installed("missing-dep")
    """,
        "-rf",
    )
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*no installed plugin is called 'not-installed-anywhere'*",
            "*plugin 'fake-broken' is load-error: RuntimeError: fake-broken exploded on import*",
        ]
    )
