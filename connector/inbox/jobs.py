"""The queued jobs of the inbox, as RQ calls them by name: each takes ids and finds the process's
runtime, so a job can be retried, replayed or run twice without harm."""

from __future__ import annotations

from connector import runtime
from connector.inbox.processing import process


def process_delivery(delivery_id: int) -> str:
    """Process one stored delivery (see `connector.inbox.processing`)."""
    return process(runtime.current(), delivery_id)
