"""A local OneRoster server in its own process, for tests that need one outside pytest's.

(A module of its own, not conftest: several distributions' test folders are on sys.path,
so ``from conftest import ...`` would find another distribution's conftest.)
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def server_process(*, users: int, seed: int, secret: str) -> Iterator[dict[str, Any]]:
    """A server in its own process (``python -m snapkit_oneroster.cli serve``, OAuth 2.0);
    yields what it prints (base_url, token_url, client_id, ...), stops it afterwards."""
    command = [
        sys.executable, "-m", "snapkit_oneroster.cli", "serve", "--port", "0",
        "--users", str(users), "--seed", str(seed), "--auth", "oauth2",
        "--client-secret", secret,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("}"):
                break
        yield json.loads("".join(lines))
    finally:
        process.terminate()
        process.wait(10)
