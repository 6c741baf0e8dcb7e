"""The escalation engine: the policy's triggers over one ticket's signals → decisions. Pure: no I/O.

The same function answers live processing (`escalation.live`), `connector simulate` and the tests:
it is given the ticket's state, one signal and the keys of what already fired, and returns the
ticket's new state and the decisions taken, in order. Each decision is one action of one trigger for
one occurrence; its key (trigger, occurrence, action index) is what makes it happen at most once.

Rules (README "Escalation" documents them):
- Triggers are tried in the policy's order; a trigger's actions run in their order, each seeing what
  the ones before it changed (a `raise_level` to L3, then a `page` of L3's on-call).
- Occurrences: a `ticket`, `keywords` or `users_affected` trigger fires once per ticket; a `warning`
  or `breach` trigger once per SLA fire (clock cycle and point); `csat_below` once per rating;
  `repeat_issue` once per cluster of the customer's tickets; `followup_overdue` once per follow-up.
- Intake: a ticket opened without any category gets the first whose keywords its subject or description
  mentions (`escalation.auto_categorize`); a category with an `initial_owner` routes the ticket there.
- Levels only go up: `raise_level` to a level at or below the current one changes nothing (recorded
  as skipped, with the reason). Without `to`, it takes the next level on the current level's
  escalation path. `reassign` without `to` takes the next owner on the ticket's escalation path (its
  category's, else its level's); an owner that works at a higher level raises the level with it.
- Pages follow the ticket: a target with an open page is not paged again; resolving the ticket
  resolves its pages (`paging.resolve_with_ticket`), and an agent's first response acknowledges them
  when `paging.acknowledge_on_first_response` says so.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from connector.escalation.signals import (
    ActionKind,
    Changed,
    Decision,
    FollowupMissed,
    Key,
    Opened,
    Outcome,
    RepeatSeen,
    Signal,
    SlaFired,
    TextAdded,
)
from connector.escalation.state import TicketState, escalation_path, owner_of, path_position
from connector.model import TERMINAL
from connector.policy import (
    Action,
    BreachTrigger,
    CreateLinkedIssue,
    CsatTrigger,
    FollowupOverdueTrigger,
    KeywordsTrigger,
    Notify,
    OwnerGroup,
    Page,
    Policy,
    RaiseLevel,
    Reassign,
    RepeatIssueTrigger,
    RequirePostmortem,
    SupportLevel,
    TicketTrigger,
    UsersAffectedTrigger,
    WarningTrigger,
    format_duration,
)
from connector.policy.scales import phrase_pattern
from connector.sla.events import FireKind

_RESOLVED = frozenset(s.value for s in TERMINAL)
#: ticket fields whose change re-evaluates `ticket` triggers
SELECTOR_FIELDS = frozenset({"severity", "customer_tier", "category", "support_level"})
INTAKE = "intake"
LIFECYCLE = "lifecycle"


def reacts_to(policy: Policy, signal: Signal) -> bool:
    """Could `signal` cause a decision under `policy`, whatever the ticket's state? False only for an SLA
    fire that no warning or breach trigger takes (by its kind and metric) and that acknowledges no
    page: `decide` then returns no decision and the state unchanged, so the caller need not read the
    ticket. At Monday's opening most fires are warnings and breaches no trigger names."""
    if not isinstance(signal, SlaFired):
        return True
    return _acknowledges(policy, signal) or next(_sla_triggers(policy, signal), None) is not None


def decide(
    policy: Policy, state: TicketState, signal: Signal, *, done: Collection[Key] = ()
) -> tuple[TicketState, list[Decision]]:
    """The decisions `signal` causes for a ticket in `state`, and its state after them. `done` holds the
    keys of decisions already taken (never taken again)."""
    run = _Run(policy, state, set(done))
    run.handle(signal)
    return run.state, run.decisions


@dataclass
class _Run:
    policy: Policy
    state: TicketState
    done: set[Key]
    decisions: list[Decision] = field(default_factory=list)
    _depth: int = 0

    # ---- signals ------------------------------------------------------------------------------

    def handle(self, signal: Signal) -> None:
        match signal:
            case Opened(at=at):
                self._intake(at)
                self._ticket_triggers(at)
                self._users_affected(at)
                self._csat(at)
            case Changed(at=at, fields=fields):
                self._changed(at, fields)
            case TextAdded():
                self._keywords(signal)
            case SlaFired():
                self._sla(signal)
            case RepeatSeen():
                self._repeat(signal)
            case FollowupMissed():
                self._followup(signal)

    def _changed(self, at: datetime, fields: Collection[str]) -> None:
        if "status" in fields and self.state.status in _RESOLVED:
            self._resolve_pages(at)
        if "category" in fields:
            self._route(at)
        if SELECTOR_FIELDS & set(fields):
            self._ticket_triggers(at)
        if "impact_users" in fields or "linked_users" in fields:
            self._users_affected(at)
        if "csat" in fields:
            self._csat(at)

    # ---- intake -------------------------------------------------------------------------------

    def _intake(self, at: datetime) -> None:
        # Only a ticket that came with no category at all: one whose tool gave a value the policy does not
        # know keeps it (writing ours would flip-flop with every later event of that tool).
        if not self.state.category_given and self.policy.escalation.auto_categorize:
            text = f"{self.state.subject}\n{self.state.description}"
            for category in self.policy.categories:
                if category.keywords and _mentions(category.keywords, text):
                    self._record(
                        _Fired(at, INTAKE, "intake", "category"),
                        0,
                        ActionKind.CATEGORIZE,
                        category.id,
                        f"its text mentions {_first_match(category.keywords, text)!r}, a keyword of {category.name}",
                        changes={"category": (None, category.id)},
                    )
                    break
        self._route(at)

    def _route(self, at: datetime) -> None:
        """A category with an initial owner routes the ticket there (its routing table), unless the
        ticket already climbed above that owner's level."""
        category = next((c for c in self.policy.categories if c.id == self.state.category), None)
        if category is None or category.initial_owner is None or self.state.owner == category.initial_owner:
            return
        level = self._level_of(category.initial_owner)
        if level is not None and self.policy.level_rank(level) < self.policy.level_rank(self.state.level):
            return
        self._owner_to(
            _Fired(at, INTAKE, f"route:{category.id}", "route"),
            0,
            ActionKind.ROUTE,
            category.initial_owner,
            f"the initial owner of category {category.name}",
        )

    # ---- triggers -----------------------------------------------------------------------------

    def _ticket_triggers(self, at: datetime) -> None:
        if self._depth > 8:  # a policy whose triggers keep re-triggering each other: stop
            return
        self._depth += 1
        try:
            for t in self.policy.triggers:
                if isinstance(t, TicketTrigger) and self._matches(t):
                    self._fire(t, _Fired(at, t.id, "ticket", "ticket"), self._filters(t))
        finally:
            self._depth -= 1

    def _users_affected(self, at: datetime) -> None:
        """Users affected: the impact the ticket reports, or the requesters of the incidents linked to
        it as their problem, whichever is more."""
        reported, linked = self.state.impact_users, self.state.linked_users
        known = [n for n in (reported, linked) if n is not None]
        if not known:
            return
        users = max(known)
        why = (
            f"{users} users affected"
            if reported is not None and reported >= (linked or 0)
            else f"{users} users affected (requesters of the incidents linked to this problem)"
        )
        for t in self._of(UsersAffectedTrigger):
            if users >= t.at_least:
                self._fire(t, _Fired(at, t.id, "users_affected", "users"), f"{why} (≥ {t.at_least})")

    def _csat(self, at: datetime) -> None:
        rating = self.state.csat
        for t in self._of(CsatTrigger):
            if rating is not None and rating < t.threshold:
                self._fire(
                    t,
                    _Fired(at, t.id, "csat_below", f"csat@{at.isoformat()}"),
                    f"CSAT {rating:g}/{t.scale:g} is below {t.threshold:g}",
                )

    def _keywords(self, signal: TextAdded) -> None:
        for t in self._of(KeywordsTrigger):
            if signal.source in t.in_ and t.matches(signal.text):
                found = _first_match(t.keywords, signal.text)
                where = signal.source.replace("_", " ").removesuffix("s")
                self._fire(t, _Fired(signal.at, t.id, "keywords", "keywords"), f"the {where} mentions {found!r}")

    def _sla(self, signal: SlaFired) -> None:
        if _acknowledges(self.policy, signal):
            self._acknowledge_pages(signal.at)
        for t, why in _sla_triggers(self.policy, signal):
            if self._matches(t):
                self._fire(t, _Fired(signal.at, t.id, t.event, f"{signal.metric}#{signal.cycle}/{signal.label}"), why)

    def _repeat(self, signal: RepeatSeen) -> None:
        for t in self._of(RepeatIssueTrigger):
            if t.id == signal.trigger_id:
                self._fire(
                    t,
                    _Fired(signal.at, t.id, "repeat_issue", f"repeat:{signal.cluster}"),
                    f"{signal.tickets} tickets from {signal.customer} about {signal.category} "
                    f"within {format_duration(signal.window)}",
                )

    def _followup(self, signal: FollowupMissed) -> None:
        for t in self._of(FollowupOverdueTrigger):
            if t.followup not in (None, signal.kind) or t.target not in (None, signal.target):
                continue
            what = "post-mortem" if signal.kind == "postmortem" else f"follow-up for {signal.target}"
            self._fire(
                t,
                _Fired(signal.at, t.id, "followup_overdue", f"followup:{signal.key}"),
                f"the {what} was due {signal.due_at.isoformat()} and is not done",
            )

    # ---- matching -----------------------------------------------------------------------------

    def _of(self, kind: type[Any]) -> Iterator[Any]:
        return (t for t in self.policy.triggers if isinstance(t, kind) and self._matches(t))

    def _matches(self, t: Any) -> bool:
        s = self.state
        return (
            (t.severity is None or (s.severity or self.policy.severity.default) in t.severity)
            and (t.tier is None or s.tier in t.tier)
            and (t.category is None or s.category in t.category)
            and (t.level is None or s.level in t.level)
        )

    def _filters(self, t: Any) -> str:
        s = self.state
        said = [
            f"{name} {value}"
            for name, wanted, value in (
                ("severity", t.severity, s.severity or self.policy.severity.default),
                ("tier", t.tier, s.tier),
                ("category", t.category, s.category),
                ("level", t.level, s.level),
            )
            if wanted is not None
        ]
        return "the ticket matches " + (", ".join(said) if said else "every ticket")

    # ---- actions ------------------------------------------------------------------------------

    def _fire(self, trigger: Any, fired: _Fired, reason: str) -> None:
        for i, action in enumerate(trigger.actions):
            self._act(fired, i, action, reason)

    def _act(self, fired: _Fired, index: int, action: Action, reason: str) -> None:
        match action:
            case RaiseLevel(to=to):
                self._raise(fired, index, to, reason)
            case Reassign(to=to):
                target = to or self._next_owner()
                if target is None:
                    self._record(
                        fired, index, ActionKind.REASSIGN, None, reason, skipped="the end of its escalation path"
                    )
                else:
                    self._owner_to(fired, index, ActionKind.REASSIGN, target, reason)
            case Page(target=target, urgency=urgency):
                if target in self.state.pages:
                    self._record(fired, index, ActionKind.PAGE, target, reason, skipped=f"{target} has an open page")
                elif self._record(fired, index, ActionKind.PAGE, target, reason, params={"urgency": urgency}):
                    self.state = replace(self.state, pages=(*self.state.pages, target))
            case Notify(target=target, within=within, message=message):
                self._record(
                    fired, index, ActionKind.NOTIFY, target, reason, within=within, params={"message": message}
                )
            case CreateLinkedIssue(vendor=vendor, issue_type=issue_type, project=project):
                params = {"vendor": vendor, "issue_type": issue_type, "project": project}
                self._record(fired, index, ActionKind.CREATE_LINKED_ISSUE, vendor, reason, params=params)
            case RequirePostmortem(within=within):
                self._record(
                    fired,
                    index,
                    ActionKind.REQUIRE_POSTMORTEM,
                    None,
                    reason,
                    within=within or self.policy.escalation.postmortem_within,
                )

    def _raise(self, fired: _Fired, index: int, to: str | None, reason: str) -> None:
        current = self.state.level
        target = to or self._next_level()
        if target is None:
            self._record(fired, index, ActionKind.RAISE_LEVEL, None, reason, skipped=f"no level above {current}")
            return
        if self.policy.level_rank(target) <= self.policy.level_rank(current):
            self._record(fired, index, ActionKind.RAISE_LEVEL, target, reason, skipped=f"already at {current}")
            return
        changes = {"support_level": (current, target)}
        if self.state.owner != target:
            changes["owner"] = (self.state.owner, target)
        self._record(fired, index, ActionKind.RAISE_LEVEL, target, reason, changes=changes)

    def _owner_to(self, fired: _Fired, index: int, kind: ActionKind, owner: str, reason: str) -> None:
        if self.state.owner == owner:
            self._record(fired, index, kind, owner, reason, skipped=f"already with {owner}")
            return
        changes: dict[str, tuple[str | None, str | None]] = {"owner": (self.state.owner, owner)}
        level = self._level_of(owner)
        if level is not None and self.policy.level_rank(level) > self.policy.level_rank(self.state.level):
            changes["support_level"] = (self.state.level, level)
        self._record(fired, index, kind, owner, reason, changes=changes)

    def _next_level(self) -> str | None:
        current = self.policy.level_rank(self.state.level)
        level = owner_of(self.policy, self.state.level)
        path = level.escalation_path if isinstance(level, SupportLevel) else []
        for step in path:
            if self.policy.level_rank(step) > current:
                return step
        higher = [lv.id for lv in self.policy.support_levels[current + 1 :]]
        return higher[0] if higher else None

    def _next_owner(self) -> str | None:
        path = escalation_path(self.policy, self.state)
        position = path_position(self.policy, self.state)
        rest = path if position is None else path[position + 1 :]
        return rest[0] if rest else None

    def _level_of(self, owner_id: str | None) -> str | None:
        owner = owner_of(self.policy, owner_id)
        if isinstance(owner, SupportLevel):
            return owner.id
        if isinstance(owner, OwnerGroup):
            return owner.level
        return None

    # ---- the page lifecycle -------------------------------------------------------------------

    def _resolve_pages(self, at: datetime) -> None:
        if not self.policy.paging.resolve_with_ticket:
            return
        fired = _Fired(at, LIFECYCLE, "resolved", f"resolved@{at.isoformat()}")
        for i, target in enumerate(self.state.pages):
            self._record(fired, i, ActionKind.PAGE_RESOLVE, target, f"the ticket is {self.state.status}")
        self.state = replace(self.state, pages=(), acknowledged=())

    def _acknowledge_pages(self, at: datetime) -> None:
        if not self.policy.paging.acknowledge_on_first_response:
            return
        fired = _Fired(at, LIFECYCLE, "first_response", f"first_response@{at.isoformat()}")
        for i, target in enumerate(self.state.pages):
            if target not in self.state.acknowledged:
                self._record(fired, i, ActionKind.PAGE_ACKNOWLEDGE, target, "an agent's first response")
        self.state = replace(self.state, acknowledged=self.state.pages)

    # ---- recording ----------------------------------------------------------------------------

    def _record(
        self,
        fired: _Fired,
        index: int,
        action: ActionKind,
        target: str | None,
        reason: str,
        *,
        changes: Mapping[str, tuple[str | None, str | None]] | None = None,
        within: timedelta | None = None,
        params: Mapping[str, Any] | None = None,
        skipped: str | None = None,
    ) -> bool:
        """Take one decision unless its key is done; apply its changes to the state. True if taken."""
        key: Key = (fired.trigger_id, fired.occurrence, index)
        if key in self.done:
            return False
        self.done.add(key)
        outcome = Outcome.SKIPPED if skipped else _OUTCOME[action]
        decision = Decision(
            at=fired.at,
            trigger_id=fired.trigger_id,
            event=fired.event,
            occurrence=fired.occurrence,
            action_index=index,
            action=action,
            target=target,
            outcome=outcome,
            reason=reason if not skipped else f"{reason}; not done: {skipped}",
            changes=dict(changes or {}),
            within=within,
            params={k: v for k, v in (params or {}).items() if v not in (None, "")},
        )
        self.decisions.append(decision)
        if decision.changes:
            self._apply(decision)
        return not skipped

    def _apply(self, decision: Decision) -> None:
        updates: dict[str, Any] = {}
        for name, (_old, new) in decision.changes.items():
            updates[{"support_level": "level"}.get(name, name)] = new
        if "category" in updates:
            updates["category_given"] = True
        self.state = replace(self.state, **updates)
        if "category" in decision.changes:
            self._route(decision.at)
        if {"support_level", "category"} & set(decision.changes):
            self._ticket_triggers(decision.at)


@dataclass(frozen=True)
class _Fired:
    """One firing of a trigger (or an intake or lifecycle rule): what its decisions share."""

    at: datetime
    trigger_id: str
    event: str
    occurrence: str


_OUTCOME = {
    ActionKind.RAISE_LEVEL: Outcome.APPLIED,
    ActionKind.REASSIGN: Outcome.APPLIED,
    ActionKind.CATEGORIZE: Outcome.APPLIED,
    ActionKind.ROUTE: Outcome.APPLIED,
    ActionKind.PAGE: Outcome.QUEUED,
    ActionKind.PAGE_ACKNOWLEDGE: Outcome.QUEUED,
    ActionKind.PAGE_RESOLVE: Outcome.QUEUED,
    ActionKind.NOTIFY: Outcome.QUEUED,
    ActionKind.CREATE_LINKED_ISSUE: Outcome.QUEUED,
    ActionKind.REQUIRE_POSTMORTEM: Outcome.OWED,
}


def _acknowledges(policy: Policy, signal: SlaFired) -> bool:
    """An agent's first response (the clock met) acknowledges the ticket's pages, if the policy says so."""
    return (
        signal.kind is FireKind.MET
        and signal.metric == "first_response"
        and policy.paging.acknowledge_on_first_response
    )


def _sla_triggers(policy: Policy, signal: SlaFired) -> Iterator[tuple[WarningTrigger | BreachTrigger, str]]:
    """The warning and breach triggers that take this fire by its kind and metric (the ticket's
    severity, tier, category and level are matched after), each with the reason it gives."""
    for t in policy.triggers:
        if isinstance(t, WarningTrigger) and signal.kind is FireKind.WARNING:
            why = f"{signal.metric} warning: {signal.label}"
        elif isinstance(t, BreachTrigger) and _breach_matches(t, signal):
            why = _breach_reason(t, signal)
        else:
            continue
        if t.metric in (None, signal.metric):
            yield t, why


def _breach_matches(t: BreachTrigger, signal: SlaFired) -> bool:
    if t.breach == "maximum":
        return signal.kind is FireKind.MAXIMUM_BREACH
    if t.after:
        return signal.kind is FireKind.OVERDUE and signal.label == f"breach + {format_duration(t.after)}"
    return signal.kind is FireKind.BREACH


def _breach_reason(t: BreachTrigger, signal: SlaFired) -> str:
    if t.breach == "maximum":
        return f"{signal.metric} passed its maximum"
    if t.after:
        return f"{signal.metric} still not met {format_duration(t.after)} after its breach"
    return f"{signal.metric} breached"


def _mentions(keywords: list[str], text: str) -> bool:
    return _first_match(keywords, text) is not None


def _first_match(keywords: list[str], text: str) -> str | None:
    for word in keywords:
        if phrase_pattern([word]).search(text):
            return word
    return None
