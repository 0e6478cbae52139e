"""The OpenAPI document is valid, lists every API route, and every answer matches it.

schemathesis generates requests from ``/openapi.json`` (a bounded number per operation) and
sends them to a real server on a small district store; each answer must not be a 5xx, must
have a documented status and content type, and must match its schema.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route

from snapkit.serve.openapi import document

schema = schemathesis.openapi.from_dict(document())

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
"""No 5xx; a documented status and content type; a body matching its schema. (Whether a
schema-valid request is accepted is not checked: a cursor or a date can fit its pattern and
still name nothing, which is a 400 by design.)"""


@pytest.fixture(scope="module")
def base_url(district_store, tmp_path_factory, server_starter) -> Iterator[str]:
    log = tmp_path_factory.mktemp("schemathesis") / "serve.log"
    server = server_starter(district_store.config, log, env=district_store.env)
    try:
        yield server.url
    finally:
        server.stop()


def test_the_served_document_is_valid_openapi_3(base_url) -> None:
    from openapi_spec_validator import validate

    served = httpx.get(base_url + "/openapi.json").json()
    assert served == document()
    validate(served)


def test_every_api_route_is_in_the_document(district_store) -> None:
    from snapkit.serve import create_app

    app = create_app(district_store.project())
    routes = {
        route.path
        for route in app.routes
        if isinstance(route, Route)
        and (route.path.startswith("/api") or route.path == "/openapi.json")
    }
    assert routes == set(document()["paths"])


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_answer_is_a_server_error_and_every_answer_matches_the_document(case, base_url) -> None:
    case.call_and_validate(base_url=base_url, timeout=60, checks=CHECKS)
