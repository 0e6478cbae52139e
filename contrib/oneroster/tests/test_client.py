"""The REST client against the real local server (and a few scripted transports)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import httpx
import pytest

from snapkit_oneroster.client import OneRosterClient, RetryPolicy
from snapkit_oneroster.district import District
from snapkit_oneroster.errors import (
    AuthenticationError,
    ConfigurationError,
    DeadlineExceededError,
    MissingEnvelopeError,
    OneRosterError,
    ProtocolError,
    RecordCountMismatchError,
    RecordFormatError,
    RetriesExhaustedError,
    ServerError,
    TruncatedResponseError,
)
from snapkit_oneroster.normalize import normalize_record
from snapkit_oneroster.server import ServerHandle, serve

MakeClient = Callable[..., OneRosterClient]


def id_digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


@pytest.mark.parametrize("table", ["users", "enrollments", "results"])
def test_paging_reads_exactly_every_record(
    make_client: MakeClient, district: District, table: str
) -> None:
    client = make_client(page_size=700)  # not a divisor of any count
    ids = [r["sourcedId"] for r in client.iter_records(table)]
    expected = district.ids(table)
    assert len(ids) == len(expected) == district.count(table)
    assert id_digest(ids) == id_digest(expected)


def test_records_are_normalized_like_the_generator_records(
    make_client: MakeClient, district: District
) -> None:
    got = list(make_client(page_size=2000).iter_records("users"))
    assert got == [normalize_record("users", r) for r in district.records("users")]
    assert {type(u["enabledUser"]) for u in got} == {bool}
    primary = {e["primary"] for e in make_client().iter_records("enrollments")}
    assert primary == {True, False}


def test_page_size_larger_than_the_server_maximum_still_reads_all(district: District) -> None:
    with serve(district, max_limit=300) as small:
        client = OneRosterClient.oauth2(
            small.base_url, small.token_url, small.client_id, small.client_secret, page_size=1000
        )
        with client:
            assert sum(1 for _ in client.iter_records("users")) == 5000


@pytest.mark.parametrize("scheme", ["oauth2", "oauth1", "oauth1-sha1"])
def test_every_auth_scheme_is_accepted(
    make_client: MakeClient, district: District, scheme: str
) -> None:
    assert len(list(make_client(scheme).iter_records("orgs"))) == district.count("orgs")


@pytest.mark.parametrize("scheme", ["oauth2", "oauth1", "oauth1-sha1"])
def test_bad_secret_raises_authentication_error(make_client: MakeClient, scheme: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        list(make_client(scheme, secret="not-the-secret").iter_records("orgs"))
    assert "not-the-secret" not in str(caught.value)


def test_expired_token_is_fetched_again(make_client: MakeClient, server: ServerHandle) -> None:
    client = make_client()
    list(client.iter_records("orgs"))
    server.state.revoke_tokens()
    assert len(list(client.iter_records("orgs"))) > 0
    assert client._http.auth.tokens_fetched == 2  # type: ignore[union-attr]


def test_rate_limit_is_retried_honouring_retry_after(
    make_client: MakeClient, server: ServerHandle, sleeps
) -> None:
    server.set_faults(rate_limit=2, retry_after=7)
    client = make_client()
    assert len(list(client.iter_records("orgs"))) > 0
    assert sleeps.waits == [7.0, 7.0]
    assert client.retries == 2


def test_transient_server_errors_are_retried(
    make_client: MakeClient, server: ServerHandle, district: District
) -> None:
    server.set_faults(server_errors=2)
    client = make_client(page_size=1000)
    assert sum(1 for _ in client.iter_records("users")) == district.count("users")
    assert client.retries == 2


def test_permanent_server_errors_raise_after_the_attempts(
    make_client: MakeClient, server: ServerHandle
) -> None:
    server.set_faults(server_errors_always=True)
    client = make_client(retry=RetryPolicy(attempts=3, initial=0, maximum=0, jitter=0))
    with pytest.raises(RetriesExhaustedError) as caught:
        list(client.iter_records("users"))
    assert caught.value.attempts == 3
    assert isinstance(caught.value.last_error, ServerError)
    assert client.api_calls == 3
    assert "3 attempts" in str(caught.value)


def test_backoff_grows_exponentially_when_the_server_gives_no_retry_after(
    make_client: MakeClient, server: ServerHandle, sleeps
) -> None:
    server.set_faults(server_errors=3)
    client = make_client(retry=RetryPolicy(attempts=4, initial=1, maximum=60, jitter=0))
    list(client.iter_records("orgs"))
    assert sleeps.waits == [1.0, 2.0, 4.0]


def test_missing_total_count_still_reads_every_record(
    make_client: MakeClient, server: ServerHandle, district: District
) -> None:
    server.set_faults(omit_total_count=True)
    pages = list(make_client(page_size=1000).iter_pages("users"))
    assert all(p.total is None for p in pages)
    assert sum(len(p.records) for p in pages) == district.count("users")


def test_truncated_body_is_retried(
    make_client: MakeClient, server: ServerHandle, district: District
) -> None:
    server.set_faults(truncate=1)
    assert sum(1 for _ in make_client().iter_records("orgs")) == district.count("orgs")


def test_persistently_truncated_body_raises_a_typed_error(
    make_client: MakeClient, server: ServerHandle
) -> None:
    server.set_faults(truncate_always=True)
    with pytest.raises(RetriesExhaustedError) as caught:
        list(make_client().iter_records("users"))
    assert isinstance(caught.value.last_error, TruncatedResponseError)


def test_role_filter_cap_is_not_hit_by_the_client(
    make_client: MakeClient, server: ServerHandle, district: District
) -> None:
    server.set_faults(role_filter_cap=1000)
    students = [u for u in district.records("users") if u["role"] == "student"]
    assert len(students) > 1000
    got = list(make_client().iter_records("students"))
    assert [u["sourcedId"] for u in got] == [s["sourcedId"] for s in students]
    guardians = [
        u for u in make_client().iter_records("users") if u["role"] in ("parent", "guardian")
    ]
    assert len(guardians) > 1000


def test_unknown_collection_is_a_configuration_error(make_client: MakeClient) -> None:
    with pytest.raises(ConfigurationError, match="known:"):
        list(make_client().iter_records("pets"))


def test_get_record_returns_one_normalized_record(
    make_client: MakeClient, district: District
) -> None:
    user_id = district.ids("users")[5]
    assert make_client().get_record("users", user_id) == normalize_record(
        "users", district.record("users", user_id)
    )


def test_retry_after_beyond_the_deadline_stops_instead_of_waiting(
    make_client: MakeClient, server: ServerHandle, sleeps
) -> None:
    server.set_faults(rate_limit=1, retry_after=600)
    with pytest.raises(DeadlineExceededError, match="no time left"):
        list(make_client(deadline=60.0).iter_records("orgs"))
    assert sleeps.waits == []


def test_deadline_stops_the_read(make_client: MakeClient) -> None:
    with pytest.raises(DeadlineExceededError, match="deadline"):
        list(make_client(deadline=0.0).iter_records("orgs"))


# ----------------------------------------------------------------- scripted servers


def scripted(handler: Callable[[httpx.Request], httpx.Response], **kwargs) -> OneRosterClient:
    return OneRosterClient(
        "http://oneroster.test/ims/oneroster/v1p1",
        httpx.Auth(),
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=2, initial=0, maximum=0, jitter=0),
        sleep=lambda s: None,
        **kwargs,
    )


def user(n: int, **fields) -> dict:
    return {
        "sourcedId": f"u{n:04d}",
        "role": "student",
        "email": f"secret-{n}@example.com",
        **fields,
    }


def test_200_without_the_envelope_key_is_a_protocol_error() -> None:
    client = scripted(lambda r: httpx.Response(200, json={"people": []}))
    with pytest.raises(MissingEnvelopeError, match="'users'"):
        list(client.iter_records("users"))


def test_invalid_json_is_a_protocol_error() -> None:
    client = scripted(lambda r: httpx.Response(200, content=b'{"users": [{"sourcedId": '))
    with pytest.raises(ProtocolError, match="not valid JSON"):
        list(client.iter_records("users"))


def test_fewer_records_than_announced_raise_a_count_mismatch_without_personal_data() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        users = [user(n) for n in range(offset, min(offset + 10, 25))]
        return httpx.Response(200, json={"users": users}, headers={"X-Total-Count": "30"})

    with pytest.raises(RecordCountMismatchError) as caught:
        list(scripted(handler, page_size=10).iter_records("users"))
    assert "25" in str(caught.value) and "30" in str(caught.value)
    assert "secret" not in str(caught.value) and "u00" not in str(caught.value)


def test_repeated_page_is_detected() -> None:
    client = scripted(
        lambda r: httpx.Response(200, json={"users": [user(n) for n in range(10)]}), page_size=10
    )
    with pytest.raises(ProtocolError, match="out of sourcedId order"):
        list(client.iter_records("users"))


def pages_of(records: list[dict], page_size: int) -> Callable[[httpx.Request], httpx.Response]:
    """A handler serving ``records`` by ``offset``/``limit``, with X-Total-Count."""

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        return httpx.Response(
            200,
            json={"users": records[offset : offset + page_size]},
            headers={"X-Total-Count": str(len(records))},
        )

    return handler


@pytest.mark.parametrize(
    ("ids", "position", "problem"),
    [
        ([1, 2, 3, 5, 4, 6], 4, "out of sourcedId order"),  # inside the second page
        ([1, 2, 3, 3, 4, 5], 3, "out of sourcedId order"),  # repeated across pages
        ([1, 3, 2, 4, 5, 6], 2, "out of sourcedId order"),  # inside the first page
        ([1, 2, 3, 4, None, 6], 4, "no sourcedId string"),
        ([1, 2, 3, 4, 5, 7.0], 5, "no sourcedId string"),
    ],
)
def test_order_problems_name_the_position(ids: list, position: int, problem: str) -> None:
    records = [user(n) if isinstance(n, int) else {**user(0), "sourcedId": n} for n in ids]
    client = scripted(pages_of(records, 3), page_size=3)
    with pytest.raises(ProtocolError, match=f"position {position} (is|has) {problem}"):
        list(client.iter_records("users", normalize=False))


def test_order_check_can_be_turned_off_but_sourced_ids_are_still_required() -> None:
    records = [user(n) for n in (3, 2, 1, 1)]
    client = scripted(pages_of(records, 2), page_size=2, check_order=False)
    assert [r["sourcedId"] for r in client.iter_records("users")] == [
        "u0003",
        "u0002",
        "u0001",
        "u0001",
    ]
    records[3] = {**records[3], "sourcedId": 7}
    client = scripted(pages_of(records, 2), page_size=2, check_order=False)
    with pytest.raises(ProtocolError, match="position 3 has no sourcedId string"):
        list(client.iter_records("users"))


def test_bad_boolean_names_the_field_not_the_value() -> None:
    client = scripted(
        lambda r: httpx.Response(200, json={"users": [user(1, enabledUser="secret-flag")]})
    )
    with pytest.raises(RecordFormatError) as caught:
        list(client.iter_records("users"))
    assert "users.enabledUser" in str(caught.value)
    assert "secret" not in str(caught.value)


def test_client_never_sends_a_role_filter() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"users": [user(1), user(2, role="parent")]})

    students = list(scripted(handler).iter_records("students"))
    assert [s["sourcedId"] for s in students] == ["u0001"]
    assert all(u.path.endswith("/users") and "filter" not in u.params for u in seen)
    assert all(u.params["sort"] == "sourcedId" for u in seen)


def test_every_error_is_a_one_roster_error() -> None:
    for error in (AuthenticationError, ProtocolError, RetriesExhaustedError, DeadlineExceededError):
        assert issubclass(error, OneRosterError)


def test_log_messages_carry_no_record_values(
    make_client: MakeClient, server: ServerHandle, caplog
) -> None:
    server.set_faults(server_errors=1)
    caplog.set_level("DEBUG", logger="snapkit_oneroster")
    records = list(make_client().iter_records("users"))
    text = caplog.text
    assert text
    for record in records[:50]:
        assert record["email"] not in text and record["familyName"] + "," not in text
    assert json.dumps(records[0]) not in text
