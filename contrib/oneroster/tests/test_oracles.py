"""The REST table oracle: records normalized as the engine reads them, errors as snapkit's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

import snapkit_oneroster.oracles as oracles
import snapkit_oneroster.plugin as plugin
from snapkit.testing.engine import make_project
from snapkit_oneroster.client import OneRosterClient, RetryPolicy
from snapkit_oneroster.normalize import normalize_record


def user(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "sourcedId": f"u{n:04d}",
        "role": "student",
        "enabledUser": "true",
        "email": f"secret-{n}@example.com",
        **fields,
    }


def scripted_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, users: list[dict[str, Any]], page_size: int
) -> Any:
    """A project whose ``users`` oracle reads ``users`` from a scripted transport."""

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        return httpx.Response(
            200,
            json={"users": users[offset : offset + page_size]},
            headers={"X-Total-Count": str(len(users))},
        )

    def make_client(settings: Any, timeout: float, cancelled: Any = None) -> OneRosterClient:
        return OneRosterClient(
            "http://oneroster.test/ims/oneroster/v1p1",
            httpx.Auth(),
            page_size=page_size,
            transport=httpx.MockTransport(handler),
            retry=RetryPolicy(attempts=1, initial=0, maximum=0, jitter=0),
        )

    monkeypatch.setattr(oracles, "make_client", make_client)
    section = {
        "base_url": "http://oneroster.test/ims/oneroster/v1p1",
        "client_id": "c",
        "client_secret": "s",
        "tables": ["users"],
    }
    return make_project(
        tmp_path, plugin, config={"oracles": {"oneroster": section}, "refresh": {"attempts": 1}}
    )


def test_records_are_stored_normalized_page_after_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = [user(n, enabledUser="false" if n % 2 else "true") for n in range(1, 8)]
    p = scripted_project(tmp_path, monkeypatch, users, page_size=3)
    outcome = p.refresh()
    assert outcome.status == "success", outcome.errors
    stored = list(p.records(outcome.snapshot_id, "users"))
    assert stored == [normalize_record("users", u) for u in users]


def test_a_record_that_cannot_be_normalized_fails_the_table_naming_field_and_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = [user(n) for n in range(1, 8)]
    users[4] = user(5, enabledUser="secret-flag")
    outcome = scripted_project(tmp_path, monkeypatch, users, page_size=3).refresh()
    assert outcome.status == "failed"
    [error] = [e for e in outcome.errors if e.oracle == "users"]
    assert error.code == "oracle_error"
    assert error.message.startswith(
        "oracle 'users': OneRoster users: users.enabledUser at position 4:"
    )
    assert "secret" not in error.message
