"""The OpenAPI document of the admin API: a valid OpenAPI 3 document (openapi-spec-validator), naming
every `/api` route the app has and no other, and fuzzed with schemathesis against the real app: no
answer is a 5xx, and every answer's status, content type and body match the document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from connector.runtime import Runtime
from connector.store import Database
from tests.conftest import ADMIN, installed_runtime
from webhooks.openapi import DOCUMENT


@pytest.fixture
def rt(database: Database) -> Iterator[Runtime]:
    with installed_runtime(database, CONNECTOR_VIEWER_TOKEN="test-viewer-token") as runtime:
        yield runtime


@pytest.fixture
def app(rt: Runtime) -> Any:
    from webhooks.app import create_app

    return create_app(rt, start_worker=False)


def test_the_document_is_valid_openapi_3_and_served_without_a_token(app: Any) -> None:
    validate(DOCUMENT)
    served = app.test_client().get("/api/openapi.json")
    assert served.status_code == 200 and served.get_json() == DOCUMENT


def test_it_names_every_api_route_and_method_and_no_other(app: Any) -> None:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.rule != "/api/openapi.json":
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, ops in DOCUMENT["paths"].items() for method in ops}
    assert documented == routes


SEMANTIC_BODIES = frozenset(
    {
        "/api/mappings/{vendor}",
        "/api/mappings/{vendor}/validate",
        "/api/mappings/{vendor}/preview",
        "/api/mappings/{vendor}/rollback",
        "/api/policy",
        "/api/policy/validate",
        "/api/policy/rollback",
        "/api/simulate",
        "/api/followups/{followup_id}/done",
        "/api/reports/sla",  # since must be before until: a rule between two parameters
    }
)


def test_fuzzed_requests_get_documented_answers_and_never_a_5xx(app: Any) -> None:
    api = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == sum(len(ops) for ops in DOCUMENT["paths"].values())
    for operation in operations:
        # a mapping or policy document, a scenario, a preview's payload: what makes one acceptable is the
        # document's own schema (mappings/schema.py, the policy's), checked by those routes with a 400
        # naming the field — not expressible here, so a schema-valid body may rightly be refused
        semantic = operation.path in SEMANTIC_BODIES
        excluded = [ignored_auth, positive_data_acceptance] if semantic else [ignored_auth]

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def one(case: Any) -> None:
            response = case.call(headers=ADMIN)
            what = f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
            assert response.status_code < 500 or response.status_code == 503, what  # 503 is ours, with a reason
            assert response.status_code != 503 or "message" in response.json(), what
            # how the API treats a wrong or missing token is tested on its own (tests/test_admin_api.py):
            # this check re-sends with the valid token the cases are called with, and cannot tell
            case.validate_response(response, excluded_checks=excluded)  # noqa: B023  (called in this iteration)

        try:
            one()
        except Exception as exc:
            raise AssertionError(f"{operation.method.upper()} {operation.path}: {exc}") from exc
