"""``snapkit plugins validate`` checks the config too; config mistakes are named precisely.

Plugin settings against their schemas, unknown keys and sections with a "did you mean", a
store kind no plugin provides (exit 2 for commands), a plugin that failed to load named as
the reason a key is missing, and a hook asking for an argument its spec lacks.
"""

from __future__ import annotations

from pathlib import Path

from snapkit.manager import PluginManager, PluginSelection

GOOD = '[plugins]\nenabled = ["file-store", "fake-good"]\n'


def write(folder: Path, text: str) -> None:
    (folder / "snapkit.toml").write_text(text, encoding="utf-8")


def test_plugin_settings_are_checked_against_their_schema(snapkit_cli, tmp_path):
    write(tmp_path, GOOD + "[oracles.fake-users]\npath = 42\nlimt = 3\n")
    run = snapkit_cli("plugins", "validate", sites=["good"])
    assert run.returncode == 1, run
    lines = run.stdout.splitlines()
    assert any("oracles.fake-users.path: expected string, got int" in x for x in lines), run
    assert any("('limt' was unexpected); did you mean 'limit'" in x for x in lines), run
    assert lines[-1].endswith("config checked: 2 problems to fix")


def test_store_settings_are_checked_and_every_problem_is_counted(snapkit_cli, tmp_path):
    write(tmp_path, GOOD + '[store]\nkind = "file"\npath = 42\n')
    run = snapkit_cli("plugins", "validate", "--json", sites=["good"])
    assert run.returncode == 1, run
    problems = run.json()["problems"]
    assert [(p["plugin"], p["code"]) for p in problems] == [("config", "invalid-settings")]
    assert "store.path: expected string, got int" in problems[0]["message"]


def test_a_misspelled_key_gets_a_did_you_mean(snapkit_cli, tmp_path):
    write(tmp_path, GOOD + '[oracles.fake-usres]\npath = "u.json"\n')
    run = snapkit_cli("plugins", "validate", sites=["good"])
    assert run.returncode == 1, run
    assert (
        "oracles.fake-usres: no oracle 'fake-usres' is installed; did you mean 'fake-users'?"
    ) in run.stdout
    assert run.stdout.splitlines()[-1].endswith("1 problem to fix")


def test_a_misspelled_section_is_a_usage_error_with_a_did_you_mean(snapkit_cli, tmp_path):
    write(tmp_path, GOOD + '[oracels.fake-users]\npath = "u.json"\n')
    run = snapkit_cli("plugins", "validate", sites=["good"])
    assert run.returncode == 2, run
    assert "did you mean 'oracles' for 'oracels'?" in run.stderr


def test_a_valid_config_says_no_problems(snapkit_cli, tmp_path):
    write(tmp_path, GOOD + '[oracles.fake-users]\npath = "u.json"\nlimit = 3\n')
    run = snapkit_cli("plugins", "validate", sites=["good"])
    assert run.returncode == 0, run
    assert run.stdout.splitlines()[-1] == "2 plugins loaded, config checked: no problems"
    assert "problem(s)" not in run.stdout


def test_a_store_kind_typo_is_reported_and_refresh_exits_2(snapkit_cli, tmp_path):
    write(tmp_path, '[store]\nkind = "fiel"\n')
    validate = snapkit_cli("plugins", "validate")
    assert validate.returncode == 1, validate
    assert "store.kind: no store 'fiel' is installed; did you mean 'file'?" in validate.stdout
    refresh = snapkit_cli("refresh")
    assert refresh.returncode == 2, refresh
    assert "no store 'fiel' is installed" in refresh.stderr
    assert "did you mean 'file'?" in refresh.stderr
    assert not (tmp_path / "snapkit-data").exists()


def test_refresh_names_the_load_error_of_a_plugin_that_failed(snapkit_cli, tmp_path):
    write(
        tmp_path,
        '[plugins]\nenabled = ["file-store", "fake-broken"]\n[oracles.users]\npath = "u.json"\n',
    )
    run = snapkit_cli("refresh", sites=["broken"])
    assert run.returncode == 2, run
    assert "no oracle 'users' is installed" in run.stderr
    assert (
        "plugin 'fake-broken' failed to load: RuntimeError: fake-broken exploded on import"
        in run.stderr
    )


def test_a_hook_asking_for_an_unknown_argument_lists_the_allowed_ones(fake_sites):
    fake_sites("problems")
    manager = PluginManager(PluginSelection(enabled=("extra-arg",)))
    manager.load_entry_points()
    (problem,) = [p for p in manager.problems if p.plugin == "extra-arg"]
    assert problem.code == "bad-signature"
    assert "{'scope'}" in problem.message
    assert problem.message.endswith("snapkit_register_stores accepts: register")
