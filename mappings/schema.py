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

from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.model import (
    TICKET_FIELDS,
    Channel,
    IssueField,
    JiraComments,
    Owner,
    Status,
    SyncRules,
    TicketChange,
)

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

    @cached_property
    def lookup(self) -> dict[str, Any]:
        """`map` with its keys as they are compared: stripped, lower case (made once per loaded rule)."""
        return {str(k).strip().lower(): v for k, v in (self.map or {}).items()}

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


ZendeskStatus = Literal["open", "pending", "hold", "solved"]


class TicketChangeRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ZendeskStatus | None = Field(default=None, description="The ticket's new status; none: unchanged.")
    note: bool = Field(default=True, description="Add an internal note saying what happened.")
    public_comment: str | None = Field(
        default=None, description="A public reply to the customer; {key} and {status} are filled in."
    )


class IssueFieldRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(default=None, alias="from", description="The canonical ticket field it is filled from.")
    map: dict[str, Any] | None = Field(default=None, description="Value map, keys compared case-insensitively.")
    value: Any = Field(default=None, description="A constant, or the value when the field is empty or unmapped.")

    @model_validator(mode="after")
    def _source(self) -> IssueFieldRule:
        if self.from_ is None and self.value is None:
            raise ValueError("an issue field needs 'from' (a canonical field) or a 'value'")
        if self.from_ is not None and self.from_ not in TICKET_FIELDS:
            raise ValueError(f"unknown canonical field {self.from_!r} (known: {', '.join(TICKET_FIELDS)})")
        return self


#: `sync` keys of each vendor's mapping (what the connector writes to that vendor)
SYNC_KEYS = {
    "zendesk": frozenset(
        {
            "jira_key_tag",
            "jira_key_field",
            "jira_comments",
            "pagerduty_notes",
            "when_issue_done",
            "when_incident_resolved",
            "status_owner",
        }
    ),
    "jira": frozenset({"customer_replies", "transition_when_solved", "issue_fields"}),
    "pagerduty": frozenset(),
}


class SyncSection(BaseModel):
    """The outbound direction (see `connector.model.sync`): how the connector writes to this vendor."""

    model_config = ConfigDict(extra="forbid")

    jira_key_tag: str | None = Field(
        default="jira_{key}", description="Tag added to a ticket when its Jira issue is made; {key}: ENG-12."
    )
    jira_key_field: int | None = Field(default=None, description="Custom field id that gets the Jira key.")
    jira_comments: Literal["internal", "public_when_shared", "off"] = Field(
        default="internal",
        description="Jira comments → internal notes; public_when_shared keeps JSM comments the customer sees public.",
    )
    pagerduty_notes: bool = Field(default=True, description="PagerDuty incident notes → internal notes.")
    when_issue_done: TicketChangeRule = Field(default_factory=lambda: TicketChangeRule(status="open"))
    when_incident_resolved: TicketChangeRule = Field(default_factory=TicketChangeRule)
    status_owner: Literal["last_writer", "zendesk", "jira"] = Field(
        default="last_writer",
        description="Whose status wins: the latest by event time, or always Zendesk's or Jira's (the other is noted).",
    )
    customer_replies: bool = Field(default=True, description="Public customer replies → comments on the Jira issue.")
    transition_when_solved: str | None = Field(
        default=None, description="The Jira transition (by name) a solved ticket's linked issue takes; none: left."
    )
    issue_fields: dict[str, IssueFieldRule] = Field(
        default_factory=dict, description="Jira field id → how a linked issue's field is filled."
    )

    @field_validator("jira_key_tag")
    @classmethod
    def _tag(cls, v: str | None) -> str | None:
        if v is not None and (not v.strip() or " " in v.strip()):
            raise ValueError("a Zendesk tag has no spaces")
        return v

    def rules(self) -> SyncRules:
        return SyncRules(
            jira_key_tag=self.jira_key_tag,
            jira_key_field=None if self.jira_key_field is None else str(self.jira_key_field),
            jira_comments=JiraComments(self.jira_comments),
            pagerduty_notes=self.pagerduty_notes,
            when_issue_done=TicketChange(**self.when_issue_done.model_dump()),
            when_incident_resolved=TicketChange(**self.when_incident_resolved.model_dump()),
            status_owner=Owner(self.status_owner),
            customer_replies=self.customer_replies,
            transition_when_solved=(self.transition_when_solved or "").strip() or None,
            issue_fields=tuple(
                IssueField(jira_field=k, source=r.from_, map=dict(r.map or {}), value=r.value)
                for k, r in self.issue_fields.items()
            ),
        )


class MappingDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendor: Literal["zendesk", "jira", "pagerduty"]
    description: str = ""
    shapes: dict[str, ShapeMapping]
    sync: SyncSection = Field(default_factory=SyncSection, description="How the connector writes to this vendor.")

    @model_validator(mode="after")
    def _sync_keys(self) -> MappingDocument:
        foreign = sorted(self.sync.model_fields_set - SYNC_KEYS[self.vendor])
        if foreign:
            owner = {k: v for v, keys in SYNC_KEYS.items() for k in keys}
            where = ", ".join(f"{k} (the {owner[k]} mapping's)" for k in foreign)
            raise ValueError(f"sync: {where} does not belong in a {self.vendor} mapping")
        return self

    def sync_rules(self) -> SyncRules:
        return self.sync.rules()

    def shape_names(self) -> list[str]:
        return list(self.shapes)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)
