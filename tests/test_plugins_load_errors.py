"""One broken plugin never takes down the rest; strict mode makes it an error."""

from __future__ import annotations

import pytest

from snapkit.errors import PluginLoadError
from snapkit.manager import PluginManager, PluginSelection


def _statuses(manager: PluginManager) -> dict[str, str]:
    return {r.name: r.status for r in manager.records}


def test_a_plugin_that_raises_on_import_is_recorded_with_its_error(fake_sites):
    fake_sites("good", "broken")
    manager = PluginManager(PluginSelection(enabled=("fake-good", "fake-broken")))
    manager.load_entry_points()
    broken = next(r for r in manager.records if r.name == "fake-broken")
    assert broken.status == "load-error"
    assert (broken.distribution, broken.version) == ("snapkit-fake-broken", "0.0.1")
    assert broken.error == "RuntimeError: fake-broken exploded on import"
    assert _statuses(manager)["fake-good"] == "ok"
    assert "fake-users" in manager.oracles
    manager.check_strict()  # not strict: no error


def test_a_plugin_that_raises_while_registering_is_a_load_error_and_the_rest_work(fake_sites):
    fake_sites("good", "broken")
    manager = PluginManager(PluginSelection(enabled=("fake-good", "fake-flaky")))
    manager.load_entry_points()
    flaky = next(r for r in manager.records if r.name == "fake-flaky")
    assert flaky.status == "load-error"
    assert flaky.error == "ValueError: fake-flaky cannot describe its serializer"
    assert [(p.plugin, p.code) for p in manager.problems] == [("fake-flaky", "register-error")]
    assert manager.oracles.keys() == ["fake-users"]


@pytest.mark.parametrize("how", ["selection", "environment"])
def test_strict_mode_raises_for_a_broken_plugin(fake_sites, monkeypatch, how):
    fake_sites("broken")
    if how == "environment":
        monkeypatch.setenv("SNAPKIT_STRICT_PLUGINS", "1")
    manager = PluginManager(PluginSelection(enabled=("fake-broken",), strict=how == "selection"))
    manager.load_entry_points()
    with pytest.raises(PluginLoadError, match=r"fake-broken.*exploded on import"):
        manager.check_strict()


def test_project_load_fails_in_strict_mode_and_works_otherwise(fake_sites, tmp_path):
    from snapkit.project import Project

    fake_sites("good", "broken")
    config = tmp_path / "snapkit.toml"
    config.write_text('[plugins]\nenabled = ["fake-good", "fake-broken"]\n')
    project = Project.load(config)
    assert "fake-users" in project.manager.oracles

    config.write_text('[plugins]\nenabled = ["fake-good", "fake-broken"]\nstrict = true\n')
    with pytest.raises(PluginLoadError) as caught:
        Project.load(config)
    assert caught.value.exit_code == 1


def test_cli_list_shows_load_error_in_text_and_the_others_ok(snapkit_cli):
    run = snapkit_cli("plugins", "list", sites=["good", "broken"])
    assert run.returncode == 0, run
    lines = run.stdout.splitlines()
    broken_row = next(x for x in lines if x.startswith("fake-broken "))
    assert "snapkit-fake-broken" in broken_row and "load-error" in broken_row
    assert "fake-broken: load-error: RuntimeError: fake-broken exploded on import" in lines
    good_row = next(x for x in lines if x.startswith("fake-good "))
    assert " ok " in good_row and "oracle:fake-users" in good_row
    assert "Traceback" not in run.stderr


def test_cli_list_shows_load_error_in_json(snapkit_cli):
    run = snapkit_cli("plugins", "list", "--json", sites=["good", "broken"])
    assert run.returncode == 0, run
    by_name = {p["name"]: p for p in run.json()}
    assert by_name["fake-broken"]["status"] == "load-error"
    assert by_name["fake-broken"]["error"] == "RuntimeError: fake-broken exploded on import"
    assert by_name["fake-broken"]["distribution"] == "snapkit-fake-broken"
    assert by_name["fake-flaky"]["status"] == "load-error"
    assert by_name["fake-good"]["status"] == "ok"
    assert by_name["fake-audit"]["status"] == "ok"


def test_cli_validate_reports_the_load_error_and_exits_0_without_strict(snapkit_cli):
    run = snapkit_cli("plugins", "validate", "--json", sites=["good", "broken"])
    report = run.json()
    problems = {(p["plugin"], p["code"]) for p in report["problems"]}
    assert ("fake-broken", "load-error") in problems
    assert ("fake-flaky", "register-error") in problems
    message = next(p["message"] for p in report["problems"] if p["plugin"] == "fake-broken")
    assert message == "RuntimeError: fake-broken exploded on import"
    only_broken = snapkit_cli(
        "plugins", "validate", "fake-broken", "snapkit-fake-flaky", sites=["good", "broken"]
    )
    assert only_broken.returncode == 0, only_broken
    assert "fake-broken: load-error: RuntimeError: fake-broken exploded on import" in (
        only_broken.stdout
    )


def test_cli_validate_strict_exits_1_for_a_broken_plugin(snapkit_cli):
    run = snapkit_cli("plugins", "validate", "fake-broken", "--strict", sites=["good", "broken"])
    assert run.returncode == 1, run
    assert "fake-broken: load-error" in run.stdout
    assert "Traceback" not in run.stderr


def test_strict_environment_variable_makes_list_and_validate_exit_1(snapkit_cli):
    env = {"SNAPKIT_STRICT_PLUGINS": "1"}
    listed = snapkit_cli("plugins", "list", "--json", sites=["good", "broken"], env=env)
    assert listed.returncode == 1, listed
    assert {p["name"]: p["status"] for p in listed.json()}["fake-good"] == "ok"
    validated = snapkit_cli("plugins", "validate", "fake-broken", sites=["good", "broken"], env=env)
    assert validated.returncode == 1, validated
    assert validated.stdout.startswith("fake-broken: load-error")


def test_strict_in_the_config_file(snapkit_cli, tmp_path):
    (tmp_path / "snapkit.toml").write_text("[plugins]\nstrict = true\n")
    run = snapkit_cli("plugins", "validate", "--json", sites=["broken"])
    assert run.returncode == 1, run
    assert run.json()["strict"] is True
