"""docs/cache.md and docs/coordinator.md: every Python example runs, and the example cache
backend of "Writing a cache backend" passes the whole conformance kit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from snapkit.testing.cache_kit import CacheConformance

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ["cache.md", "coordinator.md"]


def python_blocks(page: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.M | re.S)


def run_page(page: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"docs_{page.removesuffix('.md')}"}
    for block in python_blocks(page):
        exec(compile(block, f"docs/{page}", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("page", PAGES)
def test_every_python_example_of_the_page_runs(page):
    assert python_blocks(page), f"docs/{page} has no Python example"
    run_page(page)


@pytest.mark.parametrize("page", PAGES)
def test_the_page_is_in_the_site_navigation(page):
    nav = (DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8")
    assert f": {page}" in nav


DictCache = run_page("cache.md")["DictCache"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TestDocumentedCacheBackend(CacheConformance):
    """The guide's third-party backend passes the kit as a plugin author would run it."""

    @pytest.fixture
    def clock(self):
        return Clock()

    @pytest.fixture
    def make_cache(self, clock):
        return lambda ttl, capacity: DictCache(ttl=ttl, capacity=capacity, clock=clock)

    @pytest.fixture
    def expire(self, clock):
        def advance(cache, seconds):
            clock.now += seconds

        return advance
