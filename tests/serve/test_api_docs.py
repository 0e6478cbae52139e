"""docs/serve.md stays true: its host-mounting example runs, and it names every API route."""

from __future__ import annotations

import os
import re
import runpy
from pathlib import Path

from snapkit.serve.openapi import document

PAGE = Path(__file__).resolve().parents[2] / "docs" / "serve.md"


def _section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_the_mounting_example_runs_on_a_store(district_store, tmp_path, monkeypatch) -> None:
    (block,) = re.findall(
        r"```python\n(.*?)```", _section("Mounting it in a host application"), re.S
    )
    config = district_store.copy(tmp_path / "host")
    script = tmp_path / "host_app.py"
    script.write_text(block, encoding="utf-8")
    monkeypatch.chdir(config.parent)
    for name, value in district_store.env.items():
        monkeypatch.setenv(name, value)
    namespace = runpy.run_path(str(script))
    assert namespace["answer"].json()["running"] is False
    assert os.getcwd() == str(config.parent)


def test_the_page_names_every_api_route() -> None:
    table = _section("The API")
    for path, methods in document()["paths"].items():
        if path == "/openapi.json":
            continue
        shown = re.sub(r"\{\w+\}", lambda m: "{" + m.group(0)[1:-1].upper() + "}", path)
        for method in methods:
            assert f"`{method.upper()} {shown}" in table, f"{method.upper()} {path}"
