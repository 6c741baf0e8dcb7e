"""Webhook deliveries answered in front of Flask (`webhooks.receivers.DirectWebhooks`): the same
answers as Flask's own route gives, for every kind of delivery; no Flask request machinery for
them; everything else still Flask's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request_started

import webhooks.receivers
from connector.runtime import Runtime
from tests.helpers import post, signed, zd_event
from webhooks.receivers import DirectWebhooks


@pytest.fixture
def flask_only(app: Flask) -> Iterator[Any]:
    """A second client of the same app with the middleware taken out: Flask's route answers."""
    assert isinstance(app.wsgi_app, DirectWebhooks)
    direct = app.wsgi_app
    app.wsgi_app = direct.app  # type: ignore[method-assign]
    try:
        yield app.test_client()
    finally:
        app.wsgi_app = direct  # type: ignore[method-assign]


def _signed_post(client: Any, body: bytes, **headers: str) -> Any:
    return client.post("/webhooks/zendesk", data=body, headers={**signed("zendesk", body), **headers})


CASES: dict[str, Any] = {
    "accepted": lambda c, n: post(c, "zendesk", zd_event("created", ticket_id=n)),
    "wrong secret": lambda c, n: post(c, "zendesk", zd_event("created", ticket_id=n), secret="not-it"),
    "content type": lambda c, n: _signed_post(c, b"{}", **{"Content-Type": "text/plain"}),
    "not json": lambda c, n: _signed_post(c, b'{"type": "zen:event-type:ticket.created", ' + str(n).encode()),
    "too large": lambda c, n: _signed_post(c, b"x" * (1024 * 1024 + n)),
    "unknown vendor": lambda c, n: c.post(
        "/webhooks/servicenow", data=b"{}", headers={"Content-Type": "application/json"}
    ),
    "bad instance": lambda c, n: post(c, "zendesk", zd_event("created", ticket_id=n), instance="Not_Valid"),
    "a GET": lambda c, n: c.get("/webhooks/zendesk"),
    "trailing path": lambda c, n: c.post("/webhooks/zendesk/default/more", data=b"{}"),
}


def _shape(response: Any) -> tuple[int, Any, str | None, str | None]:
    body = response.get_json(silent=True)
    if isinstance(body, dict):
        body = {k: ("<id>" if k == "delivery_id" else v) for k, v in body.items()}
    return response.status_code, body, response.headers.get("Content-Type"), response.headers.get("Retry-After")


@pytest.mark.parametrize("case", CASES)
def test_the_same_answer_with_and_without_flask(client, flask_only, case):
    make = CASES[case]
    direct = make(client, 1)
    through_flask = make(flask_only, 2)
    assert _shape(direct) == _shape(through_flask)
    assert direct.status_code != 500


def test_a_duplicate_is_answered_alike(client, flask_only):
    body = json.dumps(zd_event("created", ticket_id=7)).encode()
    headers = signed("zendesk", body)
    first = client.post("/webhooks/zendesk", data=body, headers=headers)
    again_direct = client.post("/webhooks/zendesk", data=body, headers=headers)
    again_flask = flask_only.post("/webhooks/zendesk", data=body, headers=headers)
    assert first.status_code == 202
    assert (
        again_direct.get_json()
        == again_flask.get_json()
        == {"delivery_id": first.get_json()["delivery_id"], "duplicate": True}
    )


def test_a_failure_of_ours_is_a_503_with_retry_after_either_way(client, flask_only, monkeypatch):
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the sink")

    monkeypatch.setattr(webhooks.receivers, "receive", boom)
    for c in (client, flask_only):
        r = post(c, "zendesk", zd_event("created"))
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        assert r.get_json()["error"] == "unavailable"


def test_a_bug_outside_the_sink_is_a_503_not_a_bare_500(client, monkeypatch):
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in reading the request")

    monkeypatch.setattr(webhooks.receivers, "_read_body", boom)
    r = post(client, "zendesk", zd_event("created"))
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert r.get_json()["error"] == "internal_error"


def test_webhooks_skip_flask_and_everything_else_goes_through_it(app, client, rt: Runtime):
    seen: list[str] = []

    def started(sender: Any, **extra: Any) -> None:
        from flask import request

        seen.append(request.path)

    request_started.connect(started, app)
    try:
        assert post(client, "zendesk", zd_event("created")).status_code == 202
        assert (
            post(client, "zendesk", zd_event("created", ticket_id=8), instance="eu-1").status_code == 401
        )  # no secret
        assert client.get("/healthz").status_code == 200
        assert client.post("/webhooks/servicenow", data=b"{}").status_code == 404
    finally:
        request_started.disconnect(started, app)
    assert seen == ["/healthz", "/webhooks/servicenow"]
