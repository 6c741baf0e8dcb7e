"""Logs carry ids and outcomes, never a secret or a payload body."""

from __future__ import annotations

import json
import logging

from connector.logs import JsonFormatter
from tests.conftest import drain
from tests.helpers import post, zd_event


def test_no_secret_or_body_in_logs(client, rt, caplog):
    caplog.set_level(logging.DEBUG)
    payload = zd_event("created", subject="Customer SSN 078-05-1120 in ticket")
    post(client, "zendesk", payload)
    post(client, "zendesk", payload, secret="wrong-secret-value")
    drain(rt)
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records]
    text = "\n".join(lines)
    assert "accepted delivery" in text and "processed delivery" in text
    for secret in ("zd-secret-current", "zd-secret-previous", "wrong-secret-value", "test-admin-token"):
        assert secret not in text
    assert "078-05-1120" not in text
    accepted = next(json.loads(line) for line in lines if '"accepted delivery"' in line)
    assert accepted["delivery_id"] == 1 and accepted["vendor"] == "zendesk"


def test_settings_repr_hides_secrets():
    from connector.config import Settings

    settings = Settings.from_env({"ZENDESK_WEBHOOK_SECRETS": "s3cr3t,old", "CONNECTOR_ADMIN_TOKEN": "tok"})
    assert "s3cr3t" not in repr(settings) and "tok" not in repr(settings)
    assert "zendesk/default: 2 active" in repr(settings)


EMAIL = "leaky.customer@example.org"
SECRET_IN_BODY = "hunter2-not-a-real-password"


def test_no_payload_value_reaches_any_log_line_on_any_path(client, rt, caplog, monkeypatch):
    """An email and a secret seeded into every path — accepted, refused, unreadable, ignored, mapped
    values that cannot be used, a poison delivery, a transient database failure, a failing SLA refresh —
    and every log line, formatted as it is written, searched for them."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    from connector.demo import payloads as p
    from connector.inbox import processing
    from tests.helpers import T0

    caplog.set_level(logging.DEBUG)
    seeded = f"{EMAIL} {SECRET_IN_BODY}"
    ok = zd_event("created", subject=seeded, tags=[EMAIL])
    post(client, "zendesk", ok)  # accepted and processed
    post(client, "zendesk", ok, secret="wrong-secret-value")  # refused: bad signature
    post(client, "zendesk", None, body=f'{{"ticket_id": "{seeded}'.encode())  # not JSON
    post(client, "zendesk", dict(ok, id="other", detail={"id": seeded}))  # refused by the adapter
    post(client, "zendesk", dict(ok, id="x", type=f"zen:event-type:ticket.{EMAIL}"))  # ignored: unknown type
    post(client, "pagerduty", {"messages": [{"event": "incident.trigger", "note": seeded}]})  # a v2 body
    jira = p.jira_issue(
        issue_id="1",
        key="SUP-1",
        summary=seeded,
        description=seeded,
        status="To Do",
        category="new",
        priority="High",
        labels=[],
        reporter=("a", EMAIL),
        created=T0.isoformat(),
    )
    jira["fields"]["customfield_10060"] = seeded  # impact_users in the default mapping: not a number
    post(client, "jira", p.jira_event("jira:issue_created", jira, T0, changelog=[]))
    drain(rt)

    poison = zd_event("created", ticket_id=777, subject=seeded)

    def fail(*_: object, **__: object) -> None:  # a database that quotes the failing row
        raise IntegrityError(
            "INSERT INTO tickets ...",
            {"title": seeded},
            Exception(f"Failing row contains ({seeded})"),
            hide_parameters=True,
        )

    monkeypatch.setattr(processing, "apply_event", fail)
    post(client, "zendesk", poison)
    drain(rt)

    def down(*_: object, **__: object) -> None:  # as our engine raises it: hide_parameters=True
        raise OperationalError(
            "UPDATE tickets ...", {"title": seeded}, Exception("server closed the connection"), hide_parameters=True
        )

    monkeypatch.setattr(processing, "apply_event", down)
    post(client, "zendesk", zd_event("created", ticket_id=778, subject=seeded))
    drain(rt)
    monkeypatch.undo()

    def refresh_fails(*_: object, **__: object) -> None:
        raise ValueError(f"cannot read {seeded}")

    from connector.sla import due

    monkeypatch.setattr(due, "refresh_due", refresh_fails)  # the batch fails, then each ticket does
    monkeypatch.setattr(due, "refresh", refresh_fails)
    from datetime import UTC, datetime, timedelta

    assert due.sweep(rt.db, rt.policies, now=datetime.now(UTC) + timedelta(days=30)) > 0

    formatter = JsonFormatter()
    text = "\n".join(formatter.format(r) for r in caplog.records)
    assert "processed delivery" in text and "refused delivery" in text and "rejected" in text
    assert "sla refresh failed" in text and "OperationalError" in text
    for value in (EMAIL, SECRET_IN_BODY, "zd-secret-current", "wrong-secret-value", "test-admin-token"):
        leaks = [line for line in text.splitlines() if value in line]
        assert leaks == [], f"{value} in the logs"
