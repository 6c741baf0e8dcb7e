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
    assert client.get("/api/outbox?status=dead", headers=ADMIN).get_json() == {
        "total": 0,
        "items": [],
        "next_before": None,
    }
    assert client.get("/api/escalations?action=page", headers=ADMIN).get_json() == {"total": 0, "escalations": []}


def test_the_inbox_and_the_outbox_page_by_cursor(client, rt):
    from tests.conftest import drain
    from tests.helpers import post, zd_event

    for n in range(5):
        assert post(client, "zendesk", zd_event("created", ticket_id=800 + n)).status_code == 202
    drain(rt)
    first = client.get("/api/deliveries?limit=2", headers=ADMIN).get_json()
    assert [d["id"] for d in first["deliveries"]] == [5, 4] and first["next_before"] == 4
    rest = client.get(f"/api/deliveries?limit=10&before={first['next_before']}", headers=ADMIN).get_json()
    assert [d["id"] for d in rest["deliveries"]] == [3, 2, 1] and rest["next_before"] is None
    assert client.get("/api/deliveries?before=0", headers=ADMIN).status_code == 400
    outbox = client.get("/api/outbox?limit=1&before=999", headers=ADMIN).get_json()
    assert outbox["next_before"] is None or outbox["items"][0]["id"] < 999
