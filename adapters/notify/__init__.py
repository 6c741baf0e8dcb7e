"""Notifications out: a policy target's chat channel, as a Slack-compatible incoming webhook."""

from __future__ import annotations

from adapters.notify.outbound import SIGNATURE_HEADER, WebhookNotifier, notification_body, sign_body

__all__ = ["SIGNATURE_HEADER", "WebhookNotifier", "notification_body", "sign_body"]
