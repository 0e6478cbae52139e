"""Issue 11, defect 8: an export that fails because a stored part is damaged names the part,
not only "required projection failed"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import snapkit_serializers.plugin as serializers_plugin
from snapkit.descriptors import DatasetDescriptor, ProjectionDescriptor
from snapkit.errors import ExportError
from snapkit.export import SnapshotBundle, build_export
from snapkit.markers import hookimpl
from snapkit.projection import derive_for_project
from snapkit.testing.engine import OraclePlugin, make_project


class Report:
    """A projection counting users, and a dataset of the profile ``report`` over it."""

    @hookimpl
    def snapkit_register_projections(self, register: Callable[[Any], None]) -> None:
        register(
            ProjectionDescriptor(
                key="count",
                requires=("users",),
                factory=lambda settings: (
                    lambda inputs: {"users": sum(1 for _ in inputs.records("users"))}
                ),
            )
        )

    @hookimpl
    def snapkit_register_datasets(self, register: Callable[[Any], None]) -> None:
        register(
            DatasetDescriptor(
                key="totals",
                file_name="totals.csv",
                columns=("users",),
                requires=("count",),
                serializer="csv",
                policy="fail_closed",
                profiles=("report",),
                factory=lambda settings: lambda values: [values["count"]],
            )
        )


def test_an_export_over_a_damaged_part_names_the_part(tmp_path: Path) -> None:
    users = OraclePlugin().add(
        "users", lambda call: [{"id": i} for i in range(50)], records=True, key_column="id"
    )
    project = make_project(tmp_path, users, Report())
    project.manager.register(serializers_plugin, name="serializers")
    outcome = project.refresh()
    assert outcome.status == "success", outcome.errors
    manifest = project.current()
    sha = manifest.part("users").sha256
    (stored,) = [p for p in (tmp_path / "store").rglob(f"{sha}*") if p.is_file()]
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))

    results = derive_for_project(project, manifest)
    with pytest.raises(ExportError) as caught:
        build_export(SnapshotBundle(manifest, dict(results.results)), "report", project.manager)
    assert caught.value.reason == "required_projection_failed"
    message = caught.value.message
    assert message.startswith(
        "dataset 'totals': required projection 'count' is failed (projection 'count': "
    )
    assert sha[:12] in message
