"""The stylesheet's text colours keep WCAG AA contrast (4.5:1) on their backgrounds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from snapkit.serve import pages

CSS = (Path(pages.__file__).parent / "static" / "snapkit.css").read_text("utf-8")
VARIABLES = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", CSS))


def luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def colour(name: str) -> str:
    return VARIABLES[name] if not name.startswith("#") else name


@pytest.mark.parametrize(
    ("text", "background"),
    [
        ("ink", "bg"),
        ("muted", "bg"),
        ("muted", "panel"),
        ("link", "bg"),
        ("link", "panel"),
        ("green-ink", "green-bg"),
        ("yellow-ink", "yellow-bg"),
        ("red-ink", "red-bg"),
        ("blue-ink", "blue-bg"),
        ("#ffffff", "#1f6feb"),
        ("#ffffff", "ink"),
    ],
)
def test_text_colours_meet_aa_contrast(text: str, background: str) -> None:
    assert contrast(colour(text), colour(background)) >= 4.5


def test_the_primary_button_colour_is_the_one_checked() -> None:
    assert re.search(r"\.button\.primary \{ background: #1f6feb;[^}]*color: #fff;", CSS)
