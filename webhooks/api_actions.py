"""The admin API's routes for what the connector does: escalations, owed follow-ups and post-mortems,
and the outbox (list, show, replay). They join the `api` blueprint (same auth, same errors)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from connector.escalation import followups
from connector.escalation.queries import list_escalations
from connector.outbox import get_item, list_items, replay_item
from connector.store.audit import audit
from webhooks.api import JsonAnswer, _before, _json_object, _page, _rt, _whole_number, actor, api


@api.get("/escalations")
def escalations_list() -> JsonAnswer:
    limit, offset = _page()
    with _rt().db.session() as s:
        return jsonify(list_escalations(s, filters=request.args, limit=limit, offset=offset))


@api.get("/followups")
def followups_list() -> JsonAnswer:
    limit, _ = _page()
    ticket = _whole_number("ticket_id", 0, low=1) if "ticket_id" in request.args else None
    with _rt().db.session() as s:
        items = followups.list_followups(
            s, kind=request.args.get("kind"), state=request.args.get("state"), ticket_id=ticket, limit=limit
        )
    return jsonify(followups=items)


@api.post("/followups/<int:followup_id>/done")
def followup_done(followup_id: int) -> JsonAnswer:
    """Body (optional): {"by": "...", "note": "...", "url": "https://..."}."""
    body: dict[str, Any] = _json_object('{"by", "note", "url"}') if request.get_data().strip() else {}
    values = {}
    for name in ("by", "note", "url"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            return jsonify(error="ConnectorError", message=f"{name}: text"), 400
        values[name] = value
    with _rt().db.session() as s:
        done = followups.done(s, followup_id, by=values["by"] or actor(), note=values["note"], url=values["url"])
        audit(s, actor=actor(), action="followup.done", target=f"follow-up {followup_id}", note=values["note"])
        return jsonify(done)


@api.get("/outbox")
def outbox_list() -> JsonAnswer:
    limit, offset = _page()
    with _rt().db.session() as s:
        return jsonify(list_items(s, filters=request.args, limit=limit, offset=offset, before=_before()))


@api.get("/outbox/<int:item_id>")
def outbox_one(item_id: int) -> JsonAnswer:
    with _rt().db.session() as s:
        return jsonify(get_item(s, item_id))


@api.post("/outbox/replay")
def outbox_replay_selection() -> JsonAnswer:
    """Replay a selection: {"status": "dead" | "failed" | "not_sent", "channel"?: ..., "intent"?: ..., "limit"?: N}."""
    body = _json_object('{"status": ..., "channel", "intent", "limit"}')
    status = body.get("status")
    if status not in ("dead", "failed", "not_sent"):
        return jsonify(
            error="ConnectorError", message="status: one of dead, failed, not_sent (the intents to replay)"
        ), 400
    filters = {"status": status, **{k: body[k] for k in ("channel", "intent") if isinstance(body.get(k), str)}}
    limit = body.get("limit", 500)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
        return jsonify(error="ConnectorError", message="limit: a whole number from 1 to 500"), 400
    with _rt().db.session() as s:
        ids = [i["id"] for i in list_items(s, filters=filters, limit=limit, offset=0)["items"]]
        answers = [replay_item(s, item_id) for item_id in ids]
        audit(
            s,
            actor=actor(),
            action="outbox.replay",
            target=f"{len(ids)} outbox items",
            data={"filters": filters, "ids": ids},
        )
    return jsonify(replayed=len(answers), items=answers), 202


@api.post("/outbox/<int:item_id>/replay")
def outbox_replay(item_id: int) -> JsonAnswer:
    with _rt().db.session() as s:
        answer = replay_item(s, item_id)
        audit(s, actor=actor(), action="outbox.replay", target=f"outbox item {item_id}", data=dict(answer))
    return jsonify(answer), 202


#: what this module adds to `api` (imported by the app factory so that the routes exist)
ROUTES = (
    escalations_list,
    followups_list,
    followup_done,
    outbox_list,
    outbox_one,
    outbox_replay,
    outbox_replay_selection,
)
