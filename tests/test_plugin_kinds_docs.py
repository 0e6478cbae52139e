"""docs/plugin-kinds.md: every example runs, in order, as the one program the page builds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs"


def python_blocks(page: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.M | re.S)


def test_every_python_example_of_the_plugin_kinds_page_runs() -> None:
    blocks = python_blocks("plugin-kinds.md")
    assert len(blocks) >= 10
    namespace: dict[str, Any] = {"__name__": "docs_plugin_kinds"}
    for block in blocks:
        exec(compile(block, "docs/plugin-kinds.md", "exec"), namespace)
    assert namespace["export"].parity.ok


def test_the_page_has_a_section_for_every_kind_the_issue_names() -> None:
    text = (DOCS / "plugin-kinds.md").read_text(encoding="utf-8")
    for title in (
        "Writing an oracle",
        "Writing a projection",
        "Writing a dataset",
        "Writing a serializer",
        "Writing a diff section",
        "Writing a search view",
        "Writing an event-hook plugin",
        "Exporting from Python",
        "Testing with the kit",
    ):
        assert f"\n## {title}\n" in text


def test_the_page_is_linked_from_the_plugin_guide_and_the_navigation() -> None:
    assert "(plugin-kinds.md)" in (DOCS / "plugins.md").read_text(encoding="utf-8")
    assert ": plugin-kinds.md" in (DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8")
