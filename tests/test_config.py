"""Configuration: snapkit.toml or [tool.snapkit], validated, errors naming file + key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapkit.config import KERNEL_SCHEMA, find_config, load_config
from snapkit.errors import ConfigError


def _write(folder: Path, text: str, name: str = "snapkit.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_a_full_config_loads(tmp_path):
    path = _write(
        tmp_path,
        """
[plugins]
enabled = ["snapkit-file-store", "files"]
blocked = ["noisy"]
strict = true

[store]
kind = "file"
path = "data"

[cache]
kind = "memory"
capacity = 100

[scope]
namespace = "district-7"
context = "class-1"
filters = { threshold = 80 }

[refresh]
oracles = ["users"]
concurrency = 2
timeout = 5

[oracles.users]
path = "users.jsonl"
""",
    )
    config = load_config(path)
    assert config.source == path and config.root == tmp_path.resolve()
    assert config.plugins.enabled == ("snapkit-file-store", "files")
    assert config.plugins.blocked == ("noisy",)
    assert config.plugins.strict is True
    assert (config.store_kind, dict(config.store_settings)) == ("file", {"path": "data"})
    assert (config.cache_kind, dict(config.cache_settings)) == ("memory", {"capacity": 100})
    assert config.scope.namespace == "district-7"
    assert config.scope.filters == {"threshold": 80}
    assert config.refresh.oracles == ("users",)
    assert (config.refresh.concurrency, config.refresh.timeout) == (2, 5)
    assert config.plugin_settings("oracle", "users") == {"path": "users.jsonl"}
    assert config.resolve_path("data") == tmp_path.resolve() / "data"


def test_no_config_file_gives_the_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.source is None
    assert config.store_kind == "file"
    assert config.plugins.enabled is None and config.plugins.autoload is True
    assert config.refresh.attempts == 3 and config.refresh.timeout == 60


def test_tool_snapkit_in_pyproject_toml(tmp_path, monkeypatch):
    _write(
        tmp_path,
        '[project]\nname = "host"\n\n[tool.snapkit.scope]\nnamespace = "host"\n',
        "pyproject.toml",
    )
    monkeypatch.chdir(tmp_path)
    assert find_config() == tmp_path / "pyproject.toml"
    assert load_config().scope.namespace == "host"


def test_a_pyproject_without_tool_snapkit_is_not_a_config(tmp_path):
    _write(tmp_path, '[project]\nname = "other"\n', "pyproject.toml")
    assert find_config(tmp_path) is None


def test_snapkit_toml_wins_over_pyproject(tmp_path):
    _write(tmp_path, '[tool.snapkit.scope]\nnamespace = "a"\n', "pyproject.toml")
    _write(tmp_path, '[scope]\nnamespace = "b"\n')
    assert find_config(tmp_path) == tmp_path / "snapkit.toml"


def test_the_snapkit_config_variable_names_the_file(tmp_path, monkeypatch):
    path = _write(tmp_path, '[scope]\nnamespace = "env"\n', "elsewhere.toml")
    monkeypatch.setenv("SNAPKIT_CONFIG", str(path))
    assert load_config().scope.namespace == "env"


def test_error_names_file_key_path_and_expected_type(tmp_path):
    path = _write(tmp_path, '[refresh]\nconcurrency = "four"\n')
    assert _error(path) == f"{path}: refresh.concurrency: expected integer, got str"


def test_error_for_a_value_out_of_range(tmp_path):
    path = _write(tmp_path, "[serve]\nport = 70000\n")
    assert _error(path) == f"{path}: serve.port: 70000 is greater than the maximum of 65535"


def test_error_for_a_misspelled_key(tmp_path):
    path = _write(tmp_path, '[plugins]\nenable = ["x"]\n')
    message = _error(path)
    assert message.startswith(f"{path}: plugins: Additional properties are not allowed")
    assert "'enable' was unexpected" in message


def test_error_for_an_unknown_section(tmp_path):
    path = _write(tmp_path, "[refesh]\ntimeout = 3\n")
    assert "(top level): Additional properties are not allowed ('refesh' was unexpected)" in (
        _error(path)
    )


def test_error_in_a_list_item_names_its_index(tmp_path):
    path = _write(tmp_path, '[plugins]\nblocked = ["a", 3]\n')
    assert _error(path) == f"{path}: plugins.blocked.1: expected string, got int"


def test_error_in_pyproject_names_pyproject(tmp_path):
    path = _write(tmp_path, "[tool.snapkit.refresh]\nattempts = 0\n", "pyproject.toml")
    assert _error(path) == f"{path}: refresh.attempts: 0 is less than the minimum of 1"


def test_invalid_toml_and_missing_file(tmp_path):
    path = _write(tmp_path, "[store\n")
    assert _error(path).startswith(f"{path}: not valid TOML")
    assert _error(tmp_path / "missing.toml") == (
        f"config file {tmp_path / 'missing.toml'} does not exist; create one with 'snapkit init'"
    )


def test_an_invalid_namespace_is_refused(tmp_path):
    path = _write(tmp_path, '[scope]\nnamespace = "../etc"\n')
    with pytest.raises(Exception, match="invalid namespace"):
        load_config(path)


def test_secrets_are_read_from_environment_variables(tmp_path, monkeypatch):
    path = _write(
        tmp_path,
        """
[serve]
token = { env = "MY_ADMIN_TOKEN" }

[oracles.users]
token = { env = "USERS_TOKEN" }
headers = [{ env = "USERS_HEADER" }]
""",
    )
    monkeypatch.setenv("MY_ADMIN_TOKEN", "s3cret")
    monkeypatch.setenv("USERS_TOKEN", "abcd")
    monkeypatch.setenv("USERS_HEADER", "X-Key")
    config = load_config(path)
    assert config.serve.token == "s3cret"
    assert "s3cret" not in repr(config.serve)
    assert config.plugin_settings("oracle", "users") == {"token": "abcd", "headers": ["X-Key"]}


def test_a_missing_secret_names_the_variable_and_the_key(tmp_path):
    path = _write(tmp_path, '[oracles.users]\ntoken = { env = "SNAPKIT_TEST_UNSET_TOKEN" }\n')
    config = load_config(path)  # secrets are resolved when used
    with pytest.raises(ConfigError) as caught:
        config.plugin_settings("oracle", "users")
    assert str(caught.value) == (
        f"{path}: oracles.users.token names environment variable SNAPKIT_TEST_UNSET_TOKEN, "
        "which is not set; export SNAPKIT_TEST_UNSET_TOKEN=... before running snapkit"
    )


def test_a_malformed_secret_reference_is_refused(tmp_path):
    path = _write(tmp_path, '[serve]\ntoken = { env = "" }\n')
    assert _error(path) == f"{path}: serve.token.env: '' should be non-empty"


# -- plugin settings, checked against each plugin's settings schema (Project.load) ----------


def _project(tmp_path: Path, settings: str):  # type: ignore[no-untyped-def]
    from snapkit.project import Project

    path = _write(tmp_path, '[plugins]\nenabled = ["fake-good"]\n\n' + settings)
    return path, Project.load(path)


def test_plugin_settings_valid_against_the_plugin_schema(fake_sites, tmp_path, monkeypatch):
    fake_sites("good")
    monkeypatch.setenv("FAKE_USERS_TOKEN", "t0ken")
    _, project = _project(
        tmp_path, '[oracles.fake-users]\npath = "u.jsonl"\ntoken = { env = "FAKE_USERS_TOKEN" }\n'
    )
    descriptor = project.manager.oracles.get("fake-users")
    assert project.oracle_settings(descriptor) == {"path": "u.jsonl", "token": "t0ken"}


def test_plugin_settings_error_names_file_key_path_and_expectation(fake_sites, tmp_path):
    fake_sites("good")
    with pytest.raises(ConfigError) as caught:
        _project(tmp_path, '[oracles.fake-users]\npath = "u.jsonl"\nlimit = "ten"\n')
    assert str(caught.value) == (
        f"{tmp_path / 'snapkit.toml'}: oracles.fake-users.limit: expected integer, got str"
    )


def test_plugin_settings_missing_required_key(fake_sites, tmp_path):
    fake_sites("good")
    with pytest.raises(ConfigError) as caught:
        _project(tmp_path, "[oracles.fake-users]\nlimit = 3\n")
    assert str(caught.value) == (
        f"{tmp_path / 'snapkit.toml'}: oracles.fake-users: 'path' is a required property"
    )


def test_a_secret_is_validated_as_the_string_it_stands_for(fake_sites, tmp_path, monkeypatch):
    fake_sites("good")
    monkeypatch.setenv("FAKE_USERS_TOKEN", "abc")  # the schema wants at least 4 characters
    # ... and the message names the variable, never the secret itself
    with pytest.raises(
        ConfigError, match=r"oracles\.fake-users\.token: '\$\{FAKE_USERS_TOKEN\}' is too short"
    ):
        _project(
            tmp_path, '[oracles.fake-users]\npath = "p"\ntoken = { env = "FAKE_USERS_TOKEN" }\n'
        )


def test_settings_for_a_plugin_that_is_not_installed(fake_sites, tmp_path):
    fake_sites("good")
    with pytest.raises(ConfigError) as caught:
        _project(tmp_path, '[oracles.fake-user]\npath = "p"\n')
    assert str(caught.value) == (
        f"{tmp_path / 'snapkit.toml'}: oracles.fake-user: no oracle 'fake-user' is installed; "
        "did you mean 'fake-users'?"
    )


# -- snapkit init ----------------------------------------------------------------------------


def test_init_writes_a_commented_config_that_loads(snapkit_cli, tmp_path):
    run = snapkit_cli("init", "--namespace", "district-9")
    assert run.returncode == 0, run
    path = tmp_path / "snapkit.toml"
    text = path.read_text()
    assert text.startswith("# snapkit configuration.")
    assert "# enabled = " in text and "{ env = " in text
    config = load_config(path)
    assert config.scope.namespace == "district-9"
    assert config.store_kind == "file"
    assert config.store_settings == {"path": "snapkit-data"}


def test_init_config_passes_plugins_validate(snapkit_cli, tmp_path):
    assert snapkit_cli("init").returncode == 0
    run = snapkit_cli("plugins", "validate", "fake-good", sites=["good"])
    assert run.returncode == 0, run


def test_init_refuses_to_overwrite_and_bad_namespaces(snapkit_cli, tmp_path):
    assert snapkit_cli("init").returncode == 0
    again = snapkit_cli("init")
    assert again.returncode == 2
    assert again.stderr.strip() == (
        "Error: snapkit.toml already exists; use --force to overwrite it"
    )
    assert snapkit_cli("init", "--force").returncode == 0
    bad = snapkit_cli("init", "--force", "--namespace", "a/b")
    assert bad.returncode == 2
    assert bad.stderr.startswith("Error: --namespace: invalid namespace 'a/b'")


def test_kernel_schema_is_a_valid_json_schema():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(KERNEL_SCHEMA)
