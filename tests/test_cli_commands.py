"""Every built-in command loads and explains itself; --help imports no plugin."""

from __future__ import annotations

import subprocess
import sys

import pytest

from snapkit.cli.main import COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_listed_command_has_help(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "snapkit", name, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: snapkit" in done.stdout
    assert COMMANDS[name][2].split()[0].lower() in done.stdout.lower()
