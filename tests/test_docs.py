"""The docs follow the code: generated hook reference, config keys, exit codes, fixtures."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from snapkit import exitcodes, hookspecs
from snapkit.docs_gen import DEFAULT_OUTPUT, UndocumentedHookError, hook_docs, main, render
from snapkit.markers import hookspec

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.mark.parametrize("name", [*hookspecs.REGISTRATION_HOOKS, *hookspecs.EVENT_HOOKS])
def test_every_hook_is_documented_where_it_is_declared(name):
    doc = getattr(hookspecs, name).__doc__
    assert doc and doc.strip(), f"hook {name} has no docstring in snapkit/hookspecs.py"
    assert "Example::" in doc, f"hook {name} has no example"


def test_every_hook_is_in_the_generated_reference():
    text = (DOCS / "hooks.md").read_text(encoding="utf-8")
    for hook in hook_docs():
        assert f"### {hook.name}\n" in text
        assert hook.model is not None, f"{hook.name}: no descriptor or event class found"


def test_hook_reference_is_up_to_date():
    assert DEFAULT_OUTPUT == DOCS / "hooks.md"
    assert (DOCS / "hooks.md").read_text(encoding="utf-8") == render(), (
        "docs/hooks.md is out of date: run 'python -m snapkit.docs_gen'"
    )


def test_docs_gen_check_mode(tmp_path, capsys):
    out = tmp_path / "hooks.md"
    assert main(["--check", "--output", str(out)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["--output", str(out)]) == 0
    assert main(["--check", "--output", str(out)]) == 0


def _module(**members: object) -> types.ModuleType:
    module = types.ModuleType("fake_hookspecs")
    for name, value in members.items():
        setattr(module, name, value)
    return module


def test_an_undocumented_hook_fails_the_generator():
    @hookspec
    def snapkit_register_things(register):  # type: ignore[no-untyped-def]
        pass

    module = _module(
        snapkit_register_things=snapkit_register_things,
        REGISTRATION_HOOKS={"snapkit_register_things": "oracle"},
        EVENT_HOOKS=(),
    )
    with pytest.raises(UndocumentedHookError, match="snapkit_register_things has no docstring"):
        render(module)


def test_a_hook_missing_from_the_hook_lists_fails_the_generator():
    @hookspec
    def snapkit_something_happened(event):  # type: ignore[no-untyped-def]
        """Documented, but not listed."""

    module = _module(
        snapkit_something_happened=snapkit_something_happened, REGISTRATION_HOOKS={}, EVENT_HOOKS=()
    )
    with pytest.raises(UndocumentedHookError, match="not listed"):
        hook_docs(module)


def _schema_paths(schema: dict, prefix: str = "") -> list[str]:  # type: ignore[type-arg]
    paths = []
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        if sub.get("additionalProperties") == {"type": "object"}:  # settings by plugin key
            paths.append(f"{path}.<key>")
            continue
        if "properties" in sub:
            paths += [f"[{path}]", *_schema_paths(sub, f"{path}.")]
        else:
            paths.append(path)
    return paths


def test_configuration_page_documents_every_kernel_key():
    from snapkit.config import KERNEL_SCHEMA

    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [p for p in _schema_paths(KERNEL_SCHEMA) if f"`{p}`" not in text]
    assert not missing, f"docs/configuration.md does not document {missing}"


def test_cli_page_documents_every_exit_code():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    codes = {name: value for name, value in vars(exitcodes).items() if name.isupper()}
    for name, value in codes.items():
        assert re.search(rf"^\| {value} \| `{name}` \|", text, re.M), f"exit code {name}"


def test_cli_page_documents_every_validate_problem_code():
    source = "".join((ROOT / "snapkit" / f).read_text() for f in ("manager.py", "validation.py"))
    codes = set(re.findall(r'"([a-z]+(?:-[a-z]+)+)"', source))  # Problem codes
    assert {"unknown-hook", "bad-signature", "duplicate-key", "oracle-cycle"} <= codes
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert {c for c in codes if f"`{c}`" not in text} == set()


def test_plugin_guide_documents_every_testing_kit_fixture():
    import snapkit.testing.plugin as kit

    fixtures = [
        name
        for name, value in vars(kit).items()
        if hasattr(value, "_fixture_function")
        or "FixtureFunctionDefinition" in type(value).__name__
    ]
    assert {"snapkit_manager", "register_plugin", "hook_recorder"} <= set(fixtures)
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    for name in [*fixtures, "assert_plugin_installed", "[project.entry-points.snapkit]"]:
        assert name in text


def test_mkdocs_site_builds_strictly(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-q",
            "-f",
            str(ROOT / "mkdocs.yml"),
            "-d",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for page in ("index", "plugins", "hooks", "configuration", "cli"):
        assert (tmp_path / "site" / ("" if page == "index" else page) / "index.html").exists()


def test_plugin_guide_chunking_example_runs():
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    blocks = [
        block
        for block in re.findall(r"^```python\n(.*?)^```$", text, flags=re.M | re.S)
        if "LineCutter" in block
    ]
    assert len(blocks) == 1
    namespace: dict = {}
    exec(compile(blocks[0], "docs/plugins.md", "exec"), namespace)
    assert len(namespace["chunks"]) > 1
