"""Developer sessions: tests, lint, typecheck, docs, bench, demo (run with ``nox -s NAME``)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.default_venv_backend = "venv"

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite: kernel and every plugin distribution."""
    session.install("-r", "requirements-test.txt")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the kernel, plugins, tests and benchmarks."""
    session.install("ruff")
    session.run("ruff", "check", "snapkit", "plugins", "contrib", "tests", "bench")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the kernel."""
    session.install("-e", ".", "mypy", "types-jsonschema", "pytest", "hypothesis")
    session.run("mypy", "snapkit")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Regenerate the hook reference and build the mkdocs site."""
    session.install("-e", ".", "mkdocs")
    session.run("python", "-m", "snapkit.docs_gen")
    session.run("mkdocs", "build", "--strict")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks, each printed beside a peer measured in the same run.

    ``nox -s bench -- --full`` runs the large sizes (1,000,000 rows); the default sizes are
    small enough for a laptop.
    """
    from pathlib import Path

    session.install("-r", "requirements.txt", "-r", "bench/requirements.txt")
    for script in sorted(Path("bench").glob("*.py")):
        session.run("python", str(script), *session.posargs)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Install everything and run ``snapkit demo``."""
    session.install("-r", "requirements.txt")
    session.run("snapkit", "demo", *session.posargs)
