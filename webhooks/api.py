"""The admin API under /api. Every route requires `Authorization: Bearer $CONNECTOR_ADMIN_TOKEN` (or
the admin pages' session); `CONNECTOR_VIEWER_TOKEN` reads and gets a 403 for any write (`webhooks.auth`).
Every change is written to the audit log with who made it.

Views read the request, call one service function of the core and shape its answer; no query is
built here.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, jsonify, request

from connector import defaults
from connector.config import valid_instance
from connector.errors import ConnectorError, NotFound, SchemaError, StoreUnavailable, json_kind
from connector.escalation.queries import ticket_escalation
from connector.escalation.simulate import simulate
from connector.inbox import deliveries
from connector.inbox.replay import replay
from connector.runtime import Runtime
from connector.sla.report import build_report, parse_range, render_text, report_csv
from connector.store import MAX_ID
from connector.store.audit import audit, audit_log
from connector.tickets import get_ticket, list_tickets
from webhooks import auth

api = Blueprint("api", __name__, url_prefix="/api")

JsonAnswer = Response | tuple[Response, int]
#: the most a page of tickets or deliveries holds; a larger `limit` is cut to it
MAX_PAGE = 500
#: request bodies read as YAML text (the document routes); JSON is application/json or any `+json` type
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain"})


#: POSTs that compute and change nothing (a draft's validation, a preview, a dry run): a viewer may
READS_BY_POST = frozenset(
    {"api.mapping_validate", "api.mapping_preview", "api.simulate_scenario", "api.policy_validate"}
)


@api.before_request
def _require_token() -> None:
    write = request.method not in auth.SAFE_METHODS and request.endpoint not in READS_BY_POST
    g.principal = auth.require(_rt().settings, write=write)


def actor() -> str:
    """Who makes this change (for the audit log and a version's `created_by`)."""
    who = g.get("principal")
    return who.name if who is not None else "unknown"


@api.errorhandler(ConnectorError)
def _connector_error(exc: ConnectorError) -> tuple[Response, int]:
    """What the request got wrong (400, or 404 for what does not exist); 503 when it is ours."""
    if isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, StoreUnavailable | SchemaError):
        status = 503
    else:
        status = 400
    return jsonify(error=type(exc).__name__, message=str(exc)), status


def _rt() -> Runtime:
    rt = current_app.extensions["connector"]
    assert isinstance(rt, Runtime)
    return rt


def _page() -> tuple[int, int]:
    """`limit` (1 or more, at most MAX_PAGE are given; default 50) and `offset` (0 or more)."""
    limit = _whole_number("limit", 50, low=1)
    offset = _whole_number("offset", 0, low=0)
    return min(limit, MAX_PAGE), offset


def _before() -> int | None:
    """`before`: a keyset cursor (an id: the rows older than it), or None."""
    return _whole_number("before", 0, low=1) if request.args.get("before") is not None else None


def _whole_number(name: str, default: int, *, low: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    text = raw.strip()
    if not (text.isascii() and text.isdecimal()) or (len(text) <= 19 and int(text) < low):
        abort(400, f"{name}: a whole number, {low} or more; got {_shown(raw)}")
    if len(text) > 19 or int(text) > MAX_ID:  # 19 digits: no int() of thousands of digits
        abort(400, f"{name}: at most {MAX_ID}; got {_shown(raw)}")
    return int(text)


@api.get("/tickets")
def tickets_list() -> JsonAnswer:
    limit, offset = _page()
    before = _before()
    count = request.args.get("count", "true").lower() not in ("false", "0", "no")
    with _rt().db.session() as s:
        page = list_tickets(s, filters=request.args, limit=limit, offset=offset, before=before, count=count)
    return jsonify(total=page.total, tickets=page.tickets, next_before=page.next_before)


@api.get("/tickets/<int:ticket_id>")
def ticket_one(ticket_id: int) -> JsonAnswer:
    """Fields, links, SLA clocks, timeline, and the escalation story (level, owner, path, decisions,
    follow-ups, outbound intents)."""
    rt = _rt()
    with rt.db.session() as s:
        ticket = get_ticket(s, ticket_id)
        ticket["escalation"] = ticket_escalation(s, rt.policies.active(s).policy, ticket_id)
        return jsonify(ticket)


@api.get("/deliveries")
def deliveries_list() -> JsonAnswer:
    limit, offset = _page()
    before = _before()
    with _rt().db.session() as s:
        rows = deliveries.list_deliveries(s, filters=request.args, limit=limit, offset=offset, before=before)
    return jsonify(deliveries=rows, next_before=rows[-1]["id"] if len(rows) == limit else None)


@api.get("/deliveries/<int:delivery_id>")
def delivery_one(delivery_id: int) -> JsonAnswer:
    with _rt().db.session() as s:
        return jsonify(deliveries.get_delivery(s, delivery_id))


@api.post("/deliveries/<int:delivery_id>/replay")
def delivery_replay(delivery_id: int) -> JsonAnswer:
    rt = _rt()
    answer = replay(rt, delivery_id)
    with rt.db.session() as s:
        audit(s, actor=actor(), action="delivery.replay", target=f"delivery {delivery_id}", data=dict(answer))
    return jsonify(answer), 202


@api.post("/deliveries/replay")
def deliveries_replay() -> JsonAnswer:
    """Replay a selection: {"status": "dead", "vendor"?: ..., "instance"?: ..., "limit"?: N (at most 500)}."""
    body = _json_object('{"status": ..., "vendor", "instance", "limit"}')
    status = body.get("status")
    if status not in ("dead", "failed", "rejected", "ignored"):
        abort(400, "status: one of dead, failed, rejected, ignored (the deliveries to replay)")
    filters = {"status": status, **{k: body[k] for k in ("vendor", "instance") if isinstance(body.get(k), str)}}
    limit = body.get("limit", MAX_PAGE)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        abort(400, f"limit: a whole number from 1 to {MAX_PAGE}")
    rt = _rt()
    with rt.db.session() as s:
        ids = [d["id"] for d in deliveries.list_deliveries(s, filters=filters, limit=limit, offset=0)]
    answers = [replay(rt, delivery_id) for delivery_id in ids]
    with rt.db.session() as s:
        audit(
            s,
            actor=actor(),
            action="delivery.replay",
            target=f"{len(ids)} deliveries",
            data={"filters": filters, "ids": ids},
        )
    return jsonify(replayed=len(answers), deliveries=answers), 202


@api.post("/simulate")
def simulate_scenario() -> JsonAnswer:
    """A dry run of a scenario's SLA clocks and escalations; the scenario may omit "policy" to use the active one.

    Over HTTP "policy" is a preset name or an inline document: never a file on this server."""
    scenario = _json_object("a scenario with 'policy', 'ticket', 'events' and 'until'")
    rt = _rt()
    default = None
    if "policy" not in scenario:
        with rt.db.session() as s:
            default = rt.policies.active(s).policy
    return jsonify(simulate(scenario, default_policy=default, allow_files=False))


@api.get("/audit")
def audit_list() -> JsonAnswer:
    """Admin changes, newest first: ?limit= (default 100) &before=<id> (the next page) &action="""
    limit = min(_whole_number("limit", 100, low=1), MAX_PAGE)
    before = _whole_number("before", 0, low=1) if request.args.get("before") else None
    with _rt().db.session() as s:
        entries = audit_log(s, limit=limit, before=before, action=request.args.get("action") or None)
    return jsonify(entries=entries, next_before=entries[-1]["id"] if len(entries) == limit else None)


@api.get("/reports/sla")
def sla_report() -> Response:
    """?since=&until= (ISO dates; default the last 30 days) &severity= &tier= &format=json|csv|text"""
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv", "text"):
        abort(400, "format is one of json, csv, text")
    since, until = parse_range(request.args.get("since"), request.args.get("until"))  # ConnectorError → 400
    with _rt().db.session() as s:
        result = build_report(
            s,
            since=since,
            until=until,
            severity=request.args.get("severity") or None,
            tier=request.args.get("tier") or None,
        )
    if fmt == "csv":
        name = f"sla-report-{since:%Y%m%d}-{until:%Y%m%d}.csv"
        return Response(
            report_csv(result), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )
    if fmt == "text":
        return Response(render_text(result), mimetype="text/plain")
    return jsonify(result)


def _vendor_instance(vendor: str) -> str:
    if vendor not in defaults.VENDORS:
        abort(404, f"unknown vendor {vendor!r}; known: {', '.join(defaults.VENDORS)}")
    instance = request.args.get("instance", defaults.DEFAULT_INSTANCE)
    if not valid_instance(instance):
        abort(400, f"instance: lower-case letters, digits and '-' (at most 63), got {_shown(instance)}")
    return instance


def _version_from_request() -> int:
    body = _json_object('{"version": N} naming the version to restore')
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        abort(400, f"version: a whole number, the version to restore; got {json_kind(version)}")
    return version


def _json_object(what: str) -> dict[str, Any]:
    """The body as a JSON object; else 415 (another content type) or 400 saying what is wrong with it."""
    if request.mimetype and not request.is_json:
        abort(415, f"send {what} as JSON (Content-Type: application/json), not {request.mimetype}")
    data = _json_body()
    if not isinstance(data, dict):
        abort(400, f"send {what}: a JSON object, not {json_kind(data)}")
    return data


def _json_body() -> Any:
    raw = request.get_data()
    if not raw.strip():
        abort(400, "the body is empty: send a JSON object")
    try:
        return json.loads(raw)
    except RecursionError:
        abort(400, "body is not valid JSON we can read: nested too deeply")
    except ValueError as exc:  # not JSON, not UTF-8, an integer of thousands of digits
        abort(400, f"body is not valid JSON: {exc}")


def _document_from_request() -> dict[str, Any] | str:
    """A document to store: the JSON body (an object, or `{"document": <object, YAML text or preset>}`,
    or a JSON string), or the body as YAML text (a YAML content type)."""
    if request.mimetype in YAML_TYPES:
        return request.get_data(as_text=True)
    if request.mimetype and not request.is_json:
        abort(
            415,
            f"send the document as JSON or YAML (Content-Type: application/json or application/yaml), "
            f"not {request.mimetype}",
        )
    data = _json_body()
    if isinstance(data, dict) and "document" in data:
        document = data["document"]
        if not isinstance(document, dict | str):
            abort(400, f"document: an object, YAML text or a preset name; got {json_kind(document)}")
        return document
    if isinstance(data, dict | str):
        return data
    abort(
        400,
        f"send the document as a JSON object (or YAML text with Content-Type: application/yaml), not {json_kind(data)}",
    )


def _shown(value: str, limit: int = 40) -> str:
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}…"
