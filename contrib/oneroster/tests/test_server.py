"""The local OneRoster server, spoken to over HTTP: paging, queries, errors, auth, admin."""

from __future__ import annotations

import io
import time
import urllib.parse
import zipfile

import httpx
import pytest

from snapkit_oneroster.auth import OAuth1Signature, percent_encode, sign, signature_base_string
from snapkit_oneroster.district import District
from snapkit_oneroster.server import ServerHandle, serve


@pytest.fixture(scope="module")
def http(server: ServerHandle) -> httpx.Client:
    token = httpx.post(
        server.token_url,
        data={"grant_type": "client_credentials"},
        auth=(server.client_id, server.client_secret),
    ).json()["access_token"]
    with httpx.Client(
        base_url=server.base_url + "/", headers={"Authorization": f"Bearer {token}"}
    ) as c:
        yield c


def assert_imsx(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status
    body = response.json()
    assert body["imsx_codeMajor"] == "failure"
    assert body["imsx_severity"] == "error"
    assert body["imsx_description"]
    return body


def test_default_page_is_100_with_total_count_and_link_headers(http: httpx.Client) -> None:
    response = http.get("users")
    assert response.status_code == 200
    assert len(response.json()["users"]) == 100
    assert response.headers["X-Total-Count"] == "5000"
    links = response.headers["Link"]
    for rel in ("first", "last", "next"):
        assert f'rel="{rel}"' in links
    assert 'rel="prev"' not in links
    assert "offset=4900" in links


def test_prev_link_and_offset_paging(http: httpx.Client) -> None:
    first = http.get("users", params={"limit": 10, "offset": 0}).json()["users"]
    second = http.get("users", params={"limit": 10, "offset": 10})
    assert 'rel="prev"' in second.headers["Link"]
    both = http.get("users", params={"limit": 20}).json()["users"]
    assert first + second.json()["users"] == both


def test_limit_above_the_maximum_is_capped_not_refused(district: District) -> None:
    with serve(district, max_limit=250) as small:
        token = httpx.post(
            small.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": small.client_id,
                "client_secret": small.client_secret,
            },
        ).json()["access_token"]
        page = httpx.get(
            small.base_url + "/users",
            params={"limit": 5000},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert len(page.json()["users"]) == 250


def test_filter_equals_not_equals_contains_and_and(http: httpx.Client, district: District) -> None:
    users = list(district.records("users"))
    students = http.get("users", params={"filter": "role='student'", "limit": 1})
    assert int(students.headers["X-Total-Count"]) == sum(u["role"] == "student" for u in users)
    others = http.get("users", params={"filter": "role!='student'", "limit": 1})
    assert int(others.headers["X-Total-Count"]) == sum(u["role"] != "student" for u in users)
    both = http.get(
        "users", params={"filter": "role='student' AND enabledUser='false'", "limit": 1}
    )
    expected = sum(u["role"] == "student" and u["enabledUser"] == "false" for u in users)
    assert int(both.headers["X-Total-Count"]) == expected
    gmail = http.get("users", params={"filter": "email~'EXAMPLE.NET'", "limit": 1})
    assert int(gmail.headers["X-Total-Count"]) == sum("example.net" in u["email"] for u in users)


def test_filter_on_a_reference_compares_its_sourced_id(
    http: httpx.Client, district: District
) -> None:
    class_id = district.ids("classes")[0]
    response = http.get(
        "enrollments", params={"filter": f"class.sourcedId='{class_id}'", "limit": 1000}
    )
    expected = [e for e in district.records("enrollments") if e["class"]["sourcedId"] == class_id]
    assert len(response.json()["enrollments"]) == len(expected) > 0


def test_sort_and_fields_projection(http: httpx.Client) -> None:
    response = http.get(
        "users", params={"sort": "familyName", "fields": "sourcedId,familyName", "limit": 50}
    )
    users = response.json()["users"]
    assert all(set(u) == {"sourcedId", "familyName"} for u in users)
    names = [u["familyName"] for u in users]
    assert names == sorted(names)


@pytest.mark.parametrize(
    ("params", "minor"),
    [
        ({"filter": "role = student"}, "invalid_filter_field"),
        ({"filter": "colour='red'"}, "invalid_filter_field"),
        ({"filter": "role='a' AND role='b' OR role='c'"}, "invalid_filter_field"),
        ({"fields": "sourcedId,shoeSize"}, "invalid_selection_field"),
        ({"sort": "shoeSize"}, "invalid_sort_field"),
        ({"limit": "many"}, "invalid_data"),
        ({"offset": "-1"}, "invalid_data"),
    ],
)
def test_bad_parameters_give_400_with_an_imsx_body(
    http: httpx.Client, params: dict, minor: str
) -> None:
    body = assert_imsx(http.get("users", params=params), 400)
    assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == minor


def test_unknown_collection_and_record_give_404(http: httpx.Client) -> None:
    assert_imsx(http.get("pets"), 404)
    assert_imsx(http.get("users/no-such-id"), 404)


def test_single_record_and_envelope_keys(http: httpx.Client, district: District) -> None:
    user_id = district.ids("users")[0]
    assert http.get(f"users/{user_id}").json()["user"]["sourcedId"] == user_id
    school = next(o for o in district.records("orgs") if o["type"] == "school")
    assert http.get(f"schools/{school['sourcedId']}").json()["org"]["type"] == "school"
    district_org = next(o for o in district.records("orgs") if o["type"] == "district")
    assert_imsx(http.get(f"schools/{district_org['sourcedId']}"), 404)
    for collection, key in [
        ("schools", "orgs"),
        ("students", "users"),
        ("terms", "academicSessions"),
        ("lineItems", "lineItems"),
    ]:
        assert key in http.get(collection, params={"limit": 1}).json()


def test_nested_class_students(http: httpx.Client, district: District) -> None:
    class_id = district.ids("classes")[0]
    expected = sorted(
        e["user"]["sourcedId"]
        for e in district.records("enrollments")
        if e["class"]["sourcedId"] == class_id and e["role"] == "student"
    )
    got = [u["sourcedId"] for u in http.get(f"classes/{class_id}/students").json()["users"]]
    assert got == expected and got


def test_token_endpoint_takes_basic_or_form_credentials_and_refuses_a_bad_secret(
    server: ServerHandle,
) -> None:
    form = {"grant_type": "client_credentials"}
    basic = httpx.post(server.token_url, data=form, auth=(server.client_id, server.client_secret))
    assert basic.status_code == 200 and basic.json()["token_type"] == "Bearer"
    assert basic.json()["expires_in"] > 0
    in_form = httpx.post(
        server.token_url,
        data={**form, "client_id": server.client_id, "client_secret": server.client_secret},
    )
    assert in_form.status_code == 200
    bad = httpx.post(server.token_url, data=form, auth=(server.client_id, "wrong"))
    assert_imsx(bad, 401)
    assert bad.json()["error"] == "invalid_client"


def test_request_without_credentials_is_401(server: ServerHandle) -> None:
    response = httpx.get(server.base_url + "/users")
    assert_imsx(response, 401)
    assert "WWW-Authenticate" in response.headers


def _oauth1_header(
    server: ServerHandle, url: str, params: dict, *, secret: str, timestamp: int, nonce: str
) -> str:
    oauth = {
        "oauth_consumer_key": server.client_id,
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": str(timestamp),
        "oauth_nonce": nonce,
        "oauth_version": "1.0",
    }
    base = signature_base_string("GET", url, [*params.items(), *oauth.items()])
    oauth["oauth_signature"] = sign(base, secret, method="HMAC-SHA256")
    return "OAuth " + ", ".join(f'{k}="{percent_encode(v)}"' for k, v in oauth.items())


def test_oauth1_signature_is_verified_over_query_nonce_and_timestamp(server: ServerHandle) -> None:
    url = server.base_url + "/orgs"
    params = {"limit": "5", "filter": "type='school'"}
    full = url + "?" + urllib.parse.urlencode(params)
    now = int(time.time())
    good = _oauth1_header(
        server, url, params, secret=server.client_secret, timestamp=now, nonce="n-1"
    )
    assert httpx.get(full, headers={"Authorization": good}).status_code == 200
    assert_imsx(httpx.get(full, headers={"Authorization": good}), 401)  # replayed nonce
    wrong_secret = _oauth1_header(server, url, params, secret="wrong", timestamp=now, nonce="n-2")
    assert_imsx(httpx.get(full, headers={"Authorization": wrong_secret}), 401)
    stale = _oauth1_header(
        server, url, params, secret=server.client_secret, timestamp=now - 3600, nonce="n-3"
    )
    assert_imsx(httpx.get(full, headers={"Authorization": stale}), 401)
    other_query = _oauth1_header(
        server, url, {"limit": "6"}, secret=server.client_secret, timestamp=now, nonce="n-4"
    )
    assert_imsx(httpx.get(full, headers={"Authorization": other_query}), 401)


def test_oauth1_only_server_refuses_bearer_tokens_and_has_no_token_endpoint(
    district: District,
) -> None:
    with serve(district, auth="oauth1") as signed:
        assert (
            httpx.post(signed.token_url, data={"grant_type": "client_credentials"}).status_code
            == 404
        )
        assert_imsx(
            httpx.get(signed.base_url + "/orgs", headers={"Authorization": "Bearer x"}), 401
        )
        auth = OAuth1Signature(signed.client_id, signed.client_secret, "HMAC-SHA1")
        assert httpx.get(signed.base_url + "/orgs", auth=auth).status_code == 200


def test_role_filter_cap_reproduces_the_provider_bug(
    http: httpx.Client, server: ServerHandle
) -> None:
    server.set_faults(role_filter_cap=1000)
    capped = http.get("users", params={"filter": "role='student'", "limit": 10_000})
    assert capped.headers["X-Total-Count"] == "1000"
    assert len(capped.json()["users"]) == 1000
    assert http.get("students", params={"limit": 1}).headers["X-Total-Count"] == "1000"
    assert http.get("users", params={"limit": 1}).headers["X-Total-Count"] == "5000"


def test_rate_limit_fault_answers_429_with_retry_after_then_recovers(
    http: httpx.Client, server: ServerHandle
) -> None:
    server.set_faults(rate_limit=2, retry_after=3)
    for _ in range(2):
        response = http.get("orgs")
        assert_imsx(response, 429)
        assert response.headers["Retry-After"] == "3"
    assert http.get("orgs").status_code == 200


def test_server_error_and_total_count_faults(http: httpx.Client, server: ServerHandle) -> None:
    server.set_faults(server_errors=1, omit_total_count=True)
    assert_imsx(http.get("orgs"), 500)
    ok = http.get("orgs")
    assert ok.status_code == 200 and "X-Total-Count" not in ok.headers


def test_truncate_fault_closes_the_connection_mid_body(
    http: httpx.Client, server: ServerHandle
) -> None:
    server.set_faults(truncate=1)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("users")
    assert http.get("users").status_code == 200


def test_admin_endpoints_set_faults_advance_and_report_state(district: District) -> None:
    with serve(District.generate(seed=3, users=300)) as own:
        state = httpx.get(own.url + "/__admin/state").json()
        assert state["day"] == 0 and state["counts"]["users"] == 300
        faults = httpx.post(own.url + "/__admin/faults", json={"rate_limit": 4, "delay": 0})
        assert faults.json()["faults"]["rate_limit"] == 4
        assert_imsx(httpx.post(own.url + "/__admin/faults", json={"colour": 1}), 400)
        advanced = httpx.post(own.url + "/__admin/advance", json={"days": 2}).json()
        assert [c["day"] for c in advanced["changes"]] == [1, 2]
        assert advanced["state"]["date"] == "2025-10-17"


def test_bulk_zip_endpoint_serves_a_one_roster_csv_export(server: ServerHandle) -> None:
    response = httpx.get(server.url + "/__admin/bulk.zip")
    assert response.headers["Content-Type"] == "application/zip"
    names = set(zipfile.ZipFile(io.BytesIO(response.content)).namelist())
    assert {
        "manifest.csv",
        "users.csv",
        "orgs.csv",
        "classes.csv",
        "enrollments.csv",
        "results.csv",
    } <= names
