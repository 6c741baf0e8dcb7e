"""The outbox: outbound intents written in the same transaction as the decision that made them,
delivered exactly once in effect through the senders the runtime was handed (`outbox.delivery`),
with retries, backoff, a dead-letter state and replay. `records` imports the store and the outbound
contract and tickets (for the timeline); `delivery` (the job and its sweep) imports the runtime."""

from __future__ import annotations

from connector.outbox.records import (
    NEW_IDS,
    STATUSES,
    close_item,
    counts_by_status,
    get_item,
    item_json,
    list_items,
    not_configured,
    record,
    replay_item,
    take_new_ids,
)

__all__ = [
    "NEW_IDS",
    "STATUSES",
    "close_item",
    "counts_by_status",
    "get_item",
    "item_json",
    "list_items",
    "not_configured",
    "record",
    "replay_item",
    "take_new_ids",
]
