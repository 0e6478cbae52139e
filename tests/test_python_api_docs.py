"""docs/python-api.md: the embedding example runs as a host would run it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs"


def python_blocks(page: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.M | re.S)


def test_every_python_example_of_the_embedding_page_runs(monkeypatch: Any) -> None:
    monkeypatch.delenv("SNAPKIT_PLUGINS", raising=False)
    blocks = python_blocks("python-api.md")
    assert len(blocks) >= 3
    namespace: dict[str, Any] = {"__name__": "docs_python_api"}
    for block in blocks:
        exec(compile(block, "docs/python-api.md", "exec"), namespace)
    assert namespace["outcome"].status == "success"


def test_the_embedding_page_is_in_the_site_navigation() -> None:
    nav = (DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8")
    assert ": python-api.md" in nav
