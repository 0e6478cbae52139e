"""The ``snapkit`` command: exit codes, one-line errors, --debug, lazy plugin commands."""

from __future__ import annotations

from snapkit import exitcodes


def test_exit_0_when_everything_is_fine(snapkit_cli, tmp_path):
    (tmp_path / "snapkit.toml").write_text('[plugins]\nenabled = ["snapkit-fake-good"]\n')
    assert snapkit_cli("plugins", "list", sites=["good"]).returncode == exitcodes.OK
    run = snapkit_cli("plugins", "validate", sites=["good"])
    assert run.returncode == exitcodes.OK, run
    assert run.stdout.strip().endswith("config checked: no problems")


def test_exit_1_when_problems_are_found(snapkit_cli):
    assert snapkit_cli("plugins", "validate", sites=["problems"]).returncode == exitcodes.FAILURE


def test_exit_2_on_a_usage_error(snapkit_cli):
    run = snapkit_cli("plugins", "list", "--no-such-option")
    assert run.returncode == exitcodes.USAGE
    assert "No such option '--no-such-option'" in run.stderr
    assert "Traceback" not in run.stderr


def test_exit_2_and_one_line_on_a_config_error(snapkit_cli, tmp_path):
    (tmp_path / "snapkit.toml").write_text("[plugins]\nstrict = 'yes'\n")
    run = snapkit_cli("plugins", "list", sites=["good"])
    assert run.returncode == exitcodes.USAGE, run
    assert run.stderr.splitlines() == [
        f"Error: {tmp_path / 'snapkit.toml'}: plugins.strict: expected boolean, got str"
    ]
    assert run.stdout == ""


def test_config_error_with_debug_shows_the_traceback(snapkit_cli, tmp_path):
    (tmp_path / "snapkit.toml").write_text("[plugins]\nstrict = 'yes'\n")
    run = snapkit_cli("--debug", "plugins", "list")
    assert run.returncode != 0
    assert "Traceback (most recent call last)" in run.stderr
    assert "snapkit.errors.ConfigError" in run.stderr


def test_a_missing_config_file_is_a_config_error(snapkit_cli, tmp_path):
    run = snapkit_cli("--config", str(tmp_path / "nope.toml"), "plugins", "list")
    assert run.returncode == exitcodes.USAGE
    assert run.stderr.strip() == (
        f"Error: config file {tmp_path / 'nope.toml'} does not exist; "
        "create one with 'snapkit init'"
    )


def test_an_unexpected_error_is_one_line_unless_debug(snapkit_cli):
    run = snapkit_cli("fake-boom", sites=["good"])
    assert run.returncode == exitcodes.FAILURE
    # named by type and place: a foreign exception's message can quote record values
    assert run.stderr.splitlines() == [
        "Error: unexpected RuntimeError raised in _boom (fake_good_plugin.py:34); its message "
        "is not shown, it may hold data (run with --debug for the traceback)"
    ]
    debug = snapkit_cli("--debug", "fake-boom", sites=["good"])
    assert "Traceback (most recent call last)" in debug.stderr
    assert "RuntimeError: fake-boom factory exploded" in debug.stderr


def test_a_plugin_command_runs_through_the_commands_hook(snapkit_cli):
    run = snapkit_cli("fake-hello", sites=["good"])
    assert run.returncode == 0, run
    assert run.stdout == "hello from fake-good\n"


def test_an_unknown_command_is_a_usage_error(snapkit_cli):
    run = snapkit_cli("no-such-command", sites=["good"])
    assert run.returncode == exitcodes.USAGE
    assert "No such command 'no-such-command'" in run.stderr


def test_help_imports_no_plugin(snapkit_cli, tmp_path):
    log = tmp_path / "imports.log"
    run = snapkit_cli("--help", sites=["tripwire"], env={"SNAPKIT_TRIPWIRE_LOG": str(log)})
    assert run.returncode == 0, run
    assert "plugins" in run.stdout and "Exit codes" in run.stdout
    assert not log.exists()


def test_plugins_list_without_plugins(snapkit_cli):
    run = snapkit_cli("plugins", "list", env={"SNAPKIT_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert run.returncode == 0
    assert run.stdout == "No plugins installed (or autoload is off).\n"
