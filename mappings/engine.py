"""Apply a field-mapping document to a payload: pure, deterministic, explainable.

Paths are dotted (`issue.fields.priority.name`), with list indexes (`assignees[0].summary`) and
list filters (`custom_fields[id=360001].value`). A segment may contain dots of its own when the
payload's keys do: the longest key that matches wins (`event.custom_field.id`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from connector.errors import MappingError
from connector.model import TICKET_FIELDS, FieldMapping, MappedFields, MappingNote
from mappings.schema import FieldRule, MappingDocument

DEFAULTS_DIR = Path(__file__).parent / "defaults"
_MISSING = object()


def load_document(data: Mapping[str, Any] | str, *, source: str = "mapping") -> MappingDocument:
    """Validate a mapping document (a dict or YAML text); errors point into the document."""
    if isinstance(data, str):
        try:
            data = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise MappingError(f"{source}: not valid YAML: {exc}") from exc
        except RecursionError as exc:
            raise MappingError(f"{source}: not valid YAML we can read: nested too deeply") from exc
    if not isinstance(data, Mapping):
        raise MappingError(f"{source}: a mapping document is an object with 'vendor' and 'shapes'")
    try:
        return MappingDocument.model_validate(data)
    except ValidationError as exc:
        found = tuple((tuple(e["loc"]), str(e["msg"])) for e in exc.errors())
        problems = "; ".join(f"{'.'.join(str(p) for p in loc)}: {msg}" for loc, msg in found)
        raise MappingError(f"{source}: {problems}", problems=found) from exc


@lru_cache(maxsize=8)
def default_document(vendor: str) -> MappingDocument:
    path = DEFAULTS_DIR / f"{vendor}.yaml"
    if not path.exists():
        raise MappingError(f"no shipped default mapping for vendor {vendor!r}")
    return load_document(path.read_text(encoding="utf-8"), source=str(path.name))


def resolve(document: Any, path: str) -> Any:
    """The value at `path` in `document`, or `_MISSING`."""
    node = document
    rest = path
    while rest:
        if type(node) is dict or isinstance(node, Mapping):  # a parsed payload's dicts: no ABC check
            node, rest = _step_mapping(node, rest)
        elif isinstance(node, list) and rest.startswith("["):
            node, rest = _step_list(node, rest)
        else:
            return _MISSING
        if node is _MISSING:
            return _MISSING
        if rest.startswith("."):
            rest = rest[1:]
    return node


def _step_mapping(node: Mapping[str, Any], rest: str) -> tuple[Any, str]:
    if rest.startswith("["):
        return _MISSING, ""
    # Longest key first, so keys that contain dots ("custom_field.id" never occurs, but
    # "zen:event-type:ticket.created" values do as keys in some payloads) still resolve.
    end = len(rest)
    while end > 0:
        key = rest[:end]
        if key in node:
            return node[key], rest[end:]
        nxt = max(rest.rfind(".", 0, end), rest.rfind("[", 0, end))
        end = nxt if nxt > 0 else 0
    return _MISSING, ""


def _step_list(node: list[Any], rest: str) -> tuple[Any, str]:
    close = rest.find("]")
    if close < 0:
        return _MISSING, ""
    inner, rest = rest[1:close], rest[close + 1 :]
    if inner.lstrip("-").isdigit():
        idx = int(inner)
        return (node[idx] if -len(node) <= idx < len(node) else _MISSING), rest
    if "=" in inner:
        k, _, v = inner.partition("=")
        for item in node:
            if isinstance(item, Mapping) and _equal(item.get(k.strip()), v.strip()):
                return item, rest
    return _MISSING, ""


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return any(_equal(actual, e) for e in expected)
    if isinstance(actual, list):  # a list matches when any item does ("tags contains vip")
        return any(_equal(a, expected) for a in actual)
    if actual is None or expected is None:
        return actual is expected
    if isinstance(actual, bool) or isinstance(expected, bool):
        return str(actual).lower() == str(expected).lower()
    return str(actual).strip().lower() == str(expected).strip().lower()


def _hits_null(document: Any, path: str) -> bool:
    """True when the path, or an object on the way to it, is an explicit null (`assignee: null`)."""
    while path:
        if resolve(document, path) is None:
            return True
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return False


def _empty(value: Any) -> bool:
    return value is _MISSING or value is None or (isinstance(value, str) and not value.strip())


def _unwrap(value: Any) -> Any:
    """Jira option objects ({value, id}) and named objects ({name, id}) read as their label."""
    if isinstance(value, Mapping):
        for key in ("value", "name", "summary", "displayName"):
            if key in value and not isinstance(value[key], Mapping | list):
                return value[key]
    return value


def _transform(value: Any, how: str | None) -> Any:
    if how is None:
        return value
    if how == "split":
        if isinstance(value, list):
            return [str(v) for v in value if str(v).strip()]
        return [t for t in str(value).replace(",", " ").split() if t]
    if how == "list":
        return list(value) if isinstance(value, list | tuple) else [value]
    if how == "string":
        return str(value)
    if how == "lower":
        return str(value).lower()
    if how == "upper":
        return str(value).upper()
    if how == "int":
        return int(float(str(value).strip()))
    if how == "float":
        return float(str(value).strip())
    if how == "bool":
        return str(value).strip().lower() in {"1", "true", "yes", "y", "on"}
    raise MappingError(f"unknown transform {how!r}")


def _coerce(name: str, value: Any) -> Any:
    kind = TICKET_FIELDS[name]
    if kind is list:
        items = value if isinstance(value, list) else [value]
        return [str(_unwrap(v)) for v in items if not _empty(v)]
    value = _unwrap(value)
    if kind is int:
        return int(float(str(value)))
    if kind is float:
        return float(str(value))
    return str(value)


def _apply_rule(rule: FieldRule, document: Any) -> tuple[Any, str] | None:
    for wpath, expected in rule.when.items():
        actual = resolve(document, wpath)
        if actual is _MISSING or not _equal(_unwrap(actual), expected):
            return None
    if rule.value is not None:
        return rule.value, f"= {rule.value!r}"
    paths = [rule.path] if isinstance(rule.path, str) else list(rule.path or [])
    raw, used = _MISSING, ""
    for p in paths:
        raw = resolve(document, p)
        if not _empty(raw):
            used = p
            break
    if _empty(raw):
        if rule.clear_on_null and any(_hits_null(document, p) for p in paths):
            return None, f"{' | '.join(paths)} is null → cleared"
        if rule.default is not None:
            return rule.default, f"default {rule.default!r} ({' | '.join(paths)} empty)"
        return None
    value = _transform(raw if rule.transform in (None, "list", "split") else _unwrap(raw), rule.transform)
    if rule.map is not None:
        lookup = rule.lookup
        # A list (tags, labels) maps by its first item the map knows: tags [vip, tier_enterprise] → enterprise.
        items = value if isinstance(value, list) else [value]
        mapped = next(
            (lookup[k] for k in (str(_unwrap(i)).strip().lower() for i in items) if k in lookup and k != "*"),
            lookup.get("*", _MISSING),
        )
        if mapped is _MISSING:
            if rule.default is not None:
                return rule.default, f"default {rule.default!r} ({used} {value!r} not in map)"
            return None
        return mapped, f"{used} {_unwrap(value)!r} → {mapped!r}"
    return value, used


def apply(doc: MappingDocument, shape: str, document: Any) -> MappedFields:
    """Map one payload of `shape` to canonical ticket fields. Unfilled fields are absent."""
    section = doc.shapes.get(shape)
    if section is None:
        return MappedFields(
            notes=(MappingNote(None, f"mapping for {doc.vendor} has no shape {shape!r}; no fields mapped"),)
        )
    fields: dict[str, Any] = {}
    trace: dict[str, str] = {}
    notes: list[MappingNote] = []
    for name, rules in section.fields.items():
        for rule in rules:
            try:
                hit = _apply_rule(rule, document)
            except (ValueError, TypeError) as exc:
                notes.append(MappingNote(name, str(exc)))
                continue
            if hit is None:
                continue
            value, how = hit
            try:
                fields[name] = None if value is None else _coerce(name, value)
            except (ValueError, TypeError) as exc:
                notes.append(MappingNote(name, f"cannot use {value!r}: {exc}"))
                continue
            trace[name] = how
            break
    return MappedFields(fields=fields, trace=trace, notes=tuple(notes))


class Engine:
    """The mapping engine as the core sees it (`connector.model.MappingEngine`)."""

    def load(self, document: Mapping[str, Any] | str, *, source: str) -> MappingDocument:
        return load_document(document, source=source)

    def default(self, vendor: str) -> MappingDocument:
        return default_document(vendor)

    def apply(self, mapping: FieldMapping, shape: str, payload: Any) -> MappedFields:
        if not isinstance(mapping, MappingDocument):
            raise MappingError(f"not a mapping document of this engine: {type(mapping).__name__}")
        return apply(mapping, shape, payload)
