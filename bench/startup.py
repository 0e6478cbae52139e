"""Start-up time of the snapkit CLI beside Python's own, median of several runs.

Prints the wall time of each command as a subprocess (interpreter start included), the median
of ``--runs`` runs after one warm-up, and ratios against the baselines measured in the same
run:

- ``import snapkit`` vs ``python -c pass``            target: under +50 ms
- ``snapkit --help`` vs ``python -c "import click"``  target: under 2x
- ``snapkit plugins list`` (every plugin distribution of this repository that is installed)
  vs ``python -c "import click"``                     target: under 2x

The row ``snapkit plugins list (autoload off)`` is the kernel alone: the difference to the row
above it is what the installed plugins' entry-point modules cost to import.

Run from anywhere: ``python bench/startup.py [--runs 9]``. Commands run in an empty temporary
folder (no config file) with SNAPKIT_* variables cleared. Not a timed test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import entry_points
from pathlib import Path

PYTHON = sys.executable
SNAPKIT = str(Path(sys.executable).with_name("snapkit"))


def measure(argv: list[str], runs: int, cwd: str, env: dict[str, str]) -> float:
    """Median wall time in milliseconds of running ``argv`` to completion."""
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=True)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs per command (default 9)")
    options = parser.parse_args()
    runs = max(7, options.runs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPKIT_")}
    # An installed package ships compiled bytecode (pip compiles at install time); an
    # editable checkout under PYTHONDONTWRITEBYTECODE=1 would recompile snapkit's modules on
    # every run while click's come precompiled. Give every command a bytecode cache, warmed
    # by the first (discarded) run, so all contenders start the way an installed one does.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cache = tempfile.mkdtemp(prefix="snapkit-pycache-")
    env["PYTHONPYCACHEPREFIX"] = cache
    plugins = sorted(
        {f"{ep.name} ({ep.dist.name if ep.dist else '?'})" for ep in entry_points(group="snapkit")}
    )
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        'python -c "import click"': [PYTHON, "-c", "import click"],
        'python -c "import snapkit"': [PYTHON, "-c", "import snapkit"],
        "snapkit --help": [SNAPKIT, "--help"],
        "snapkit plugins list": [SNAPKIT, "plugins", "list"],
        "snapkit plugins list --json": [SNAPKIT, "plugins", "list", "--json"],
    }
    kernel_only = {"snapkit plugins list (autoload off)": [SNAPKIT, "plugins", "list"]}
    with tempfile.TemporaryDirectory() as cwd:
        results = {name: measure(argv, runs, cwd, env) for name, argv in commands.items()}
        off = {**env, "SNAPKIT_DISABLE_PLUGIN_AUTOLOAD": "1"}
        results |= {name: measure(argv, runs, cwd, off) for name, argv in kernel_only.items()}
    base, click_ms = results["python -c pass"], results['python -c "import click"']
    print(f"snapkit start-up, median of {runs} runs; Python {sys.version.split()[0]}")
    print(f"plugins installed ({len(plugins)}): {', '.join(plugins) or 'none'}\n")
    width = max(map(len, results))
    print(f"{'command':<{width}}  {'ms':>7}  {'vs pass':>8}  {'vs click':>8}")
    for name, ms in results.items():
        print(f"{name:<{width}}  {ms:7.1f}  {ms / base:7.2f}x  {ms / click_ms:7.2f}x")
    added = results['python -c "import snapkit"'] - base
    checks = [
        ("import snapkit adds under 50 ms over python -c pass", added < 50, f"+{added:.1f} ms"),
        (
            "snapkit --help under 2x import click",
            results["snapkit --help"] < 2 * click_ms,
            f"{results['snapkit --help'] / click_ms:.2f}x",
        ),
        (
            "snapkit plugins list under 2x import click",
            results["snapkit plugins list"] < 2 * click_ms,
            f"{results['snapkit plugins list'] / click_ms:.2f}x",
        ),
    ]
    print()
    for label, ok, figure in checks:
        print(f"{'met   ' if ok else 'MISSED'} {label}: {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
