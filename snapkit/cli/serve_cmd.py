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
@click.pass_obj
def serve(state: Any, host: str | None, port: int | None, log_level: str) -> None:
    """Serve the store over HTTP: the read API (/api, described at /openapi.json), the admin
    refresh (POST /api/admin/refresh with a bearer token) and the status, search, history and
    diff pages (/). Reads never fetch; they answer from the current snapshot, also while a
    refresh runs.

    The admin token is serve.token (a string or { env = "NAME" }), else $SNAPKIT_SERVE_TOKEN;
    it must be at least 32 characters. Without one the server starts and the admin refresh
    answers 503. Needs the serve extra: pip install 'snapkit[serve]'.
    """
    project = state.project()
    run_server(project, host, port, log_level)


def run_server(
    project: Any, host: str | None = None, port: int | None = None, log_level: str = "info"
) -> None:
    """Serve ``project`` with uvicorn until interrupted (``snapkit serve``, ``demo --serve``).

    :raises UsageError: if the serve extra is missing or the address cannot be bound.
    :raises ConfigError: if the admin token is shorter than 32 characters.
    """
    import socket

    try:
        import uvicorn
    except ImportError:
        from snapkit.errors import UsageError

        raise UsageError(
            "snapkit serve needs the serve extra (Starlette, uvicorn, Jinja2)",
            hint="pip install 'snapkit[serve]'",
        ) from None
    import logging

    from snapkit.serve import create_app

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-9s %(name)s: %(message)s"))
    logger = logging.getLogger("snapkit")
    logger.addHandler(handler)
    logger.setLevel(log_level.upper())
    from snapkit.serve.process import freeze_startup_objects

    app = create_app(project)
    settings = project.config.serve
    host = host or settings.host
    port = settings.port if port is None else port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        from snapkit.errors import UsageError

        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port or --host",
        ) from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    admin = "on" if app.state.snapkit.token else "off (set serve.token)"
    click.echo(
        f"snapkit serve: listening on http://{shown}:{bound} "
        f"(pages at /, API at /api, OpenAPI at /openapi.json; admin refresh {admin})",
        err=True,
    )
    config = uvicorn.Config(
        app, log_level=log_level, lifespan="off", server_header=False, timeout_graceful_shutdown=5
    )
    # this process is snapkit's own (a host mounting create_app keeps its GC as it is)
    frozen = freeze_startup_objects()
    logger.debug("froze %d start-up objects out of the garbage collector's reach", frozen)
    uvicorn.Server(config).run(sockets=[sock])
