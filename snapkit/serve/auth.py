"""The admin token: where it comes from, the shortest one accepted, and the bearer check.

The token is compared in constant time (:func:`hmac.compare_digest`) and never logged,
echoed in errors or put in events.
"""

from __future__ import annotations

import hmac
import os
from typing import Literal

from snapkit.errors import ConfigError

MIN_TOKEN_LENGTH = 32
"""The shortest admin token the server accepts (docs/serve.md: at least 32 characters)."""

TOKEN_ENV = "SNAPKIT_SERVE_TOKEN"
"""The environment variable read when the config sets no ``serve.token``."""


def resolve_token(
    configured: str | None, environ: dict[str, str] | None = None, where: str = "the configuration"
) -> str | None:
    """The admin token in force: ``serve.token`` (a string or ``{ env = NAME }``, already
    resolved by the config), else ``$SNAPKIT_SERVE_TOKEN``, else ``None`` (admin disabled).

    :raises ConfigError: if the token is shorter than :data:`MIN_TOKEN_LENGTH` (the message
        says how long it is, never what it is).
    """
    env = os.environ if environ is None else environ
    token = configured if configured else (env.get(TOKEN_ENV) or None)
    if token is None:
        return None
    if len(token) < MIN_TOKEN_LENGTH:
        source = "serve.token" if configured else f"${TOKEN_ENV}"
        raise ConfigError(
            f"{where}: {source} is {len(token)} characters long; the admin token needs at "
            f"least {MIN_TOKEN_LENGTH}",
            hint="generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )
    return token


def check_bearer(header: str | None, token: str) -> Literal["ok", "missing", "wrong"]:
    """Check an ``Authorization`` header against the token, in constant time."""
    if not header:
        return "missing"
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return "missing"
    if hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8")):
        return "ok"
    return "wrong"
