"""The admin pages under /admin/, served by the connector itself (templates and assets in the package;
no CDN). Sign in with the admin or the viewer token; every page reads through the core's service
functions, and every change goes through the admin API (`/api`, with the session and its CSRF
token), so the pages can do nothing the API does not allow — a viewer's save is the API's 403.

Pages: tickets (filters, paging) and a ticket's story (links, live SLA clocks, level and owner, the
timeline); a vendor's mapping in an editor with live validation at the line, preview against a stored
delivery or a pasted payload, save with a required note, history, diff and rollback; deliveries and
the outbox by status with replay; the audit log.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse

from connector import defaults
from connector.config import valid_instance
from connector.errors import ConnectorError
from connector.escalation.queries import escalation_summary, ticket_escalation
from connector.inbox import deliveries
from connector.outbox import list_items
from connector.sla.report import build_report, parse_range, weekly_trend
from connector.store.audit import audit_log
from connector.store.documents import as_yaml
from connector.tickets import get_ticket, list_tickets
from webhooks import auth
from webhooks.api import _rt

admin = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static/admin")
PAGE = 50
Page = str | Response | WerkzeugResponse | tuple[str, int]


@admin.before_request
def _signed_in() -> WerkzeugResponse | None:
    if request.endpoint in ("admin.login", "admin.login_post", "admin.static"):
        return None
    who = auth.from_session(_rt().settings)
    if who is None:
        return redirect(url_for("admin.login", next=request.full_path if request.method == "GET" else None))
    request.environ["connector.principal"] = who
    return None


@admin.context_processor
def _common() -> dict[str, Any]:
    who = request.environ.get("connector.principal")
    return {"who": who, "csrf_token": auth.csrf_token(), "vendors": defaults.VENDORS}


@admin.get("/login")
def login() -> Page:
    return render_template("admin/login.html", error=None, next=request.args.get("next") or "")


@admin.post("/login")
def login_post() -> Page:
    auth.check_csrf()
    settings = _rt().settings
    if not settings.admin_token:
        return render_template("admin/login.html", error="the admin pages are off: set CONNECTOR_ADMIN_TOKEN"), 401
    role = auth.role_of_token(settings, request.form.get("token", ""))
    if role is None:
        return render_template("admin/login.html", error="that token is not the admin's or the viewer's", next=""), 401
    auth.sign_in(settings, role)
    target = request.form.get("next") or ""
    return redirect(target if target.startswith("/admin/") else url_for("admin.tickets"))


@admin.post("/logout")
def logout() -> WerkzeugResponse:
    auth.check_csrf()
    auth.sign_out()
    return redirect(url_for("admin.login"))


@admin.get("/")
def index() -> WerkzeugResponse:
    return redirect(url_for("admin.tickets"))


@admin.get("/tickets")
def tickets() -> Page:
    names = ("status", "severity", "customer_tier", "channel", "support_level", "vendor", "sla", "q")
    filters = {k: v for k, v in request.args.items() if k in names and v}
    raw = request.args.get("before", "")
    before = int(raw) if raw.isdecimal() and len(raw) < 19 else None
    with _rt().db.session() as s:  # keyset paging and no count: as fast at a million tickets as at ten
        try:
            page = list_tickets(s, filters=filters, limit=PAGE, before=before, count=False)
        except ConnectorError as exc:
            abort(400, str(exc))
    return render_template("admin/tickets.html", page=page, filters=filters, before=before)


@admin.get("/tickets/<int:ticket_id>")
def ticket(ticket_id: int) -> Page:
    rt = _rt()
    with rt.db.session() as s:
        try:
            story = get_ticket(s, ticket_id)
        except ConnectorError as exc:
            abort(404, str(exc))
        story["escalation"] = ticket_escalation(s, rt.policies.active(s).policy, ticket_id)
    return render_template("admin/ticket.html", t=story)


@admin.get("/mappings")
def mappings() -> WerkzeugResponse:
    return redirect(url_for("admin.mapping", vendor="zendesk"))


@admin.get("/mappings/<vendor>")
def mapping(vendor: str) -> Page:
    if vendor not in defaults.VENDORS:
        abort(404, f"unknown vendor {vendor!r}")
    instance = request.args.get("instance", defaults.DEFAULT_INSTANCE)
    if not valid_instance(instance):
        abort(400, "instance: lower-case letters, digits and '-'")
    rt = _rt()
    with rt.db.session() as s:
        active = rt.mappings.active(s, vendor=vendor, instance=instance)
        versions = [
            {"version": v.version, "active": v.active, "at": v.created_at, "by": v.created_by, "note": v.comment}
            for v in rt.mappings.versions(s, vendor=vendor, instance=instance)
        ]
        recent = deliveries.list_deliveries(s, filters={"vendor": vendor}, limit=25, offset=0)
    return render_template(
        "admin/mapping.html",
        vendor=vendor,
        instance=instance,
        version=active.version,
        text=as_yaml(active.document.dump()),
        versions=list(reversed(versions)),
        recent=recent,
    )


_EVENTS = (
    "public_reply",
    "internal_note",
    "status",
    "severity",
    "tier",
    "category",
    "level",
    "paged",
    "acknowledged",
    "escalated",
    "assigned",
    "resolved",
    "reopened",
)


def event_select(chosen: str) -> Markup:
    options = "".join(f'<option value="{e}"{" selected" if e == chosen else ""}>{e}</option>' for e in _EVENTS)
    return Markup(f'<select class="ev-type">{options}</select>')


@admin.get("/policy")
def policy() -> Page:
    rt = _rt()
    with rt.db.session() as s:
        active = rt.policies.active(s)
        text = as_yaml(rt.policies.document(s, active.version))
        versions = [
            {
                "version": v.version,
                "name": v.name,
                "active": v.active,
                "at": v.created_at,
                "by": v.created_by,
                "note": v.comment,
            }
            for v in rt.policies.versions(s)
        ]
    return render_template(
        "admin/policy.html",
        name=active.policy.name,
        version=active.version,
        text=text,
        versions=list(reversed(versions)),
        event_select=event_select,
    )


@admin.get("/deliveries")
def deliveries_page() -> Page:
    offset = _offset()
    filters = {k: v for k, v in request.args.items() if k in ("status", "vendor") and v}
    with _rt().db.session() as s:
        rows = deliveries.list_deliveries(s, filters=filters, limit=PAGE, offset=offset)
    more = len(rows) == PAGE
    return render_template("admin/deliveries.html", rows=rows, filters=filters, offset=offset, size=PAGE, more=more)


@admin.get("/deliveries/<int:delivery_id>")
def delivery(delivery_id: int) -> Page:
    with _rt().db.session() as s:
        try:
            d = deliveries.get_delivery(s, delivery_id)
        except ConnectorError as exc:
            abort(404, str(exc))
    pretty = json.dumps(d["body"], indent=2, ensure_ascii=False) if "body" in d else d.get("body_text", "")
    return render_template("admin/delivery.html", d=d, pretty=pretty)


@admin.get("/outbox")
def outbox() -> Page:
    offset = _offset()
    filters = {k: v for k, v in request.args.items() if k in ("status", "channel", "intent") and v}
    with _rt().db.session() as s:
        page = list_items(s, filters=filters, limit=PAGE, offset=offset)
    more = len(page["items"]) == PAGE
    return render_template("admin/outbox.html", page=page, filters=filters, offset=offset, size=PAGE, more=more)


@admin.get("/reports")
def reports() -> Page:
    try:
        since, until = parse_range(request.args.get("since") or None, request.args.get("until") or None)
    except ConnectorError as exc:
        abort(400, str(exc))
    with _rt().db.session() as s:
        report = build_report(
            s,
            since=since,
            until=until,
            severity=request.args.get("severity") or None,
            tier=request.args.get("tier") or None,
        )
        trend = weekly_trend(s, until=until)
        escalations = escalation_summary(s, since=since, until=until)
    return render_template("admin/reports.html", report=report, trend=trend, escalations=escalations)


@admin.get("/audit")
def audit_page() -> Page:
    with _rt().db.session() as s:
        entries = audit_log(s, limit=200)
    return render_template("admin/audit.html", entries=entries)


def _offset() -> int:
    raw = request.args.get("offset", "0")
    return int(raw) if raw.isdecimal() and len(raw) < 10 else 0
