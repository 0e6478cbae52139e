"""``snapkit plugins validate``: every problem of the acceptance list, named by plugin."""

from __future__ import annotations

import pytest

from snapkit.manager import PluginManager, PluginSelection
from snapkit.validation import check_schema, validate_plugins

# (plugin, code, a fragment of the message)
EXPECTED = [
    (
        "typo-hook",
        "unknown-hook",
        "unknown hook 'snapkit_register_oracle' (did you mean 'snapkit_register_oracles'?)",
    ),
    ("extra-arg", "bad-signature", "{'scope'} are declared in the hookimpl"),
    ("dup-b", "duplicate-key", "oracle key 'shared' is registered by both 'dup-a' and 'dup-b'"),
    (
        "bad-schema",
        "invalid-settings-schema",
        "projection 'badly-set' has an invalid settings schema",
    ),
    ("cycle", "oracle-cycle", "loop-a -> loop-b -> loop-a"),
    ("missing-dep", "unknown-oracle", "oracle 'orphan' requires unknown oracle 'nowhere'"),
]


@pytest.fixture
def problems_manager(fake_sites) -> PluginManager:
    fake_sites("problems")
    manager = PluginManager(PluginSelection(enabled=("snapkit-fake-problems",)))
    manager.load_entry_points()
    return manager


@pytest.mark.parametrize(
    ("plugin", "code", "fragment"), EXPECTED, ids=[code for _, code, _ in EXPECTED]
)
def test_validate_reports_the_problem_with_the_plugin_name(
    problems_manager, plugin, code, fragment
):
    found = [p for p in validate_plugins(problems_manager) if p.code == code]
    assert [p.plugin for p in found] == [plugin]
    assert fragment in found[0].message


@pytest.mark.parametrize(
    ("plugin", "code", "fragment"), EXPECTED, ids=[code for _, code, _ in EXPECTED]
)
def test_cli_validate_names_the_plugin_and_exits_1(snapkit_cli, plugin, code, fragment):
    run = snapkit_cli("plugins", "validate", plugin, "--json", sites=["problems"])
    assert run.returncode == 1, run
    report = run.json()
    assert report["ok"] is False
    assert [(p["plugin"], p["code"]) for p in report["problems"]] == [(plugin, code)]
    assert fragment in report["problems"][0]["message"]


def test_cli_validate_text_report_lists_every_problem(snapkit_cli):
    run = snapkit_cli("plugins", "validate", sites=["problems"])
    assert run.returncode == 1, run
    for plugin, code, fragment in EXPECTED:
        line = next(x for x in run.stdout.splitlines() if x.startswith(f"{plugin}: {code}: "))
        assert fragment in line
    assert run.stdout.splitlines()[-1].endswith(f"{len(EXPECTED)} problems to fix")
    assert "Traceback" not in run.stderr


def test_the_unknown_hook_and_bad_signature_plugins_are_not_loaded(problems_manager):
    statuses = {r.name: r.status for r in problems_manager.records}
    assert statuses["typo-hook"] == "load-error"
    assert statuses["extra-arg"] == "load-error"
    assert statuses["dup-a"] == statuses["dup-b"] == "ok"


def test_a_duplicate_key_is_an_error_naming_both_plugins_when_used(problems_manager):
    from snapkit.errors import DuplicateKeyError

    with pytest.raises(DuplicateKeyError, match="'dup-a', 'dup-b'"):
        problems_manager.oracles.get("shared")


def test_validate_limited_to_names_by_distribution(problems_manager):
    everything = validate_plugins(problems_manager, ["snapkit-fake-problems"])
    assert {p.plugin for p in everything} == {plugin for plugin, _, _ in EXPECTED}
    assert validate_plugins(problems_manager, ["cycle"])[0].code == "oracle-cycle"


def test_check_schema_accepts_valid_and_explains_invalid_schemas():
    assert check_schema(None) is None
    assert check_schema({"type": "object", "properties": {"a": {"type": "string"}}}) is None
    error = check_schema({"type": "object", "properties": {"a": {"minLength": "two"}}})
    assert error is not None and "properties/a/minLength" in error


def test_unknown_projection_inputs_and_serializers_are_reported():
    from snapkit import hookimpl
    from snapkit.descriptors import DatasetDescriptor, ProjectionDescriptor

    class Plugin:
        @hookimpl
        def snapkit_register_projections(self, register):  # type: ignore[no-untyped-def]
            register(ProjectionDescriptor(key="progress", factory=dict, requires=["results"]))

        @hookimpl
        def snapkit_register_datasets(self, register):  # type: ignore[no-untyped-def]
            register(
                DatasetDescriptor(
                    key="out",
                    file_name="out.csv",
                    columns=["a"],
                    requires=["progress", "missing"],
                    serializer="xlsx",
                    factory=dict,
                )
            )

    manager = PluginManager(PluginSelection(autoload=False))
    manager.register(Plugin(), name="inline")
    found = {(p.code, p.message) for p in validate_plugins(manager)}
    assert found == {
        ("unknown-oracle", "projection 'progress' uses unknown oracle 'results'"),
        ("unknown-projection", "dataset 'out' uses unknown projection 'missing'"),
        ("unknown-serializer", "dataset 'out' uses unknown serializer 'xlsx'"),
    }


def test_validate_of_an_unknown_plugin_name_is_a_usage_error(snapkit_cli):
    run = snapkit_cli("plugins", "validate", "cycel", sites=["problems"])
    assert run.returncode == 2, run
    assert run.stderr.strip() == "Error: no plugin is called 'cycel'; did you mean 'cycle'?"
