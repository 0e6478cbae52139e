"""OAuth 1.0a primitives against the worked examples of RFC 5849."""

from __future__ import annotations

import urllib.parse

import httpx

from snapkit_oneroster.auth import (
    OAuth1Signature,
    base_string_uri,
    parse_authorization_header,
    sign,
    signature_base_string,
)


def test_base_string_matches_rfc_5849_section_3_4_1_example() -> None:
    query = urllib.parse.parse_qsl("b5=%3D%253D&a3=a&c%40=&a2=r%20b", keep_blank_values=True)
    body = urllib.parse.parse_qsl("c2&a3=2+q", keep_blank_values=True)
    oauth = [
        ("oauth_consumer_key", "9djdj82h48djs9d2"),
        ("oauth_token", "kkk9d7dh3k39sjv7"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131201"),
        ("oauth_nonce", "7d8f3e4a"),
        ("oauth_signature", "ignored"),
        ("realm", "Example"),
    ]
    assert signature_base_string("POST", "http://example.com/request", query + body + oauth) == (
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D"
        "%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce"
        "%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26"
        "oauth_token%3Dkkk9d7dh3k39sjv7"
    )


def test_hmac_sha1_signature_matches_rfc_5849_section_1_2_example() -> None:
    params = [
        ("file", "vacation.jpg"),
        ("size", "original"),
        ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
        ("oauth_token", "nnch734d00sl2jdk"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131202"),
        ("oauth_nonce", "chapoH"),
    ]
    base = signature_base_string("GET", "http://photos.example.net/photos", params)
    signature = sign(base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00", method="HMAC-SHA1")
    assert signature == "MdpQcU8iPSUjWoN/UDMsK2sui9I="


def test_base_string_uri_drops_default_port_query_and_case() -> None:
    assert base_string_uri("HTTP://Example.COM:80/r%20v/X?id=123") == "http://example.com/r%20v/X"
    assert base_string_uri("https://www.example.net:8080/?q=1") == "https://www.example.net:8080/"


def test_signed_request_carries_every_oauth_parameter() -> None:
    request = httpx.Request("GET", "http://h.test/ims/oneroster/v1p1/users?limit=5")
    flow = OAuth1Signature("key", "secret", "HMAC-SHA256").auth_flow(request)
    signed = next(flow)
    params = parse_authorization_header(signed.headers["Authorization"])
    assert params["oauth_signature_method"] == "HMAC-SHA256"
    assert params["oauth_consumer_key"] == "key"
    assert {"oauth_nonce", "oauth_timestamp", "oauth_signature", "oauth_version"} <= set(params)
    base = signature_base_string(
        "GET",
        str(signed.url),
        [("limit", "5"), *((k, v) for k, v in params.items() if k != "oauth_signature")],
    )
    assert sign(base, "secret", method="HMAC-SHA256") == params["oauth_signature"]
