"""schemathesis against the app's own OpenAPI (in-process ASGI): generated requests for every
operation, as the public and as an admin with a bearer token, must never get a server error
(bad input is a 4xx with a JSON message).  Bounded: a few examples per operation."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from test_web_support import get_site, make_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def site():
    return get_site()


def test_no_server_errors(site):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", make_app(site))
    ops = [r.ok() for r in schema.get_all_operations()]
    assert len(ops) >= 13
    admin = {"Authorization": f"Bearer {site.tokens['admin']}"}
    calls = []
    from schemathesis import GenerationMode

    for op in ops:
        # positive examples (valid as the schema says) and negative ones (violating it: values
        # past the declared bounds -- ids beyond 2**63 once gave a 500 -- wrong types, missing fields)
        @given(case=op.as_strategy(generation_mode=GenerationMode.POSITIVE) | op.as_strategy(
            generation_mode=GenerationMode.NEGATIVE))
        @settings(max_examples=16, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            for headers in ({}, admin):
                response = case.call(headers=headers)
                calls.append(response.status_code)
                case.validate_response(response, checks=[not_a_server_error])
                if response.status_code >= 400:
                    # errors are JSON with a message a person can act on
                    body = response.json()
                    assert body["error"]["status"] == response.status_code and body["error"]["message"]

        run()
    assert len(calls) >= 100 and any(c == 200 for c in calls) and any(400 <= c < 500 for c in calls)


def test_openapi_is_local_and_complete(site):
    from fastapi.testclient import TestClient

    c = TestClient(make_app(site))
    spec = c.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/search", "/api/v1/cases/{ref}", "/api/v1/persons/{person_id}", "/api/v1/networks/{network_id}",
                 "/api/v1/courts", "/api/v1/courts/{court_id}/lists/{day}", "/api/v1/subscriptions", "/api/v1/exports"):
        assert path in spec["paths"], path
    docs = c.get("/api/v1/docs")
    assert docs.status_code == 200 and "/api/v1/search" in docs.text
    # no page of the portal loads anything from another host
    assert "cdn" not in docs.text.lower() and "https://" not in docs.text
