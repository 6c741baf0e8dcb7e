"""The admin API's document routes: the field mappings and the support policy — the active one,
versions, a draft's validation at its lines, diffs, save, rollback, preview. They join the `api`
blueprint (same auth, same errors, every change audited)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from connector.errors import ConnectorError, NotFound
from connector.inbox.preview import preview_delivery
from connector.policy import load_policy_document
from connector.runtime import Runtime
from connector.store.audit import audit
from connector.store.documents import as_yaml, diff, locate, problems
from webhooks.api import (
    JsonAnswer,
    _document_from_request,
    _json_object,
    _rt,
    _vendor_instance,
    _version_from_request,
    _whole_number,
    actor,
    api,
)


@api.get("/mappings/<vendor>")
def mapping_get(vendor: str) -> JsonAnswer:
    instance = _vendor_instance(vendor)
    rt = _rt()
    with rt.db.session() as s:
        m = rt.mappings.active(s, vendor=vendor, instance=instance)
    return jsonify(vendor=vendor, instance=m.instance, version=m.version, document=m.document.dump())


@api.put("/mappings/<vendor>")
def mapping_put(vendor: str) -> JsonAnswer:
    instance = _vendor_instance(vendor)
    document = _document_from_request()
    rt = _rt()
    with rt.db.session() as s:
        note = request.args.get("comment")
        row = rt.mappings.save(s, vendor=vendor, instance=instance, document=document, created_by=actor(), comment=note)
        audit(
            s,
            actor=actor(),
            action="mapping.save",
            target=f"{vendor}/{instance}",
            note=note,
            data={"version": row.version},
        )
        return jsonify(vendor=vendor, instance=instance, version=row.version), 201


@api.get("/mappings/<vendor>/versions")
def mapping_versions(vendor: str) -> JsonAnswer:
    instance = _vendor_instance(vendor)
    rt = _rt()
    with rt.db.session() as s:
        return jsonify(
            vendor=vendor,
            instance=instance,
            versions=[
                {
                    "version": v.version,
                    "active": v.active,
                    "created_at": v.created_at.isoformat(),
                    "created_by": v.created_by,
                    "comment": v.comment,
                }
                for v in rt.mappings.versions(s, vendor=vendor, instance=instance)
            ],
        )


@api.post("/mappings/<vendor>/validate")
def mapping_validate(vendor: str) -> JsonAnswer:
    """A draft document (YAML text, or JSON): {"valid": true} or its problems, each at the line it names."""
    _vendor_instance(vendor)
    document = _document_from_request()
    text = document if isinstance(document, str) else as_yaml(document)
    try:
        loaded = _rt().mappings.engine.load(document, source="draft")
    except ConnectorError as exc:
        return jsonify(valid=False, problems=problems(text, exc))
    if loaded.vendor != vendor:
        message = f"this document is for {loaded.vendor!r}, not {vendor!r}"
        return jsonify(valid=False, problems=[{"path": "vendor", "message": message, "line": locate(text, ["vendor"])}])
    return jsonify(valid=True, problems=[])


@api.get("/mappings/<vendor>/versions/<int:version>")
def mapping_version(vendor: str, version: int) -> JsonAnswer:
    """One version's document, as an object and as YAML text (version 0: the shipped default)."""
    instance = _vendor_instance(vendor)
    rt = _rt()
    with rt.db.session() as s:
        document = _mapping_document(rt, s, vendor, instance, version)
    return jsonify(vendor=vendor, instance=instance, version=version, document=document, yaml=as_yaml(document))


@api.get("/mappings/<vendor>/diff")
def mapping_diff(vendor: str) -> JsonAnswer:
    """?from=N&to=M (versions; 0 is the shipped default): a unified diff of their YAML."""
    instance = _vendor_instance(vendor)
    old, new = _whole_number("from", 0, low=0), _whole_number("to", 0, low=0)
    rt = _rt()
    with rt.db.session() as s:
        a = _mapping_document(rt, s, vendor, instance, old)
        b = _mapping_document(rt, s, vendor, instance, new)
    return jsonify(diff=diff(a, b, old_name=f"version {old}", new_name=f"version {new}"), **{"from": old, "to": new})


def _mapping_document(rt: Runtime, s: Any, vendor: str, instance: str, version: int) -> dict[str, Any]:
    if version == 0:
        return rt.mappings.engine.default(vendor).dump()
    for v in rt.mappings.versions(s, vendor=vendor, instance=instance):
        if v.version == version:
            return dict(v.document)
    raise NotFound(f"{vendor}/{instance} has no mapping version {version}")


@api.post("/mappings/<vendor>/rollback")
def mapping_rollback(vendor: str) -> JsonAnswer:
    instance = _vendor_instance(vendor)
    version = _version_from_request()
    rt = _rt()
    with rt.db.session() as s:
        row = rt.mappings.rollback(s, vendor=vendor, instance=instance, version=version, created_by=actor())
        audit(
            s,
            actor=actor(),
            action="mapping.rollback",
            target=f"{vendor}/{instance}",
            note=request.args.get("comment"),
            data={"restored": version, "version": row.version},
        )
        return jsonify(vendor=vendor, instance=instance, version=row.version), 201


@api.post("/mappings/<vendor>/preview")
def mapping_preview(vendor: str) -> JsonAnswer:
    """Body: {"delivery_id": N} or {"payload": {...}, "headers": {...}}; optional "document" to try a draft."""
    instance = _vendor_instance(vendor)
    body = _json_object('{"delivery_id": N} or {"payload": {...}}, optionally "headers" and "document"')
    rt = _rt()
    with rt.db.session() as s:
        result = preview_delivery(
            rt,
            s,
            vendor=vendor,
            instance=instance,
            delivery_id=body.get("delivery_id"),
            payload=body.get("payload"),
            headers=body.get("headers"),
            document=body.get("document"),
        )
    return jsonify(result)


@api.get("/policy")
def policy_get() -> JsonAnswer:
    rt = _rt()
    with rt.db.session() as s:
        active = rt.policies.active(s)
    return jsonify(version=active.version, name=active.policy.name, document=active.policy.show())


@api.put("/policy")
def policy_put() -> JsonAnswer:
    document = _document_from_request()
    rt = _rt()
    with rt.db.session() as s:
        note = request.args.get("comment")
        row = rt.policies.save(s, document=document, created_by=actor(), comment=note)
        audit(s, actor=actor(), action="policy.save", target=row.name, note=note, data={"version": row.version})
        warnings = rt.policies.active(s).policy.warnings()
        return jsonify(version=row.version, name=row.name, warnings=warnings), 201


@api.get("/policy/versions")
def policy_versions() -> JsonAnswer:
    rt = _rt()
    with rt.db.session() as s:
        return jsonify(
            versions=[
                {
                    "version": v.version,
                    "name": v.name,
                    "active": v.active,
                    "created_at": v.created_at.isoformat(),
                    "created_by": v.created_by,
                    "comment": v.comment,
                }
                for v in rt.policies.versions(s)
            ]
        )


@api.post("/policy/validate")
def policy_validate() -> JsonAnswer:
    """A draft policy (YAML text, a preset name, or JSON): {"valid": true, "warnings"} or its problems,
    each at the line it names."""
    document = _document_from_request()
    text = document if isinstance(document, str) else as_yaml(document)
    try:
        policy = load_policy_document(document)
    except ConnectorError as exc:
        return jsonify(valid=False, problems=problems(text, exc), warnings=[])
    return jsonify(valid=True, problems=[], warnings=policy.warnings(), name=policy.name)


@api.get("/policy/versions/<int:version>")
def policy_version(version: int) -> JsonAnswer:
    """One version's document, as an object and as YAML (version 0: CONNECTOR_POLICY's)."""
    with _rt().db.session() as s:
        document = _rt().policies.document(s, version)
    return jsonify(version=version, document=document, yaml=as_yaml(document))


@api.get("/policy/diff")
def policy_diff() -> JsonAnswer:
    """?from=N&to=M: a unified diff of two policy versions' YAML."""
    old, new = _whole_number("from", 0, low=0), _whole_number("to", 0, low=0)
    with _rt().db.session() as s:
        a, b = _rt().policies.document(s, old), _rt().policies.document(s, new)
    return jsonify(diff=diff(a, b, old_name=f"version {old}", new_name=f"version {new}"), **{"from": old, "to": new})


@api.post("/policy/rollback")
def policy_rollback() -> JsonAnswer:
    version = _version_from_request()
    rt = _rt()
    with rt.db.session() as s:
        row = rt.policies.rollback(s, version=version, created_by=actor())
        audit(
            s,
            actor=actor(),
            action="policy.rollback",
            target=row.name,
            note=request.args.get("comment"),
            data={"restored": version, "version": row.version},
        )
        return jsonify(version=row.version, name=row.name), 201


#: what this module adds to `api` (imported by the app factory so that the routes exist)
ROUTES = (
    mapping_get,
    mapping_put,
    mapping_versions,
    mapping_validate,
    mapping_version,
    mapping_diff,
    mapping_rollback,
    mapping_preview,
    policy_get,
    policy_put,
    policy_versions,
    policy_validate,
    policy_version,
    policy_diff,
    policy_rollback,
)
