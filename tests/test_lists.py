"""The admin lists' filters: a value that cannot be what the filter names is a 400 that says so."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/outbox?status=lost", "status: one of dead, failed, not_sent, pending, sending, sent; got 'lost'"),
        ("/api/outbox?ticket_id=seven", "ticket_id: an id, a whole number; got 'seven'"),
        ("/api/escalations?ticket_id=99999999999999999999", "ticket_id: an id, a whole number"),
    ],
)
def test_a_filter_value_that_cannot_match_is_a_400_naming_the_filter(client, path: str, message: str) -> None:
    answer = client.get(path, headers=ADMIN)
    assert answer.status_code == 400 and message in answer.get_json()["message"]


def test_the_lists_answer_empty_pages_with_their_total(client) -> None:
    assert client.get("/api/outbox?status=dead", headers=ADMIN).get_json() == {"total": 0, "items": []}
    assert client.get("/api/escalations?action=page", headers=ADMIN).get_json() == {"total": 0, "escalations": []}
