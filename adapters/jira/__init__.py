"""Jira Cloud / Jira Service Management: inbound webhooks and signature verification."""

from __future__ import annotations

from adapters.jira.inbound import JiraAdapter

__all__ = ["JiraAdapter"]
