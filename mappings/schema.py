"""The field-mapping document: what an admin edits, validated by pydantic.

A document maps, per payload *shape* an adapter declares (Zendesk `event` and `trigger`, Jira
`issue` and `comment`, PagerDuty `incident` and `incident_note`), canonical ticket fields to
ordered rules. The first rule that applies and yields a value wins; a field no rule fills is left
as the ticket has it.

    vendor: zendesk
    shapes:
      event:
        fields:
          severity:
            - path: detail.priority
              map: {urgent: P0, high: P1, normal: P2, low: P3}
          customer_tier:
            - path: event.current
              when: {type: zen:event-type:ticket.custom_field_changed, event.custom_field.id: "360001"}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.model import TICKET_FIELDS, Channel, Status

Transform = Literal["string", "lower", "upper", "int", "float", "list", "split", "bool"]


class FieldRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str | list[str] | None = Field(
        default=None, description="Dotted path into the payload; a list tries each in order."
    )
    value: Any = Field(default=None, description="A constant, used instead of a path.")
    when: dict[str, Any] = Field(
        default_factory=dict,
        description="Apply only if every path equals its value (case-insensitive for strings); "
        "a list value matches any of its items.",
    )
    transform: Transform | None = None
    map: dict[str, Any] | None = Field(
        default=None, description="Value map, keys compared case-insensitively; '*' catches the rest."
    )
    default: Any = Field(default=None, description="Used when the path is absent, empty or unmapped.")
    clear_on_null: bool = Field(
        default=False,
        description="An explicit null in the payload (e.g. an unassigned ticket's assignee) clears the field; "
        "otherwise null means 'no information' and the ticket keeps its value.",
    )

    @model_validator(mode="after")
    def _source(self) -> FieldRule:
        if self.path is None and self.value is None:
            raise ValueError("a rule needs a 'path' or a 'value'")
        return self

    @field_validator("path")
    @classmethod
    def _paths(cls, v: str | list[str] | None) -> str | list[str] | None:
        for p in [v] if isinstance(v, str) else (v or []):
            if not p or p.startswith(".") or p.endswith(".") or ".." in p:
                raise ValueError(f"malformed path {p!r}")
        return v


class ShapeMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    fields: dict[str, list[FieldRule]] = Field(default_factory=dict)

    @field_validator("fields", mode="before")
    @classmethod
    def _one_rule_is_a_list(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: ([r] if isinstance(r, dict) else r) for k, r in v.items()}
        return v

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, v: dict[str, list[FieldRule]]) -> dict[str, list[FieldRule]]:
        for name, rules in v.items():
            if name not in TICKET_FIELDS:
                raise ValueError(f"unknown canonical field {name!r} (known: {', '.join(TICKET_FIELDS)})")
            enum = {"status": Status, "channel": Channel}.get(name)
            if enum is None:
                continue
            allowed = {m.value for m in enum}
            for i, rule in enumerate(rules):
                targets = list((rule.map or {}).values()) + [rule.default, rule.value]
                for t in targets:
                    if t is not None and str(t) not in allowed:
                        raise ValueError(f"{name}[{i}]: {t!r} is not a {name} (one of {', '.join(sorted(allowed))})")
        return v


class MappingDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendor: Literal["zendesk", "jira", "pagerduty"]
    description: str = ""
    shapes: dict[str, ShapeMapping]

    def shape_names(self) -> list[str]:
        return list(self.shapes)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)
