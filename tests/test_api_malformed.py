"""Malformed requests to the admin API: each is a 4xx JSON `{"error", "message"}` whose message says what
is wrong — never a 500. Lines marked `# was 500` are the ones that used to fail; the rest pin the
reason given. And, as a last resort, an exception no view handled is a JSON 503, logged once."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from werkzeug.exceptions import Conflict

from connector.errors import PolicyError, StoreUnavailable
from connector.logs import JsonFormatter
from connector.policy import load_policy
from tests.conftest import ADMIN
from tests.helpers import post, zd_event

J, Y, FORM = "application/json", "application/yaml", "application/x-www-form-urlencoded"
EV = [{"at": "2026-03-06T17:30:00Z", "type": "created"}]
PRESETS = "(localizevideos, nwire, signx, skillancer, tai)"
HUGE = 10**23
BIG_POLICY = {
    "name": "big",
    "severity": {"levels": [{"id": "P1"}], "default": "P1"},
    "sla": {"targets": [{"metric": "first_response", "target": "100000w", "time": "calendar"}]},
}


def sc(**fields: Any) -> dict[str, Any]:
    """A scenario with signx and one creation, with `fields` changed."""
    return {"policy": "signx", "events": EV, **fields}


def at(value: Any) -> dict[str, Any]:
    return sc(events=[{"at": value, "type": "created"}])


def then(**event: Any) -> dict[str, Any]:
    """A scenario whose second event is `event` (an hour after the creation)."""
    return sc(events=[*EV, {"at": "2026-03-06T18:30:00Z", **event}])


# (method, path, body, content type, status, a fragment of the message). A body that is bytes or str
# is sent as it is; anything else as JSON; None sends no body.
CASES: list[tuple[str, str, Any, str | None, int, str]] = [
    # ---- lists and one object: query strings and ids
    ("GET", "/api/tickets?limit=-1", None, None, 400, "limit: a whole number, 1 or more; got '-1'"),
    ("GET", "/api/tickets?limit=abc", None, None, 400, "limit: a whole number, 1 or more"),
    ("GET", "/api/tickets?limit=0", None, None, 400, "limit: a whole number, 1 or more"),
    ("GET", "/api/tickets?offset=1e9", None, None, 400, "offset: a whole number, 0 or more; got '1e9'"),
    ("GET", "/api/tickets?offset=-5", None, None, 400, "offset: a whole number, 0 or more"),
    ("GET", f"/api/tickets?offset={HUGE}", None, None, 400, "offset: at most 9223372036854775807"),  # was 500
    ("GET", f"/api/deliveries?offset={HUGE}", None, None, 400, "offset: at most"),  # was 500
    ("GET", "/api/deliveries?limit=" + "9" * 5000, None, None, 400, "limit: at most"),
    ("GET", "/api/deliveries?limit=%D9%A1", None, None, 400, "limit: a whole number"),  # an Arabic-Indic 1
    ("GET", f"/api/tickets/{HUGE}", None, None, 404, f"no ticket {HUGE}"),  # was 500
    ("GET", "/api/tickets/9223372036854775808", None, None, 404, "no ticket 9223372036854775808"),  # was 500
    ("GET", "/api/tickets/424242", None, None, 404, "no ticket 424242"),
    ("GET", "/api/deliveries/9223372036854775808", None, None, 404, "no delivery 9223372036854775808"),  # was 500
    ("GET", "/api/deliveries/424242", None, None, 404, "no delivery 424242"),
    ("POST", "/api/deliveries/9223372036854775808/replay", None, None, 404, "no delivery"),  # was 500
    ("POST", "/api/deliveries/424242/replay", None, None, 404, "no delivery 424242"),
    # ---- mappings: vendor, instance, documents
    ("GET", "/api/mappings/nope", None, None, 404, "unknown vendor 'nope'; known: zendesk, jira, pagerduty"),
    ("GET", "/api/mappings/zendesk?instance=a/b", None, None, 400, "instance: lower-case letters, digits and '-'"),
    ("GET", "/api/mappings/zendesk/versions?instance=%00", None, None, 400, "instance: lower-case letters"),
    ("GET", "/api/mappings/zendesk?instance=", None, None, 400, "instance: lower-case letters"),
    ("PUT", "/api/mappings/zendesk?instance=EU", {"vendor": "zendesk", "shapes": {}}, J, 400, "got 'EU'"),
    ("PUT", "/api/mappings/zendesk", b"not json", J, 400, "body is not valid JSON"),
    ("PUT", "/api/mappings/zendesk", b"\xff\xfe\x00", J, 400, "body is not valid JSON"),  # was 500
    ("PUT", "/api/mappings/zendesk", b"[" * 100_000, J, 400, "nested too deeply"),  # was 500
    ("PUT", "/api/mappings/zendesk", b"", J, 400, "the body is empty"),
    ("PUT", "/api/mappings/zendesk", [1, 2], J, 400, "send the document as a JSON object"),
    ("PUT", "/api/mappings/zendesk", {"document": 5}, J, 400, "document: an object, YAML text or a preset name"),
    ("PUT", "/api/mappings/zendesk", {"document": "a: ["}, J, 400, "not valid YAML"),
    ("PUT", "/api/mappings/zendesk", {"vendor": "zendesk", "shapes": []}, J, 400, "shapes: Input should be a valid"),
    ("PUT", "/api/mappings/zendesk", {"vendor": "jira", "shapes": {}}, J, 400, "this document is for 'jira'"),
    ("PUT", "/api/mappings/zendesk", "- a\n- b\n", Y, 400, "a mapping document is an object with 'vendor'"),
    ("PUT", "/api/mappings/zendesk", "vendor: zendesk\nshapes:\n\tevent: {}\n", Y, 400, "not valid YAML"),
    ("PUT", "/api/mappings/zendesk", "[" * 100_000, Y, 400, "nested too deeply"),  # was 500
    ("PUT", "/api/mappings/zendesk", "vendor=zendesk", FORM, 415, "Content-Type: application/json or application/yaml"),
    (
        "POST",
        "/api/mappings/zendesk/rollback",
        {"version": "2"},
        J,
        400,
        "version: a whole number, the version to restore; got text",
    ),
    (
        "POST",
        "/api/mappings/zendesk/rollback",
        {"version": True},
        J,
        400,
        "version: a whole number, the version to restore; got a boolean",
    ),
    (
        "POST",
        "/api/mappings/zendesk/rollback",
        {"version": 1.5},
        J,
        400,
        "version: a whole number, the version to restore; got a number",
    ),
    ("POST", "/api/mappings/zendesk/rollback", {}, J, 400, "version: a whole number, the version to restore; got null"),
    ("POST", "/api/mappings/zendesk/rollback", b"x", J, 400, "body is not valid JSON"),
    ("POST", "/api/mappings/zendesk/rollback", {"version": HUGE}, J, 404, f"has no mapping version {HUGE}"),  # was 500
    ("POST", "/api/mappings/zendesk/rollback", {"version": 2**31}, J, 404, "has no mapping version"),
    ("POST", "/api/mappings/zendesk/rollback", "version=1", FORM, 415, "as JSON (Content-Type: application/json)"),
    # ---- mapping preview
    ("POST", "/api/mappings/zendesk/preview", {}, J, 400, "give a delivery_id or a payload"),
    ("POST", "/api/mappings/zendesk/preview", [], J, 400, "a JSON object, not a list"),
    (
        "POST",
        "/api/mappings/zendesk/preview",
        {"delivery_id": "abc"},
        J,
        400,
        "delivery_id: a stored delivery's id",
    ),  # was 500
    ("POST", "/api/mappings/zendesk/preview", {"delivery_id": [1]}, J, 400, "delivery_id: a stored"),  # was 500
    ("POST", "/api/mappings/zendesk/preview", {"delivery_id": 1.5}, J, 400, "delivery_id: a stored"),
    ("POST", "/api/mappings/zendesk/preview", {"delivery_id": True}, J, 400, "got a boolean"),
    ("POST", "/api/mappings/zendesk/preview", {"delivery_id": HUGE}, J, 404, f"no zendesk delivery {HUGE}"),  # was 500
    ("POST", "/api/mappings/zendesk/preview", {"delivery_id": 1, "payload": {}}, J, 400, "not both"),
    ("POST", "/api/mappings/zendesk/preview", {"payload": "x"}, J, 400, "payload: the body the vendor sends"),
    ("POST", "/api/mappings/zendesk/preview", {"payload": [1]}, J, 400, "payload: the body the vendor sends"),
    ("POST", "/api/mappings/zendesk/preview", {"payload": {}, "headers": ["a"]}, J, 400, "headers: an object"),
    ("POST", "/api/mappings/zendesk/preview", {"payload": {}, "headers": {"a": 5}}, J, 400, "headers: an object"),
    ("POST", "/api/mappings/zendesk/preview", {"payload": {}, "document": 5}, J, 400, "document: a draft mapping"),
    ("POST", "/api/mappings/zendesk/preview", {"payload": {}, "document": "a:\n\tb: 1"}, J, 400, "not valid YAML"),
    ("POST", "/api/mappings/zendesk/preview", {"payload": {}, "document": "just text"}, J, 400, "an object with"),
    ("POST", "/api/mappings/zendesk/preview", {"payload": {}, "document": {}}, J, 400, "vendor: Field required"),
    (
        "POST",
        "/api/mappings/zendesk/preview",
        {"payload": {}, "document": {"vendor": "jira", "shapes": {}}},
        J,
        400,
        "for 'jira', not 'zendesk'",
    ),
    # ---- policy
    ("PUT", "/api/policy", [1, 2], J, 400, "send the document as a JSON object"),
    ("PUT", "/api/policy", {"document": [1]}, J, 400, "document: an object, YAML text or a preset name"),
    ("PUT", "/api/policy", {"document": "/etc/passwd"}, J, 400, f"'/etc/passwd' is neither a preset {PRESETS}"),
    ("PUT", "/api/policy", {"document": "sigx"}, J, 400, f"'sigx' is neither a preset {PRESETS}"),
    ("PUT", "/api/policy", {"name": "x", "severity": 5}, J, 400, "severity: Input should be a valid dictionary"),
    ("PUT", "/api/policy", BIG_POLICY, J, 400, "sla.targets[0].target: a duration is at most 366d"),
    ("PUT", "/api/policy", "- a\n- b\n", Y, 400, "a policy document is a mapping"),
    ("PUT", "/api/policy", "name: x\nseverity:\n\tlevels: []\n", Y, 400, "not valid YAML"),
    ("PUT", "/api/policy", "/etc/passwd", Y, 400, "is neither a preset"),
    ("PUT", "/api/policy", "x:\n  " + "[" * 300_000, Y, 400, "nested deeper than 100 levels"),  # was a crash
    ("PUT", "/api/policy", "name=x", FORM, 415, "Content-Type"),
    ("POST", "/api/policy/rollback", {"version": "2"}, J, 400, "version: a whole number"),
    ("POST", "/api/policy/rollback", {"version": HUGE}, J, 404, f"there is no policy version {HUGE}"),  # was 500
    ("POST", "/api/policy/rollback", {"version": 9223372036854775808}, J, 404, "no policy version"),  # was 500
    # ---- simulate: the body
    ("POST", "/api/simulate", b"x", J, 400, "body is not valid JSON"),
    ("POST", "/api/simulate", [sc()], J, 400, "send a scenario with 'policy', 'ticket', 'events' and 'until': a JSON"),
    ("POST", "/api/simulate", json.dumps(sc()), "text/plain", 415, "as JSON (Content-Type: application/json)"),
    ("POST", "/api/simulate", sc(events=5), J, 400, "events: a non-empty list"),
    ("POST", "/api/simulate", sc(events=[]), J, 400, "events: a non-empty list"),
    ("POST", "/api/simulate", sc(events=[5]), J, 400, "events[0]: an event is an object with 'at' and 'type'"),
    ("POST", "/api/simulate", sc(events=[{"at": "2026-03-06T17:30:00Z"}]), J, 400, "events[0]: an event is an object"),
    # ---- simulate: times
    ("POST", "/api/simulate", at(None), J, 400, "events[0].at: ISO 8601 text such as"),  # was 500
    (
        "POST",
        "/api/simulate",
        at([1]),
        J,
        400,
        "events[0].at: ISO 8601 text such as 2026-03-06T17:30:00Z; got a list",
    ),  # was 500
    (
        "POST",
        "/api/simulate",
        at({}),
        J,
        400,
        "events[0].at: ISO 8601 text such as 2026-03-06T17:30:00Z; got an object",
    ),  # was 500
    (
        "POST",
        "/api/simulate",
        at(10**30),
        J,
        400,
        "events[0].at: ISO 8601 text such as 2026-03-06T17:30:00Z; got a number",
    ),  # was 500
    (
        "POST",
        "/api/simulate",
        at(True),
        J,
        400,
        "events[0].at: ISO 8601 text such as 2026-03-06T17:30:00Z; got a boolean",
    ),
    ("POST", "/api/simulate", at("yesterday"), J, 400, "events[0].at: not an ISO 8601 time: 'yesterday'"),
    (
        "POST",
        "/api/simulate",
        at("0001-01-01T00:00:00Z"),
        J,
        400,
        "events[0].at: 0001-01-01T00:00:00Z is outside 1970–2099",
    ),  # was 500
    ("POST", "/api/simulate", at("9999-12-31T23:00:00Z"), J, 400, "is outside 1970–2099"),  # was 500
    ("POST", "/api/simulate", at("0001-01-01T00:00:00+14:00"), J, 400, "events[0].at: out of range"),  # was 500
    ("POST", "/api/simulate", sc(until=5), J, 400, "until: ISO 8601 text such as 2026-03-06T17:30:00Z; got a number"),
    ("POST", "/api/simulate", sc(until=None), J, 400, "until: ISO 8601 text"),  # was 500
    ("POST", "/api/simulate", sc(until=[1]), J, 400, "until: ISO 8601 text"),  # was 500
    ("POST", "/api/simulate", sc(until="soon"), J, 400, "until: not an ISO 8601 time: 'soon'"),
    (
        "POST",
        "/api/simulate",
        sc(until="9999-12-31T23:59:59Z"),
        J,
        400,
        "until: 9999-12-31T23:59:59Z is outside",
    ),  # was 500
    # ---- simulate: the ticket and the events' values
    ("POST", "/api/simulate", sc(ticket=[1]), J, 400, "ticket: an object such as"),
    ("POST", "/api/simulate", sc(ticket="P1"), J, 400, "ticket: an object such as"),
    (
        "POST",
        "/api/simulate",
        sc(ticket={"severity": 5}),
        J,
        400,
        "ticket.severity: text or null; got a number",
    ),  # was 500
    (
        "POST",
        "/api/simulate",
        sc(ticket={"severity": ["P1"]}),
        J,
        400,
        "ticket.severity: text or null; got a list",
    ),  # was 500
    ("POST", "/api/simulate", sc(ticket={"channel": 5}), J, 400, "ticket.channel: text or null"),  # was 500
    ("POST", "/api/simulate", sc(ticket={"text": ["production down"]}), J, 400, "ticket.text: text or null"),
    (
        "POST",
        "/api/simulate",
        then(type="teleported"),
        J,
        400,
        "events[1].type: unknown event type 'teleported' (one of created",
    ),
    ("POST", "/api/simulate", then(type=5), J, 400, "events[1].type: one of created, reply"),
    (
        "POST",
        "/api/simulate",
        then(type="severity", severity=5),
        J,
        400,
        "events[1].severity: text; got a number",
    ),  # was 500
    (
        "POST",
        "/api/simulate",
        then(type="severity", severity={"a": 1}),
        J,
        400,
        "events[1].severity: text; got an object",
    ),  # was 500
    (
        "POST",
        "/api/simulate",
        then(type="status", status=["x"]),
        J,
        400,
        "events[1].status: text; got a list",
    ),  # was 500
    ("POST", "/api/simulate", then(type="tier", tier=5), J, 400, "events[1].tier: text; got a number"),  # was 500
    ("POST", "/api/simulate", then(type="created", tags=5), J, 400, "events[1].tags: a list of strings"),  # was 500
    ("POST", "/api/simulate", then(type="reply", public="yes"), J, 400, "events[1].public: true or false; got text"),
    ("POST", "/api/simulate", then(type="public_reply", author=["agent"]), J, 400, "events[1].author: text"),
    # ---- simulate: the policy (over HTTP: a preset or an inline document, never a file)
    (
        "POST",
        "/api/simulate",
        sc(policy=5),
        J,
        400,
        f"policy: a preset name {PRESETS}, YAML text or a policy document",
    ),  # was 500
    ("POST", "/api/simulate", sc(policy=[1]), J, 400, "policy: a preset name"),  # was 500
    ("POST", "/api/simulate", sc(policy=True), J, 400, "policy: a preset name"),  # was 500
    ("POST", "/api/simulate", sc(policy=None), J, 400, f"policy: give a preset name {PRESETS} or an inline policy"),
    ("POST", "/api/simulate", sc(policy="nosuch"), J, 400, f"policy: 'nosuch' is neither a preset {PRESETS}"),
    ("POST", "/api/simulate", sc(policy="/etc/passwd"), J, 400, f"policy: '/etc/passwd' is neither a preset {PRESETS}"),
    ("POST", "/api/simulate", sc(policy="a: ["), J, 400, "is neither a preset"),
    ("POST", "/api/simulate", sc(policy={}), J, 400, "policy: name: Field required; severity: Field required"),
    ("POST", "/api/simulate", sc(policy="name: x\nseverity: 5\n"), J, 400, "policy text: severity: Input should be"),
    ("POST", "/api/simulate", sc(policy="name: x\n\tseverity: {}\n"), J, 400, "policy text: not valid YAML"),
    ("POST", "/api/simulate", sc(policy=BIG_POLICY), J, 400, "a duration is at most 366d, got '100000w'"),
    # ---- the SLA report
    ("GET", "/api/reports/sla?since=garbage", None, None, 400, "since: not an ISO date or date-time: 'garbage'"),
    ("GET", "/api/reports/sla?format=xml", None, None, 400, "format is one of json, csv, text"),
    ("GET", "/api/reports/sla?since=2026-03-02&until=2026-03-01", None, None, 400, "must be before until"),
    ("GET", "/api/reports/sla?until=9999-12-31", None, None, 400, "until: out of range: '9999-12-31'"),  # was 500
    ("GET", "/api/reports/sla?since=9999-12-31T23:59:59-14:00", None, None, 400, "since: out of range"),  # was 500
    ("GET", "/api/reports/sla?since=0001-01-01T00:00:00%2B14:00", None, None, 400, "since: out of range"),  # was 500
    ("GET", "/api/reports/sla?until=0001-01-10", None, None, 400, "until: out of range: no 30 days before"),  # was 500
]


def _id(case: tuple[str, str, Any, str | None, int, str]) -> str:
    method, path, body, _, status, _ = case
    shown = "" if body is None else (body[:30] if isinstance(body, str | bytes) else json.dumps(body)[:60])
    return f"{method} {path[:60]} {shown!s} -> {status}"


def send(client: Any, method: str, path: str, body: Any, content_type: str | None) -> Any:
    data = body if body is None or isinstance(body, str | bytes) else json.dumps(body)
    headers = {**ADMIN, **({"Content-Type": content_type} if content_type else {})}
    return client.open(path, method=method, data=data, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "content_type", "status", "fragment"), CASES, ids=map(_id, CASES))
def test_a_malformed_request_is_a_4xx_saying_what_is_wrong(client, method, path, body, content_type, status, fragment):
    r = send(client, method, path, body, content_type)
    answer = r.get_json()
    assert r.status_code == status, answer
    assert set(answer) == {"error", "message"}
    assert fragment in answer["message"]


# ---- stored deliveries whose body is not JSON we can read ----------------------------------------


def test_a_stored_body_that_is_not_json_is_shown_as_text_and_cannot_be_previewed(client):
    not_json = post(client, "zendesk", None, body=b"{not json").get_json()["delivery_id"]
    too_deep = post(client, "zendesk", None, body=b"[" * 5000 + b"]" * 5000).get_json()["delivery_id"]
    big_int = post(client, "zendesk", None, body=b'{"type": ' + b"9" * 5000 + b"}").get_json()["delivery_id"]
    for delivery_id in (not_json, too_deep, big_int):
        shown = client.get(f"/api/deliveries/{delivery_id}", headers=ADMIN)
        assert shown.status_code == 200 and shown.get_json()["status"] == "rejected"  # was 500 for the last two
        assert "body_text" in shown.get_json()
        r = client.post("/api/mappings/zendesk/preview", json={"delivery_id": delivery_id}, headers=ADMIN)
        assert r.status_code == 400  # was 500
        assert f"delivery {delivery_id} (rejected): its body is not JSON we can read" in r.get_json()["message"]


def test_a_payload_the_adapter_refuses_is_previewed_with_the_reason(client):
    r = client.post("/api/mappings/zendesk/preview", json={"payload": {"type": 5}}, headers=ADMIN)
    assert r.status_code == 200
    assert r.get_json()["events"] == [] and "type" in r.get_json()["error"]


# ---- simulate: files on the server are not for HTTP; the CLI keeps them ------------------------------


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text(yaml.safe_dump({**load_policy("signx").show(), "name": "acme"}), encoding="utf-8")
    return path


def test_simulate_over_http_reads_no_file_and_cannot_tell_one_exists(client, policy_file, monkeypatch):
    def no_file(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the filesystem was touched")

    answers = []
    with monkeypatch.context() as m:
        for name in ("is_file", "exists", "read_text", "read_bytes", "open"):
            m.setattr(type(policy_file), name, no_file)
        for path in (policy_file, policy_file.with_name("missing.yaml"), policy_file.parent):
            r = client.post("/api/simulate", json=sc(policy=str(path)), headers=ADMIN)
            message = re.sub(r"^policy: .*? is neither", "policy: <path> is neither", r.get_json()["message"])
            answers.append((r.status_code, r.get_json()["error"], message))
    assert answers[0] == answers[1] == answers[2]  # a file, a missing file, a directory: one answer
    status, _, message = answers[0]
    assert status == 400
    assert message == (
        f"policy: <path> is neither a preset {PRESETS} nor a policy document (YAML text of a mapping, or an object)"
    )


def test_put_policy_reads_no_file_either(client, policy_file):
    existing = client.put("/api/policy", json={"document": str(policy_file)}, headers=ADMIN)
    missing = client.put("/api/policy", json={"document": str(policy_file.with_name("x.yaml"))}, headers=ADMIN)
    assert existing.status_code == missing.status_code == 400
    assert "is neither a preset" in existing.get_json()["message"]
    assert client.get("/api/policy", headers=ADMIN).get_json()["version"] == 0  # nothing was saved


def test_simulate_over_http_takes_presets_and_inline_documents(client, policy_file):
    text = policy_file.read_text(encoding="utf-8")
    as_object = yaml.safe_load(text)
    for policy in ("tai", text, as_object):
        r = client.post("/api/simulate", json=sc(policy=policy), headers=ADMIN)
        assert r.status_code == 200, r.get_json()
    assert r.get_json()["policy"] == "acme"


def test_simulate_cli_keeps_reading_policy_files(tmp_path, policy_file):
    from connector.cli import main

    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"events": EV, "until": "2026-03-07T00:00:00Z"}), encoding="utf-8")
    result = CliRunner().invoke(main, ["simulate", str(scenario), "--policy", str(policy_file)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["policy"] == "acme"
    scenario.write_text(json.dumps(sc(policy=str(policy_file))), encoding="utf-8")
    result = CliRunner().invoke(main, ["simulate", str(scenario)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["policy"] == "acme"


def test_simulate_allow_files_is_explicit(policy_file):
    from connector.sla.simulate import simulate

    assert simulate(sc(policy=str(policy_file)), allow_files=True)["policy"] == "acme"
    with pytest.raises(PolicyError, match="is neither a preset"):
        simulate(sc(policy=str(policy_file)), allow_files=False)


# ---- the last resort: an exception no view handled ----------------------------------------------


def test_an_unexpected_exception_is_a_json_503_logged_once_without_its_message(app, caplog):
    message = "payload value " + "secret-4711"  # the traceback's source lines must not show it either

    def boom() -> None:
        raise RuntimeError(message)

    def conflict() -> None:
        raise Conflict("already there")

    app.add_url_rule("/test-only/boom", "test_boom", boom, methods=["POST"])
    app.add_url_rule("/test-only/conflict", "test_conflict", conflict)
    client = app.test_client()
    with caplog.at_level(logging.ERROR):
        r = client.post("/test-only/boom?x=1", data=b'{"body": "secret-body"}', headers={"Content-Type": J})
    assert r.status_code == 503
    assert r.get_json() == {"error": "internal_error", "message": r.get_json()["message"]}
    assert "secret" not in r.get_data(as_text=True)
    records = [rec for rec in caplog.records if rec.name == "webhooks.app"]
    assert len(records) == 1
    assert records[0].path == "/test-only/boom" and records[0].error == "RuntimeError"
    assert "in boom" in records[0].stack
    line = JsonFormatter().format(records[0])
    assert '"path": "/test-only/boom"' in line and "RuntimeError" in line
    assert "secret" not in line  # neither the exception's message nor the body
    assert "secret" not in logging.Formatter().format(records[0])  # whatever the formatter

    kept = client.get("/test-only/conflict")
    assert kept.status_code == 409  # a werkzeug HTTPException keeps its own status
    assert kept.get_json() == {"error": "conflict", "message": "already there"}


def test_an_unexpected_exception_in_an_api_view_is_a_json_503(client, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("severity")

    monkeypatch.setattr("webhooks.api.list_tickets", broken)
    r = client.get("/api/tickets", headers=ADMIN)
    assert r.status_code == 503
    assert r.get_json()["error"] == "internal_error"


def test_a_database_that_cannot_answer_is_a_503_not_a_400(client, monkeypatch):
    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise StoreUnavailable("database restarting")

    monkeypatch.setattr("webhooks.api.list_tickets", unavailable)
    r = client.get("/api/tickets", headers=ADMIN)
    assert r.status_code == 503
    assert r.get_json() == {"error": "StoreUnavailable", "message": "database restarting"}


def test_well_formed_requests_still_work(client, rt):
    """The checks refuse only what is wrong: the documented shapes still pass."""
    delivery_id = post(client, "zendesk", zd_event("created")).get_json()["delivery_id"]
    ok = [
        client.get("/api/tickets?limit=1000&offset=0", headers=ADMIN),
        client.get("/api/deliveries?limit=%205%20", headers=ADMIN),
        client.get("/api/mappings/zendesk?instance=eu-2", headers=ADMIN),
        client.post("/api/mappings/zendesk/preview", json={"delivery_id": delivery_id, "headers": None}, headers=ADMIN),
        client.put("/api/policy", data="signx", headers={**ADMIN, "Content-Type": "text/plain"}),
        client.put("/api/policy", json="tai", headers=ADMIN),
        client.post("/api/simulate", data=json.dumps(sc(ticket=None)), headers=ADMIN),  # no content type: JSON
    ]
    assert [r.status_code for r in ok] == [200, 200, 200, 200, 201, 201, 200], [r.get_json() for r in ok]
