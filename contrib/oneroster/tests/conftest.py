"""Fixtures: one synthetic district and one real server on a free loopback port per session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from snapkit_oneroster.client import OneRosterClient, RetryPolicy
from snapkit_oneroster.district import District
from snapkit_oneroster.server import ServerHandle, serve

USERS = 5_000
SEED = 11

FAST_RETRY = RetryPolicy(attempts=3, initial=0.0, maximum=0.0, jitter=0.0)
"""Retries without waiting, so fault tests stay fast."""


@pytest.fixture(scope="session")
def district() -> District:
    """A 5,000-user district; tests must not change it (the server serves it)."""
    return District.generate(seed=SEED, users=USERS)


@pytest.fixture(scope="session")
def server(district: District) -> Iterator[ServerHandle]:
    with serve(district, auth="both") as handle:
        yield handle


@pytest.fixture(autouse=True)
def _no_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts and ends with the shared server's faults off."""
    yield
    if "server" in request.fixturenames:
        request.getfixturevalue("server").set_faults()


class SleepRecorder:
    """Stands in for time.sleep: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(
    server: ServerHandle, sleeps: SleepRecorder
) -> Iterator[Callable[..., OneRosterClient]]:
    """Build OAuth2 (default) or OAuth1 clients of the shared server; closed afterwards."""
    made: list[OneRosterClient] = []

    def make(
        scheme: str = "oauth2", *, secret: str | None = None, **kwargs: Any
    ) -> OneRosterClient:
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("sleep", sleeps)
        secret = server.client_secret if secret is None else secret
        if scheme == "oauth2":
            client = OneRosterClient.oauth2(
                server.base_url, server.token_url, server.client_id, secret, **kwargs
            )
        else:
            method = {"oauth1": "HMAC-SHA256", "oauth1-sha1": "HMAC-SHA1"}[scheme]
            client = OneRosterClient.oauth1(
                server.base_url, server.client_id, secret, method=method, **kwargs
            )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
