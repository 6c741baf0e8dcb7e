"""The OpenAPI 3 document of the admin API, served at `/api/openapi.json` (no token needed: it holds
no data). Every `/api` route is in it (a test walks the app's rules to keep it so), with its
parameters, bodies and the answers it gives — refusals included: 400 naming the field, 401, 403 for
the viewer's writes, 404, 415, 503."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from connector.outbox import STATUSES as OUTBOX_STATUSES
from connector.store import DeliveryStatus

openapi = Blueprint("openapi", __name__)

_ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}
_VENDOR = {
    "name": "vendor",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": ["zendesk", "jira", "pagerduty"]},
}
_INSTANCE = {
    "name": "instance",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$", "default": "default"},
}
#: the largest id, limit or offset a route takes (a database BIGINT)
MAX_ID = 2**63 - 1


def _int(name: str, minimum: int, where: str = "query", **extra: Any) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": minimum, "maximum": MAX_ID, **extra}
    return {"name": name, "in": where, "required": where == "path", "schema": schema}


_PAGE = [_int("limit", 1, default=50), _int("offset", 0, default=0)]
_COMMENT = {"name": "comment", "in": "query", "schema": {"type": "string"}, "description": "the change note"}
_DOCUMENT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"oneOf": [_ANY_OBJECT, {"type": "string"}]}},
        "application/yaml": {"schema": {"type": "string"}},
    },
}


def _id(name: str) -> dict[str, Any]:
    return _int(name, 1, "path")


def _query(name: str, description: str = "", **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": {"type": "string", **schema}}


def _op(
    summary: str,
    *,
    ok: int = 200,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    write: bool = False,
    errors: tuple[int, ...] = (400, 404),
    content: dict[str, Any] | None = None,
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(ok): {"description": "done", "content": content or {"application/json": {"schema": _ANY_OBJECT}}},
        "401": _refusal("no valid token or session"),
        "503": _refusal("the database is unavailable, or a failure of ours (never a bare 500)"),
    }
    if write:
        responses["403"] = _refusal("the viewer token, or a session write without its CSRF token")
    for code in errors:
        responses[str(code)] = _refusal(
            {
                400: "the request is not what the route takes",
                404: "no such id, version or vendor",
                415: "a content type the route does not read",
            }[code]
        )
    op: dict[str, Any] = {"summary": summary, "responses": responses, "security": [{"bearer": []}, {"session": []}]}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    return op


def _refusal(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _json(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


PATHS: dict[str, dict[str, Any]] = {
    "/api/tickets": {
        "get": _op(
            "Tickets, newest first",
            params=[
                *_PAGE,
                _int("before", 1),
                _query("count", "false: no total (a count of a million rows is not free)", enum=["true", "false"]),
                _query("status"),
                _query("severity"),
                _query("customer_tier"),
                _query("channel"),
                _query("support_level"),
                _query("vendor", "the tool the ticket came from"),
                _query("sla", enum=["breached", "at_risk"]),
                _query("q", "text in the title"),
            ],
        )
    },
    "/api/tickets/{ticket_id}": {
        "get": _op("One ticket: fields, links, SLA clocks, timeline, escalation story", params=[_id("ticket_id")])
    },
    "/api/deliveries": {
        "get": _op(
            "The inbox",
            params=[
                *_PAGE,
                _int("before", 1),
                _query("vendor"),
                _query("instance"),
                _query("status", enum=[s.value for s in DeliveryStatus]),
            ],
        )
    },
    "/api/deliveries/replay": {
        "post": _op(
            "Replay every delivery of a selection (status, vendor, instance)",
            ok=202,
            body=_json(
                {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {"type": "string", "enum": ["dead", "failed", "rejected", "ignored"]},
                        "vendor": {"type": "string"},
                        "instance": {"type": "string"},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                }
            ),
            write=True,
            errors=(400, 415),
        )
    },
    "/api/deliveries/{delivery_id}": {"get": _op("One delivery with its body", params=[_id("delivery_id")])},
    "/api/deliveries/{delivery_id}/replay": {
        "post": _op("Process a stored delivery again", ok=202, params=[_id("delivery_id")], write=True)
    },
    "/api/mappings/{vendor}": {
        "get": _op("The active mapping", params=[_VENDOR, _INSTANCE]),
        "put": _op(
            "Save a new version (JSON or YAML)",
            ok=201,
            params=[_VENDOR, _INSTANCE, _COMMENT],
            body=_DOCUMENT_BODY,
            write=True,
            errors=(400, 404, 415),
        ),
    },
    "/api/mappings/{vendor}/versions": {"get": _op("The history of versions", params=[_VENDOR, _INSTANCE])},
    "/api/mappings/{vendor}/versions/{version}": {
        "get": _op(
            "One version's document (0: the shipped default)",
            params=[
                _VENDOR,
                _int("version", 0, "path"),
                _INSTANCE,
            ],
        )
    },
    "/api/mappings/{vendor}/diff": {
        "get": _op(
            "A unified diff of two versions",
            params=[
                _VENDOR,
                _INSTANCE,
                _int("from", 0),
                _int("to", 0),
            ],
        )
    },
    "/api/mappings/{vendor}/validate": {
        "post": _op(
            "A draft's problems, each at its line (changes nothing)",
            params=[_VENDOR, _INSTANCE],
            body=_DOCUMENT_BODY,
            errors=(400, 404, 415),
        )
    },
    "/api/mappings/{vendor}/preview": {
        "post": _op(
            "Map a stored delivery or a payload with the active mapping or a draft (changes nothing)",
            params=[_VENDOR, _INSTANCE],
            body=_json(_ANY_OBJECT),
            errors=(400, 404, 415),
        )
    },
    "/api/mappings/{vendor}/rollback": {
        "post": _op(
            "Make an earlier version current (as a new version)",
            ok=201,
            params=[_VENDOR, _INSTANCE, _COMMENT],
            body=_json({"type": "object", "required": ["version"], "properties": {"version": {"type": "integer"}}}),
            write=True,
            errors=(400, 404, 415),
        )
    },
    "/api/simulate": {
        "post": _op(
            "A dry run of a scenario: clocks, escalations, pages (changes nothing)",
            body=_json(_ANY_OBJECT),
            errors=(400, 415),
        )
    },
    "/api/policy": {
        "get": _op("The active support policy", errors=()),
        "put": _op(
            "Save a new policy version", ok=201, params=[_COMMENT], body=_DOCUMENT_BODY, write=True, errors=(400, 415)
        ),
    },
    "/api/policy/versions": {"get": _op("The policy's history", errors=())},
    "/api/policy/versions/{version}": {
        "get": _op("One policy version's document (0: CONNECTOR_POLICY's)", params=[_int("version", 0, "path")])
    },
    "/api/policy/diff": {"get": _op("A unified diff of two policy versions", params=[_int("from", 0), _int("to", 0)])},
    "/api/policy/validate": {
        "post": _op(
            "A draft policy's problems, each at its line (changes nothing)", body=_DOCUMENT_BODY, errors=(400, 415)
        )
    },
    "/api/policy/rollback": {
        "post": _op(
            "Make an earlier policy version current",
            ok=201,
            params=[_COMMENT],
            body=_json({"type": "object", "required": ["version"], "properties": {"version": {"type": "integer"}}}),
            write=True,
            errors=(400, 404, 415),
        )
    },
    "/api/reports/sla": {
        "get": _op(
            "The SLA report",
            params=[
                _query("since", "ISO date (or date-time)", format="date"),
                _query("until", "ISO date (or date-time)", format="date"),
                _query("severity"),
                _query("tier"),
                _query("format", enum=["json", "csv", "text"]),
            ],
            errors=(400,),
            content={
                "application/json": {"schema": _ANY_OBJECT},
                "text/csv": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        )
    },
    "/api/audit": {
        "get": _op(
            "Admin changes, newest first",
            params=[
                _int("limit", 1),
                _int("before", 1),
                _query("action"),
            ],
            errors=(400,),
        )
    },
    "/api/escalations": {
        "get": _op(
            "The escalation engine's decisions",
            params=[
                *_PAGE,
                _int("ticket_id", 1),
                _query("trigger_id"),
                _query("action"),
                _query("outcome"),
                _query("target"),
            ],
        )
    },
    "/api/followups": {
        "get": _op(
            "Owed follow-ups and post-mortems",
            params=[
                _query("kind", enum=["notify", "postmortem"]),
                _query("state", enum=["open", "overdue", "done"]),
                _int("ticket_id", 1),
            ],
        )
    },
    "/api/followups/{followup_id}/done": {
        "post": _op(
            "Mark a follow-up or post-mortem done",
            params=[_id("followup_id")],
            body=_json(
                {
                    "type": "object",
                    "properties": {"by": {"type": "string"}, "note": {"type": "string"}, "url": {"type": "string"}},
                },
                required=False,
            ),
            write=True,
            errors=(400, 404, 415),
        )
    },
    "/api/outbox": {
        "get": _op(
            "Outbound intents",
            params=[
                *_PAGE,
                _int("before", 1),
                _query("status", enum=list(OUTBOX_STATUSES)),
                _query("channel"),
                _query("intent"),
                _int("ticket_id", 1),
                _query("target"),
            ],
        )
    },
    "/api/outbox/replay": {
        "post": _op(
            "Send every intent of a selection again (status, channel, intent)",
            ok=202,
            body=_json(
                {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {"type": "string", "enum": ["dead", "failed", "not_sent"]},
                        "channel": {"type": "string"},
                        "intent": {"type": "string"},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                }
            ),
            write=True,
            errors=(400, 415),
        )
    },
    "/api/outbox/{item_id}": {
        "get": _op("One outbound intent with its payload and the vendor's answer", params=[_id("item_id")])
    },
    "/api/outbox/{item_id}/replay": {
        "post": _op("Send a dead, failed or not-sent intent again", ok=202, params=[_id("item_id")], write=True)
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "helpdesk connector admin API",
        "version": "1",
        "description": "Every route needs `Authorization: Bearer <CONNECTOR_ADMIN_TOKEN>` (or the viewer token, "
        "which reads and is refused every write), or the admin pages' session cookie with `X-CSRF-Token` on writes.",
    },
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "connector_session"},
        },
        "schemas": {"Error": _ERROR},
    },
}


@openapi.get("/api/openapi.json")
def document() -> Response:
    return jsonify(DOCUMENT)
