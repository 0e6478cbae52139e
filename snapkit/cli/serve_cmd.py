"""``snapkit serve``: the HTTP read API, the admin refresh and the pages, run by uvicorn."""

from __future__ import annotations

from typing import Any

import click


@click.command()
@click.option(
    "--host", metavar="ADDRESS", help="Address to listen on (default: serve.host, 127.0.0.1)."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Port to listen on (default: serve.port, 8750; 0 picks a free one).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="How much the server logs (to stderr).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    metavar="N",
    help="Server processes answering on the port (default: serve.workers, 1).",
)
@click.pass_obj
def serve(
    state: Any, host: str | None, port: int | None, log_level: str, workers: int | None
) -> None:
    """Serve the store over HTTP: the read API (/api, described at /openapi.json), the admin
    refresh (POST /api/admin/refresh with a bearer token) and the status, search, history and
    diff pages (/). Reads never fetch; they answer from the current snapshot, also while a
    refresh runs.

    The admin token is serve.token (a string or { env = "NAME" }), else $SNAPKIT_SERVE_TOKEN;
    it must be at least 32 characters. Without one the server starts and the admin refresh
    answers 503. With several workers, the first answers the admin refresh, the refresh
    status and runs, the status page and the live dashboard; every worker answers the reads.
    Needs the serve extra: pip install 'snapkit[serve]'.
    """
    project = state.project()
    code = run_server(project, host, port, log_level, workers=workers)
    if code:
        raise SystemExit(code)


def run_server(
    project: Any,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
    *,
    workers: int | None = None,
) -> int:
    """Serve ``project`` with uvicorn until interrupted (``snapkit serve``, ``demo --serve``);
    the exit code (1 when a worker died, see :mod:`snapkit.serve.workers`).

    :param workers: server processes (default: ``serve.workers``).
    :raises UsageError: if the serve extra is missing, the address cannot be bound, or
        several workers are asked for where there is no ``fork``.
    :raises ConfigError: if the admin token is shorter than 32 characters.
    """
    import os

    try:
        import uvicorn  # noqa: F401
    except ImportError:
        from snapkit.errors import UsageError

        raise UsageError(
            "snapkit serve needs the serve extra (Starlette, uvicorn, Jinja2)",
            hint="pip install 'snapkit[serve]'",
        ) from None
    import logging

    from snapkit.serve import workers as _workers
    from snapkit.serve.auth import resolve_token

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-9s %(name)s: %(message)s"))
    logger = logging.getLogger("snapkit")
    logger.addHandler(handler)
    logger.setLevel(log_level.upper())
    settings = project.config.serve
    count = workers or settings.workers
    if count > 1 and not hasattr(os, "fork"):
        from snapkit.errors import UsageError

        raise UsageError(
            f"{count} workers need a platform with fork (Linux, macOS)",
            hint="set serve.workers = 1 (or --workers 1)",
        )
    token = resolve_token(settings.token, where=project.config.where)
    if count == 1:
        from snapkit.serve import create_app

        app = create_app(project)
    host = host or settings.host
    port = settings.port if port is None else port
    try:
        sock = _workers.listening_socket(host, port, count)
    except OSError as exc:
        from snapkit.errors import UsageError

        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port or --host",
        ) from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    admin = "on" if token else "off (set serve.token)"
    click.echo(
        f"snapkit serve: listening on http://{shown}:{bound} "
        f"(pages at /, API at /api, OpenAPI at /openapi.json; admin refresh {admin}; "
        f"{count} worker{'s' if count > 1 else ''})",
        err=True,
    )
    if count == 1:
        _workers.serve_one(app, sock, log_level)
        return 0
    # the workers build their apps (and open the store) after the fork
    return _workers.serve_many(project, sock, count, log_level)
