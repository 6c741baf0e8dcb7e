"""The queued jobs of the inbox, as RQ calls them by name: each takes ids and finds the process's
runtime, so a job can be retried, replayed or run twice without harm."""

from __future__ import annotations

from connector import runtime
from connector.inbox.batch import process_many
from connector.inbox.processing import process


def process_delivery(delivery_id: int) -> str:
    """Process one stored delivery (see `connector.inbox.processing`)."""
    return process(runtime.current(), delivery_id)


def process_deliveries(delivery_ids: list[int]) -> str:
    """Process stored deliveries together, in one transaction (see `connector.inbox.batch`)."""
    outcomes = process_many(runtime.current(), delivery_ids)
    return f"{len(outcomes)} deliveries: " + "; ".join(outcomes)
