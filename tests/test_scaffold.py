"""``snapkit new plugin``: the package it writes is valid and its tests pass unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

from snapkit.errors import UsageError
from snapkit.scaffold import KINDS, plan_plugin, render_plugin, write_plugin


def test_the_default_kinds_are_an_oracle_and_a_projection():
    plan = plan_plugin("acme-crm")
    assert (plan.distribution, plan.package, plan.kinds) == (
        "snapkit-acme-crm",
        "snapkit_acme_crm",
        ("oracle", "projection"),
    )


def test_a_kind_brings_the_kinds_its_template_reads():
    assert plan_plugin("acme", ["dataset"]).kinds == ("oracle", "projection", "dataset")
    assert plan_plugin("acme", ["store"]).kinds == ("store",)


def test_an_unknown_kind_lists_the_known_ones():
    with pytest.raises(UsageError, match="unknown kind 'oracel'") as caught:
        plan_plugin("acme", ["oracel"])
    assert "search_view" in str(caught.value.hint)


@pytest.mark.parametrize("name", ["Acme", "acme_crm", "1acme", "acme-", ""])
def test_a_name_that_is_not_lowercase_words_is_refused(name):
    with pytest.raises(UsageError, match="invalid plugin name"):
        plan_plugin(name)


def test_rendering_is_deterministic_and_lists_one_module_and_test_per_kind():
    plan = plan_plugin("acme", KINDS)
    files = render_plugin(plan)
    assert files == render_plugin(plan_plugin("acme", reversed(KINDS)))
    for kind in KINDS:
        assert f"src/snapkit_acme/{kind}.py" in files
        assert f"tests/test_{kind}.py" in files
    assert '"snapkit-core>=0.2,<0.3"' in files["pyproject.toml"]


def test_a_folder_that_holds_files_is_not_overwritten(tmp_path):
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError, match="not empty"):
        write_plugin(plan_plugin("acme"), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_a_generated_package_with_every_kind_is_valid_and_its_tests_pass(snapkit_cli, tmp_path):
    target = tmp_path / "acme"
    run = snapkit_cli("new", "plugin", "acme", "--kind", ",".join(KINDS), "--dir", str(target))
    assert run.returncode == 0, run
    assert "wrote snapkit-acme" in run.stdout

    from setuptools.config.pyprojecttoml import read_configuration

    with warnings.catch_warnings():  # setuptools calls [tool.setuptools] "beta"
        warnings.simplefilter("ignore")
        project = read_configuration(target / "pyproject.toml")["project"]  # validates it
    assert project["entry-points"] == {"snapkit": {"acme": "snapkit_acme.plugin"}}
    assert (target / "src" / "snapkit_acme" / "py.typed").is_file()
    assert (target / "README.md").read_text(encoding="utf-8").startswith("# snapkit-acme")

    # its tests, unchanged, against this interpreter's snapkit (the kit loads via pytest11)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPKIT_")}
    env["PYTHONPATH"] = str(target / "src")
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    summary = tests.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary
