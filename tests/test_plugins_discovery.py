"""Entry-point discovery and plugin selection, with real distribution metadata."""

from __future__ import annotations

import sys

from snapkit.manager import PluginManager, PluginSelection


def _record(manager: PluginManager, name: str):  # type: ignore[no-untyped-def]
    return next(r for r in manager.records if r.name == name)


def test_plugins_are_discovered_from_dist_info_entry_points_with_distribution_and_version(
    fake_sites,
):
    fake_sites("good")
    manager = PluginManager(PluginSelection(enabled=("fake-good", "fake-audit")))
    manager.load_entry_points()

    good = _record(manager, "fake-good")
    assert (good.distribution, good.version, good.status) == ("snapkit-fake-good", "1.2.3", "ok")
    assert good.module == "fake_good_plugin"
    assert set(good.registrations) == {
        ("oracle", "fake-users"),
        ("command", "fake-hello"),
        ("command", "fake-boom"),
    }
    assert "snapkit_register_oracles" in good.hooks
    assert manager.oracles.get("fake-users").version == "1.2"
    assert manager.oracles.plugin_of("fake-users") == "fake-good"
    audit = _record(manager, "fake-audit")
    assert (audit.distribution, audit.version) == ("snapkit-fake-audit", "0.4.0")


def test_listing_never_calls_a_factory(fake_sites):
    # fake-good's oracle factory raises AssertionError: reading descriptors must not build it.
    fake_sites("good")
    manager = PluginManager(PluginSelection(enabled=("fake-good",)))
    manager.load_entry_points()
    assert [r.status for r in manager.records if r.name == "fake-good"] == ["ok"]
    assert manager.problems == []


def test_cli_lists_a_distribution_from_outside_the_repository(snapkit_cli):
    run = snapkit_cli("plugins", "list", "--json", sites=["good"])
    assert run.returncode == 0, run
    by_name = {p["name"]: p for p in run.json()}
    good = by_name["fake-good"]
    assert good["distribution"] == "snapkit-fake-good"
    assert good["version"] == "1.2.3"
    assert good["status"] == "ok"
    assert good["kinds"] == ["command", "oracle"]
    assert {"kind": "oracle", "key": "fake-users"} in good["registrations"]
    assert "snapkit_refresh_started" in good["hooks"]


def test_cli_validate_checks_a_distribution_from_outside_the_repository(snapkit_cli):
    run = snapkit_cli(
        "plugins", "validate", "fake-good", "snapkit-fake-audit", "--json", sites=["good"]
    )
    assert run.returncode == 0, run
    assert run.json() == {"ok": True, "strict": False, "problems": []}


def test_selection_by_entry_point_name(fake_sites):
    fake_sites("good")
    manager = PluginManager(PluginSelection(enabled=("fake-good",)))
    manager.load_entry_points()
    assert _record(manager, "fake-good").status == "ok"
    audit = _record(manager, "fake-audit")
    assert audit.status == "blocked"
    assert "plugins.enabled" in (audit.error or "")
    assert "fake-audit" not in manager.plugin_names()


def test_selection_by_distribution_name_in_any_spelling(fake_sites):
    fake_sites("good")
    manager = PluginManager(PluginSelection(enabled=("Snapkit_Fake.Audit",)))
    manager.load_entry_points()
    assert _record(manager, "fake-audit").status == "ok"
    assert _record(manager, "fake-good").status == "blocked"


def test_a_selected_plugin_that_is_not_installed_is_a_problem(fake_sites):
    fake_sites("good")
    manager = PluginManager(PluginSelection(enabled=("fake-good", "not-there")))
    manager.load_entry_points()
    assert [(p.plugin, p.code) for p in manager.problems] == [("not-there", "not-installed")]


def test_blocked_plugins_are_never_imported(fake_sites, tmp_path, monkeypatch):
    log = tmp_path / "imports.log"
    monkeypatch.setenv("SNAPKIT_TRIPWIRE_LOG", str(log))
    fake_sites("tripwire", "good")
    for blocked in ("tripwire", "snapkit-fake-tripwire"):  # entry-point name, distribution
        manager = PluginManager(PluginSelection(blocked=(blocked,)))
        manager.load_entry_points()
        record = _record(manager, "tripwire")
        assert record.status == "blocked"
        assert record.error == "blocked by the configuration"
        assert _record(manager, "fake-good").status == "ok"
    assert not log.exists()
    assert "fake_tripwire_plugin" not in sys.modules


def test_a_plugin_outside_the_enabled_set_is_never_imported(snapkit_cli, tmp_path):
    log = tmp_path / "imports.log"
    (tmp_path / "snapkit.toml").write_text('[plugins]\nenabled = ["fake-good"]\n')
    run = snapkit_cli(
        "plugins",
        "list",
        "--json",
        sites=["good", "tripwire"],
        env={"SNAPKIT_TRIPWIRE_LOG": str(log)},
    )
    assert run.returncode == 0, run
    statuses = {p["name"]: p["status"] for p in run.json()}
    assert statuses["tripwire"] == "blocked"
    assert statuses["fake-good"] == "ok"
    assert not log.exists()


def test_the_tripwire_does_record_an_import_when_not_blocked(snapkit_cli, tmp_path):
    # The control experiment for the two tests above.
    log = tmp_path / "imports.log"
    run = snapkit_cli(
        "plugins", "list", "--json", sites=["tripwire"], env={"SNAPKIT_TRIPWIRE_LOG": str(log)}
    )
    statuses = {p["name"]: p["status"] for p in run.json()}
    assert statuses["tripwire"] == "load-error"
    assert log.read_text() == "imported\n"


def test_blocked_in_the_config_file_by_distribution_name(snapkit_cli, tmp_path):
    log = tmp_path / "imports.log"
    (tmp_path / "snapkit.toml").write_text('[plugins]\nblocked = ["snapkit-fake-tripwire"]\n')
    run = snapkit_cli(
        "plugins", "list", sites=["good", "tripwire"], env={"SNAPKIT_TRIPWIRE_LOG": str(log)}
    )
    assert run.returncode == 0, run
    line = next(x for x in run.stdout.splitlines() if x.startswith("tripwire "))
    assert "blocked" in line
    assert not log.exists()


def test_autoload_disabled_by_environment_variable(fake_sites, monkeypatch, snapkit_cli):
    fake_sites("good")
    monkeypatch.setenv("SNAPKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    manager = PluginManager(PluginSelection())
    assert manager.selection.autoload is False
    manager.load_entry_points()
    assert manager.records == []

    run = snapkit_cli(
        "plugins", "list", "--json", sites=["good"], env={"SNAPKIT_DISABLE_PLUGIN_AUTOLOAD": "1"}
    )
    assert run.returncode == 0, run
    assert run.json() == []


def test_autoload_disabled_in_the_config_file(snapkit_cli, tmp_path):
    (tmp_path / "snapkit.toml").write_text("[plugins]\nautoload = false\n")
    run = snapkit_cli("plugins", "list", sites=["good"])
    assert run.returncode == 0, run
    assert "No plugins installed (or autoload is off)." in run.stdout


def test_a_host_registers_an_inline_plugin_with_autoload_off():
    from snapkit import hookimpl
    from snapkit.descriptors import SerializerDescriptor

    class Inline:
        @hookimpl
        def snapkit_register_serializers(self, register):  # type: ignore[no-untyped-def]
            register(SerializerDescriptor(key="tsv", extension="tsv", factory=dict))

    manager = PluginManager(PluginSelection(autoload=False))
    manager.load_entry_points()
    assert manager.register(Inline(), name="inline")
    assert manager.serializers.keys() == ["tsv"]
    record = _record(manager, "inline")
    assert (record.status, record.distribution, record.registrations) == (
        "ok",
        None,
        (("serializer", "tsv"),),
    )
