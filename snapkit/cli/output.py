"""Output helpers shared by commands: JSON, tables, and progress lines."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import click


def echo_json(value: Any) -> None:
    """Print a JSON document (contracts are converted first), keys sorted, indented."""
    import json  # here: only --json output needs it

    from snapkit.convert import to_json

    click.echo(json.dumps(to_json(value), indent=2, sort_keys=True, ensure_ascii=False))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows as an aligned plain-text table."""
    cells = [[str(c) for c in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        line = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        click.echo(click.style(line, bold=True) if index == 0 else line)


def short(snapshot_id: str | None) -> str:
    """The 12-character form of a snapshot id people read."""
    return (snapshot_id or "")[:12]


class ProgressLines:
    """Progress of a refresh on stderr: one live line per oracle on a terminal, a line per
    finished oracle otherwise. Thread-safe; redraws at most ten times a second."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.state: dict[str, tuple[str, int, int]] = {}
        self.lock = threading.Lock()
        self.drawn = 0
        self.last = 0.0
        self.started = time.monotonic()

    def __call__(self, update: Any) -> None:
        if not self.enabled:
            return
        with self.lock:
            previous = self.state.get(update.oracle)
            self.state[update.oracle] = (update.state, update.records, update.attempt)
            final = update.state in {"done", "failed", "skipped"}
            if not self.tty:
                if final and (previous is None or previous[0] != update.state):
                    click.echo(self._line(update.oracle), err=True)
                return
            now = time.monotonic()
            if final or now - self.last > 0.1:
                self._draw()
                self.last = now

    def _line(self, oracle: str) -> str:
        state, records, attempt = self.state[oracle]
        mark = {"done": "✔", "failed": "✘", "skipped": "-", "retrying": "↻"}.get(state, "…")
        count = f"{records:,} records" if records else ""
        retry = f" (attempt {attempt})" if attempt > 1 else ""
        return f"  {mark} {oracle:<24} {state:<9} {count}{retry}".rstrip()

    def _draw(self) -> None:
        out = sys.stderr
        if self.drawn:
            out.write(f"\x1b[{self.drawn}F")
        lines = [self._line(key) for key in sorted(self.state)]
        for line in lines:
            out.write("\x1b[2K" + line + "\n")
        out.flush()
        self.drawn = len(lines)

    def close(self) -> None:
        """Draw the final state."""
        if self.enabled and self.tty:
            with self.lock:
                self._draw()
