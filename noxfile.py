"""Developer sessions: tests, lint, typecheck, docs, bench, demo (run with ``nox -s NAME``)."""

from __future__ import annotations

import tomllib

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.default_venv_backend = "venv"

PYTHON = "3.11"
LINTED = ("snapkit", "plugins", "contrib", "tests", "bench", "noxfile.py")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite: kernel and every plugin distribution."""
    session.install("-r", "requirements-test.txt")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the kernel, every plugin distribution, tests and benchmarks: lint and format.

    One configuration for all of them: the root pyproject.toml's [tool.ruff]. The format is
    enforced (``ruff format --check``); ``nox -s format`` rewrites the files.
    """
    session.install("ruff")
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)


@nox.session(python=PYTHON)
def format(session: nox.Session) -> None:
    """ruff format: rewrite every file to the enforced format."""
    session.install("ruff")
    session.run("ruff", "format", *LINTED)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the kernel and every plugin distribution.

    The files and settings are the root pyproject's [tool.mypy]; every distribution is
    installed with what its tests need (the testing kits import pytest, moto, ...), so that
    their imports of each other and of those are checked too.
    """
    session.install("-r", "requirements-test.txt", "mypy", "types-jsonschema")
    session.run("mypy")


@nox.session(python=PYTHON)
def distributions(session: nox.Session) -> None:
    """Each distribution installed alone, running its own tests.

    Wheels of every distribution of the repository go into a
    local wheelhouse (none of them is on the package index), then each is installed with its
    test extra into a fresh environment, taking from the wheelhouse only what it declares,
    and runs its own tests. ``nox -s distributions -- files`` limits it to named folders."""
    from pathlib import Path

    folders = sorted(
        p.parent
        for p in [
            *Path("plugins").glob("*/pyproject.toml"),
            *Path("contrib").glob("*/pyproject.toml"),
        ]
    )
    chosen = [f for f in folders if not session.posargs or f.name in session.posargs]
    wheelhouse = Path(session.create_tmp()).resolve() / "wheelhouse"
    session.install("pip")
    session.run("pip", "wheel", "--no-deps", "-q", "-w", str(wheelhouse), ".", *map(str, folders))
    for folder in chosen:
        env = Path(session.create_tmp()).resolve() / f"venv-{folder.name}"
        session.run("python", "-m", "venv", "--clear", str(env))
        python = str(env / "bin" / "python")
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"]
        session.run(
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--find-links",
            str(wheelhouse),
            f"{project}[test]",
            "pytest-timeout",
            external=True,
        )
        with session.chdir(folder):
            session.run(python, "-m", "pytest", "-q", "-p", "no:randomly", "tests", external=True)


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
