"""The admin API under /api. Every route requires `Authorization: Bearer $CONNECTOR_ADMIN_TOKEN`."""

from __future__ import annotations

import hmac
import json
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from sqlalchemy import func, select

from connector import defaults, mapping_store, policy_store
from connector.errors import ConnectorError, NotFound
from connector.preview import preview_delivery
from connector.tables import Delivery, Ticket
from connector.views import delivery_json, ticket_json

api = Blueprint("api", __name__, url_prefix="/api")


@api.before_request
def _require_admin_token() -> None:
    token = current_app.extensions["connector"].settings.admin_token
    if not token:
        abort(401, "the admin API is disabled: set CONNECTOR_ADMIN_TOKEN")
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        abort(401, "missing or wrong bearer token")


@api.errorhandler(ConnectorError)
def _connector_error(exc: ConnectorError):  # type: ignore[no-untyped-def]
    status = 404 if isinstance(exc, NotFound) else 400
    return jsonify(error=type(exc).__name__, message=str(exc)), status


def _rt():  # type: ignore[no-untyped-def]
    return current_app.extensions["connector"]


def _page() -> tuple[int, int]:
    try:
        limit = min(max(int(request.args.get("limit", 50)), 1), 500)
        offset = max(int(request.args.get("offset", 0)), 0)
    except ValueError:
        abort(400, "limit and offset must be whole numbers")
    return limit, offset


@api.get("/tickets")
def list_tickets():  # type: ignore[no-untyped-def]
    limit, offset = _page()
    q = select(Ticket).order_by(Ticket.id.desc())
    for name in ("status", "severity", "customer_tier", "channel"):
        if request.args.get(name):
            q = q.where(getattr(Ticket, name) == request.args[name])
    with _rt().db.session() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery()))
        rows = s.scalars(q.limit(limit).offset(offset)).all()
        return jsonify(total=total, tickets=[ticket_json(t, s, full=False) for t in rows])


@api.get("/tickets/<int:ticket_id>")
def get_ticket(ticket_id: int):  # type: ignore[no-untyped-def]
    with _rt().db.session() as s:
        t = s.get(Ticket, ticket_id)
        if t is None:
            abort(404, f"no ticket {ticket_id}")
        return jsonify(ticket_json(t, s, full=True))


@api.get("/deliveries")
def list_deliveries():  # type: ignore[no-untyped-def]
    limit, offset = _page()
    q = select(Delivery).order_by(Delivery.id.desc())
    for name in ("vendor", "instance", "status"):
        if request.args.get(name):
            q = q.where(getattr(Delivery, name) == request.args[name])
    with _rt().db.session() as s:
        return jsonify(deliveries=[delivery_json(d) for d in s.scalars(q.limit(limit).offset(offset))])


@api.get("/deliveries/<int:delivery_id>")
def get_delivery(delivery_id: int):  # type: ignore[no-untyped-def]
    with _rt().db.session() as s:
        d = s.get(Delivery, delivery_id)
        if d is None:
            abort(404, f"no delivery {delivery_id}")
        return jsonify(delivery_json(d, body=True))


@api.post("/deliveries/<int:delivery_id>/replay")
def replay_delivery(delivery_id: int):  # type: ignore[no-untyped-def]
    from connector.replay import replay

    rt = _rt()
    return jsonify(replay(rt, delivery_id)), 202


@api.get("/mappings/<vendor>")
def get_mapping(vendor: str):  # type: ignore[no-untyped-def]
    instance = _vendor_instance(vendor)
    with _rt().db.session() as s:
        m = mapping_store.active(s, vendor=vendor, instance=instance)
        return jsonify(vendor=vendor, instance=m.instance, version=m.version,
                       document=m.document.model_dump(mode="json", exclude_defaults=True))


@api.put("/mappings/<vendor>")
def put_mapping(vendor: str):  # type: ignore[no-untyped-def]
    instance = _vendor_instance(vendor)
    document = _document_from_request()
    with _rt().db.session() as s:
        row = mapping_store.save(s, vendor=vendor, instance=instance, document=document,
                                 created_by=request.args.get("by"), comment=request.args.get("comment"))
        return jsonify(vendor=vendor, instance=instance, version=row.version), 201


@api.get("/mappings/<vendor>/versions")
def mapping_versions(vendor: str):  # type: ignore[no-untyped-def]
    instance = _vendor_instance(vendor)
    with _rt().db.session() as s:
        return jsonify(vendor=vendor, instance=instance, versions=[
            {"version": v.version, "active": v.active, "created_at": v.created_at.isoformat(),
             "created_by": v.created_by, "comment": v.comment}
            for v in mapping_store.versions(s, vendor=vendor, instance=instance)])


@api.post("/mappings/<vendor>/rollback")
def rollback_mapping(vendor: str):  # type: ignore[no-untyped-def]
    instance = _vendor_instance(vendor)
    body = request.get_json(silent=True) or {}
    if not isinstance(body.get("version"), int):
        abort(400, 'send {"version": <number>} naming the version to restore')
    with _rt().db.session() as s:
        row = mapping_store.rollback(s, vendor=vendor, instance=instance, version=body["version"])
        return jsonify(vendor=vendor, instance=instance, version=row.version), 201


@api.post("/mappings/<vendor>/preview")
def preview_mapping(vendor: str):  # type: ignore[no-untyped-def]
    """Body: {"delivery_id": N} or {"payload": {...}, "headers": {...}}; optional "document" to try a draft."""
    instance = _vendor_instance(vendor)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, 'send a JSON object: {"delivery_id": N} or {"payload": {...}}, optionally "document"')
    rt = _rt()
    with rt.db.session() as s:
        result = preview_delivery(rt, s, vendor=vendor, instance=instance, delivery_id=body.get("delivery_id"),
                                  payload=body.get("payload"), headers=body.get("headers") or {},
                                  document=body.get("document"))
    return jsonify(result)


def _vendor_instance(vendor: str) -> str:
    if vendor not in defaults.VENDORS:
        abort(404, f"unknown vendor {vendor!r}")
    return request.args.get("instance", defaults.DEFAULT_INSTANCE)


def _document_from_request() -> dict[str, Any] | str:
    if request.mimetype in ("application/json", ""):
        try:
            data = json.loads(request.get_data() or b"null")
        except json.JSONDecodeError as exc:
            raise ConnectorError(f"body is not valid JSON: {exc}") from exc
        return data.get("document", data) if isinstance(data, dict) else data
    return request.get_data(as_text=True)  # YAML text



@api.post("/simulate")
def simulate_scenario():  # type: ignore[no-untyped-def]
    """A dry run of a scenario's SLA clocks; the scenario may omit "policy" to use the active one."""
    from connector.sla.simulate import simulate

    scenario = request.get_json(silent=True)
    if not isinstance(scenario, dict):
        abort(400, "send a scenario: a JSON object with 'policy', 'ticket', 'events' and 'until'")
    rt = _rt()
    default = None
    if "policy" not in scenario:
        with rt.db.session() as s:
            default = policy_store.active(s, fallback=rt.settings.policy).policy
    return jsonify(simulate(scenario, default_policy=default))


@api.get("/policy")
def get_policy():  # type: ignore[no-untyped-def]
    rt = _rt()
    with rt.db.session() as s:
        active = policy_store.active(s, fallback=rt.settings.policy)
    return jsonify(version=active.version, name=active.policy.name, document=active.policy.show())


@api.put("/policy")
def put_policy():  # type: ignore[no-untyped-def]
    document = _document_from_request()
    with _rt().db.session() as s:
        row = policy_store.save(s, document=document, created_by=request.args.get("by"),
                                comment=request.args.get("comment"))
        return jsonify(version=row.version, name=row.name), 201


@api.get("/policy/versions")
def policy_versions():  # type: ignore[no-untyped-def]
    with _rt().db.session() as s:
        return jsonify(versions=[{"version": v.version, "name": v.name, "active": v.active,
                                  "created_at": v.created_at.isoformat(), "created_by": v.created_by,
                                  "comment": v.comment} for v in policy_store.versions(s)])


@api.post("/policy/rollback")
def rollback_policy():  # type: ignore[no-untyped-def]
    body = request.get_json(silent=True) or {}
    if not isinstance(body.get("version"), int):
        abort(400, 'send {"version": <number>} naming the version to restore')
    with _rt().db.session() as s:
        row = policy_store.rollback(s, version=body["version"], created_by=request.args.get("by"))
        return jsonify(version=row.version, name=row.name), 201


@api.get("/reports/sla")
def sla_report():  # type: ignore[no-untyped-def]
    """?since=&until= (ISO dates; default the last 30 days) &severity= &tier= &format=json|csv|text"""
    from connector.sla.report import build_report, parse_range, render_text, report_csv

    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv", "text"):
        abort(400, "format is one of json, csv, text")
    since, until = parse_range(request.args.get("since"), request.args.get("until"))  # ConnectorError → 400
    with _rt().db.session() as s:
        result = build_report(s, since=since, until=until, severity=request.args.get("severity") or None,
                              tier=request.args.get("tier") or None)
    if fmt == "csv":
        name = f"sla-report-{since:%Y%m%d}-{until:%Y%m%d}.csv"
        return Response(report_csv(result), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    if fmt == "text":
        return Response(render_text(result), mimetype="text/plain")
    return jsonify(result)
