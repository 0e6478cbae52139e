"""The export engine: dataset policies, reason codes, manifest, deterministic ZIP, parity,
and that it only transforms a bundle (docs/export.md, failures)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import snapkit_serializers.plugin as serializers_plugin
from snapkit.contracts import ProjectionResult, Scope, SnapshotManifest
from snapkit.descriptors import DatasetDescriptor, SerializerDescriptor
from snapkit.errors import ExportError
from snapkit.export import (
    SnapshotBundle,
    build_export,
    check_parity,
    datasets_for,
    expected_parity,
    export_snapshot,
    profiles,
)
from snapkit.manager import PluginManager, PluginSelection
from snapkit.markers import hookimpl
from snapkit.testing.recorder import HookRecorder

MANIFEST = SnapshotManifest(
    scope=Scope("school", "class-1"),
    schema_version="1",
    calculation_version="1",
    status="success",
    payloads={"x": 1},
)

# A Frictionless data package, as far as this export uses it (Data Package v2).
DATA_PACKAGE = {
    "type": "object",
    "required": ["resources", "name", "$schema"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9._-]+$"},
        "resources": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "path", "bytes", "hash", "format", "mediatype"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z0-9._-]+$"},
                    "path": {"type": "string", "pattern": "^[^/\\\\]+$"},
                    "bytes": {"type": "integer", "minimum": 1},
                    "hash": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
                    "schema": {"type": "object", "required": ["fields"]},
                },
            },
        },
    },
}


def rows_of(
    key: str, build: Callable[[Any], Iterable[Mapping[str, Any]]]
) -> Callable[[Mapping[str, Any]], Any]:
    def factory(settings: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], Any]:
        return lambda projections: build(projections[key])

    return factory


def scores_rows(value: Any) -> Iterable[Mapping[str, Any]]:
    return ({"student": s, "score": v} for s, v in value.items())


def boom_rows(projections: Mapping[str, Any]) -> Any:
    raise ValueError("Alice's row")


class Broken:
    """A serializer that fails after writing a little."""

    def write(self, rows: Any, columns: Any, stream: Any) -> int:
        stream.write(b"half")
        raise OSError("disk full")


class Datasets:
    """Inline datasets of the profile ``report``, and a broken serializer."""

    def __init__(self, *descriptors: DatasetDescriptor) -> None:
        self.descriptors = descriptors

    @hookimpl
    def snapkit_register_datasets(self, register: Callable[[Any], None]) -> None:
        for descriptor in self.descriptors:
            register(descriptor)

    @hookimpl
    def snapkit_register_serializers(self, register: Callable[[Any], None]) -> None:
        register(SerializerDescriptor(key="broken", factory=lambda s: Broken(), extension="bin"))


def dataset(
    key: str,
    projection: str = "scores",
    *,
    policy: str = "fail_closed",
    serializer: str = "csv",
    optional: tuple[str, ...] = (),
    factory: Any = None,
) -> DatasetDescriptor:
    return DatasetDescriptor(
        key=key,
        file_name=f"{key}.{'jsonl' if serializer == 'jsonl' else 'csv'}",
        columns=("student", "score"),
        requires=(projection,) if projection else (),
        optional=optional,
        serializer=serializer,
        policy=policy,  # type: ignore[arg-type]
        profiles=("report",),
        factory=factory or rows_of(projection, scores_rows),
    )


def manager_with(*descriptors: DatasetDescriptor) -> PluginManager:
    manager = PluginManager(PluginSelection(autoload=False))
    manager.register(serializers_plugin, name="serializers")
    manager.register(Datasets(*descriptors), name="datasets")
    return manager


def ready(key: str, value: Any) -> ProjectionResult:
    return ProjectionResult(key, "ready", None, value, ("x",))


SCORES = ready("scores", {"s1": 91.23456, "s2": 2 / 3, "s3": None, "s, 4": 80.0})
STANDARD = (dataset("grades"), dataset("grades_lines", serializer="jsonl"))


def bundle(*results: ProjectionResult) -> SnapshotBundle:
    return SnapshotBundle(MANIFEST, {r.key: r for r in (results or (SCORES,))})


def test_a_complete_export_lists_every_file_with_rows_bytes_hash_status_and_policy():
    manager = manager_with(*STANDARD)
    data, manifest, status = build_export(bundle(), "report", manager)
    assert status == "complete"
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.namelist() == ["grades.csv", "grades_lines.jsonl", "manifest.json"]
    csv_bytes = archive.read("grades.csv")
    assert csv_bytes == (b'student,score\r\ns1,91.2346\r\ns2,0.6667\r\ns3,\r\n"s, 4",80\r\n')
    assert archive.read("grades_lines.jsonl").splitlines()[1] == b'{"student":"s2","score":0.6667}'
    first = manifest.resources[0]
    assert (first.path, first.rows, first.bytes, first.status, first.policy) == (
        "grades.csv",
        4,
        len(csv_bytes),
        "complete",
        "fail_closed",
    )
    assert first.hash == "sha256:" + hashlib.sha256(csv_bytes).hexdigest()
    written = json.loads(archive.read("manifest.json"))
    jsonschema.validate(written, DATA_PACKAGE)
    assert written["snapshot_id"] == MANIFEST.id
    assert written["profile"] == "report"
    assert written["resources"][0]["dialect"]["lineTerminator"] == "\r\n"
    assert set(written["parity"]) == {"scores"}


def test_the_same_bundle_and_profile_give_a_byte_identical_zip():
    manager = manager_with(*STANDARD)
    first, _, _ = build_export(bundle(), "report", manager)
    second, _, _ = build_export(bundle(), "report", manager_with(*reversed(STANDARD)))
    assert first == second
    for info in zipfile.ZipFile(io.BytesIO(first)).infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.compress_type == zipfile.ZIP_DEFLATED


def test_fail_closed_dataset_with_an_unavailable_projection_aborts_with_a_reason(tmp_path: Path):
    manager = manager_with(*STANDARD)
    missing = ProjectionResult("scores", "unavailable", "required_oracle_not_loaded")
    target = tmp_path / "out.zip"
    recorder = HookRecorder(manager)
    with pytest.raises(ExportError) as caught:
        export_snapshot(bundle(missing), "report", manager, target)
    recorder.close()
    assert caught.value.reason == "required_projection_unavailable"
    assert "grades" in caught.value.message
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    [event] = recorder.events("snapkit_export_finished")
    assert (event.status, event.reason) == ("failed", "required_projection_unavailable")


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("failed", "required_projection_failed"),
        ("partial", "required_projection_partial"),
    ],
)
def test_fail_closed_reason_names_the_projection_status(status: str, reason: str):
    manager = manager_with(dataset("grades"))
    result = ProjectionResult("scores", status, "x", {"s1": 1} if status == "partial" else None)
    with pytest.raises(ExportError) as caught:
        build_export(bundle(result), "report", manager)
    assert caught.value.reason == reason


def test_allow_partial_leaves_a_dataset_out_and_says_why_in_the_manifest():
    manager = manager_with(
        dataset("grades", policy="allow_partial_with_manifest"), dataset("other", "other")
    )
    failed = ProjectionResult("scores", "failed", "derivation_error")
    _, manifest, status = build_export(bundle(failed, ready("other", {"a": 1})), "report", manager)
    assert status == "partial"
    assert [(o.dataset, o.reason) for o in manifest.omitted] == [
        ("grades", "required_projection_failed")
    ]
    assert [r.dataset for r in manifest.resources] == ["other"]


def test_allow_partial_marks_a_dataset_partial_when_its_projection_is_partial():
    manager = manager_with(dataset("grades", policy="allow_partial_with_manifest"))
    partial = ProjectionResult("scores", "partial", "missing_optional_oracle", {"s1": 50})
    _, manifest, status = build_export(bundle(partial), "report", manager)
    assert status == "partial"
    [resource] = manifest.resources
    assert (resource.status, resource.reason) == ("partial", "required_projection_partial")


def test_a_missing_optional_projection_marks_the_file_partial():
    manager = manager_with(dataset("grades", optional=("extra",)))
    _, manifest, _ = build_export(bundle(), "report", manager)
    assert manifest.resources[0].reason == "optional_projection_missing"


@pytest.mark.parametrize("policy", ["fail_closed", "allow_partial_with_manifest"])
def test_a_serializer_error_follows_the_dataset_policy(policy: str):
    manager = manager_with(dataset("grades", serializer="broken", policy=policy), dataset("fine"))
    if policy == "fail_closed":
        with pytest.raises(ExportError) as caught:
            build_export(bundle(ready("fine", {"a": 1}), SCORES), "report", manager)
        assert caught.value.reason == "serializer_error"
        assert "disk full" not in str(caught.value)
        return
    data, manifest, status = build_export(
        bundle(ready("fine", {"a": 1}), SCORES), "report", manager
    )
    assert status == "partial"
    assert [(o.dataset, o.reason) for o in manifest.omitted] == [("grades", "serializer_error")]
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["fine.csv", "manifest.json"]


@pytest.mark.parametrize("policy", ["fail_closed", "allow_partial_with_manifest"])
def test_a_dataset_whose_rows_raise_follows_its_policy_with_dataset_error(policy: str):
    manager = manager_with(dataset("grades", policy=policy, factory=lambda s: boom_rows))
    if policy == "fail_closed":
        with pytest.raises(ExportError) as caught:
            build_export(bundle(), "report", manager)
        assert caught.value.reason == "dataset_error"
        assert "Alice" not in str(caught.value)
    else:
        _, manifest, _ = build_export(bundle(), "report", manager)
        assert manifest.omitted[0].reason == "dataset_error"


@pytest.mark.parametrize("policy", ["fail_closed", "allow_partial_with_manifest"])
def test_an_empty_dataset_is_left_out_and_listed(policy: str):
    manager = manager_with(dataset("grades", policy=policy))
    data, manifest, status = build_export(bundle(ready("scores", {})), "report", manager)
    assert status == "complete"
    assert [(o.dataset, o.reason) for o in manifest.omitted] == [("grades", "empty")]
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["manifest.json"]


class BrokenStream(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise OSError(28, "No space left on device")


def test_a_zip_that_cannot_be_written_fails_with_zip_error(tmp_path: Path):
    manager = manager_with(*STANDARD)
    recorder = HookRecorder(manager)
    with pytest.raises(ExportError) as caught:
        export_snapshot(bundle(), "report", manager, BrokenStream())  # type: ignore[arg-type]
    assert caught.value.reason == "zip_error"
    with pytest.raises(ExportError) as caught:
        export_snapshot(bundle(), "report", manager, tmp_path / "missing-dir" / "x.zip")
    assert caught.value.reason == "zip_error"
    # the message names the file and what to do
    assert str(tmp_path / "missing-dir" / "x.zip") in caught.value.message
    assert "create the folder" in (caught.value.hint or "")
    recorder.close()
    assert [e.reason for e in recorder.events("snapkit_export_finished")] == ["zip_error"] * 2
    # the service keeps working: the next export succeeds
    assert export_snapshot(bundle(), "report", manager, tmp_path / "x.zip").status == "complete"


def test_an_unknown_profile_is_refused_with_its_reason():
    with pytest.raises(ExportError) as caught:
        build_export(bundle(), "nope", manager_with(*STANDARD))
    assert caught.value.reason == "unknown_profile"


def test_the_registry_maps_profiles_to_datasets_in_file_name_order():
    manager = manager_with(dataset("zeta"), dataset("alpha"))
    assert profiles(manager) == {"report": ("alpha", "zeta")}
    assert [d.file_name for d in datasets_for(manager, "report")] == ["alpha.csv", "zeta.csv"]


def test_parity_check_matches_the_projections_and_catches_an_edited_file(tmp_path: Path):
    manager = manager_with(*STANDARD)
    target = tmp_path / "x.zip"
    outcome = export_snapshot(bundle(), "report", manager, target)
    assert outcome.manifest.parity == expected_parity(bundle(), STANDARD)
    check = check_parity(target, manager, bundle=bundle())
    assert check.ok and check.projections is not None
    assert check.recorded.matched == ("scores",)

    source = zipfile.ZipFile(target)
    members = {name: source.read(name) for name in source.namelist()}
    members["grades.csv"] = members["grades.csv"].replace(b"91.2346", b"91.2345")
    edited = io.BytesIO()
    with zipfile.ZipFile(edited, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    check = check_parity(edited.getvalue(), manager, bundle=bundle())
    assert not check.ok
    assert [m.projection for m in check.recorded.mismatches] == ["scores"]


def test_parity_follows_the_projection_values_not_the_snapshot():
    changed = ready("scores", {"s1": 91.23459, "s2": 2 / 3, "s3": None, "s, 4": 80.0})
    moved = ready("scores", {"s1": 91.2356, "s2": 2 / 3, "s3": None, "s, 4": 80.0})
    base = expected_parity(bundle(), STANDARD)
    assert expected_parity(bundle(changed), STANDARD) == base  # same digits once formatted
    assert expected_parity(bundle(moved), STANDARD) != base
