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
