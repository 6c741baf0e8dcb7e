"""Mutated fixture bodies for the fuzz test: every fixture of `tests/fixtures/<vendor>/`, changed one
place at a time, then signed correctly, so each reaches the connector as an authentic delivery.

Operators (each applied at a path of the payload, chosen deterministically per fixture):
- `delete`: remove the key (or list item);
- `null`: set it to null;
- `wrong_type`: a string becomes a number, a number or boolean a string, an object a list, a list an object;
- `long_string`: a 100,000-character string;
- `odd_unicode`: NUL, lone surrogates (written in JSON as \\u0000, \\ud800, \\udfff), right-to-left
  override, BOM, a noncharacter, an astral emoji, a combining mark;
- `huge_int`: a 5,000-digit integer (past Python's default 4,300-digit conversion limit);
- `deep_nesting`: 2,000 nested arrays;
plus, once per fixture, `long_event_type`: the vendor's event type set to a 150+ character name, and
once per vendor the whole body replaced (null, a string, a list, 2,000-deep nesting, a 5,000-digit integer).

Every mutated body is unique (a token goes into the delivery id and into any string it writes; the
delivery-id header carries it too), so each must be stored as a delivery of its own.
"""

from __future__ import annotations

import copy
import json
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.faults.traffic import Outgoing, signed_headers
from tests.fixture_harness import Case, cases

OPS = ("delete", "null", "wrong_type", "long_string", "odd_unicode", "huge_int", "deep_nesting")
ROOT_OPS = ("null", "wrong_type", "odd_unicode", "huge_int", "deep_nesting")
DEPTH = 2000
HUGE_DIGITS = 5000
LONG = 100_000
ODD = "\x00 nul \ud800 lone-high \udfff lone-low \u202e rtl \ufeff bom \uffff nonchar \U0001f600 e\u0301"
#: where each vendor names its event type
EVENT_TYPE_PATH: dict[str, tuple[str, ...]] = {
    "zendesk": ("type",),
    "jira": ("webhookEvent",),
    "pagerduty": ("event", "event_type"),
}
EVENT_TYPE_PREFIX = {"zendesk": "zen:event-type:ticket.", "jira": "jira:issue_", "pagerduty": "incident."}

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Mutation:
    case: str  # vendor/fixture
    vendor: str
    op: str
    path: str  # dotted, "" for the whole body
    token: str
    out: Outgoing

    def describe(self) -> str:
        return f"{self.case} {self.op} at {self.path or '<body>'}"


def paths(doc: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every key and list item of a JSON document, depth first."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield (*prefix, k)
            yield from paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield (*prefix, i)
            yield from paths(v, (*prefix, i))


def dotted(path: Path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))


class _Raw:
    """A value written into the JSON text as is (too deep or too long for json.dumps)."""

    def __init__(self, text: str, token: str):
        self.text = text
        self.placeholder = f"@@raw-{token}@@"


def _value(op: str, current: Any, token: str, n: int) -> Any:
    if op == "null":
        return None
    if op == "wrong_type":
        if isinstance(current, bool) or current is None:
            return f"{token}-not-a-{type(current).__name__}"
        if isinstance(current, str):
            return 10**9 + n
        if isinstance(current, int | float):
            return f"{token}-{current}"
        if isinstance(current, dict):
            return [token]
        if isinstance(current, list):
            return {"unexpected": token}
    if op == "long_string":
        return token + ("lorem ipsum " * (LONG // 12 + 1))[: LONG - len(token)]
    if op == "odd_unicode":
        return f"{token} {ODD}"
    if op == "huge_int":
        return _Raw("9" * HUGE_DIGITS, token)
    if op == "deep_nesting":
        return _Raw("[" * DEPTH + json.dumps(token) + "]" * DEPTH, token)
    raise ValueError(op)


def _encode(doc: Any, raws: list[_Raw]) -> bytes:
    text = json.dumps(doc, ensure_ascii=True)  # lone surrogates and NUL become \ud800 and \u0000 escapes
    for raw in raws:
        text = text.replace(json.dumps(raw.placeholder), raw.text, 1)
    return text.encode()


def _set(doc: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = value
    return doc


def _delete(doc: Any, path: Path) -> Any:
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    del parent[path[-1]]
    return doc


def _get(doc: Any, path: Path) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _unique_ids(vendor: str, doc: Any, token: str) -> Any:
    """Give the body a delivery id of its own (the fixture's would make every mutation a duplicate)."""
    if not isinstance(doc, dict):
        return doc
    if vendor == "zendesk" and isinstance(doc.get("id"), str):
        doc["id"] = f"{doc['id']}-{token}"
    event = doc.get("event")
    if vendor == "pagerduty" and isinstance(event, dict) and isinstance(event.get("id"), str):
        event["id"] = f"{event['id']}-{token}"
    return doc


class Mutator:
    """Builds the mutations of a run; tokens count up across the run so every body is distinct."""

    def __init__(self, per_op: int, *, ops_per_case: int | None = None, seed: int = 8):
        """`per_op` mutations per operator per fixture; with `ops_per_case`, only that many operators
        per fixture, taken in turn from fixture to fixture (the fast variant: every operator still
        meets every vendor)."""
        self.per_op, self.ops_per_case, self.seed = per_op, ops_per_case, seed
        self.cases_done = 0
        self.n = 0
        self.seen: set[bytes] = set()
        self.skipped_duplicates = 0

    def _token(self) -> str:
        self.n += 1
        return f"fz{self.n:06d}"

    def _make(self, case: str, vendor: str, base: Any, op: str, path: Path, headers: dict[str, str]) -> Mutation | None:
        token = self._token()
        doc = _unique_ids(vendor, copy.deepcopy(base), token)
        raws: list[_Raw] = []
        if op == "delete":
            doc = _delete(doc, path)
        elif op == "long_event_type":
            value = f"{EVENT_TYPE_PREFIX[vendor]}{token}-" + "x" * 140
            parent = doc
            for p in path[:-1]:
                if not isinstance(parent, dict):
                    return None
                parent = parent.setdefault(p, {})
            if not isinstance(parent, dict):
                return None
            parent[path[-1]] = value
        else:
            value = _value(op, _get(doc, path) if path else doc, token, self.n)
            if isinstance(value, _Raw):
                raws.append(value)
                value = value.placeholder
            doc = _set(doc, path, value)
        body = _encode(doc, raws)
        if body in self.seen:
            self.skipped_duplicates += 1
            return None
        self.seen.add(body)
        key = f"{vendor}-{token}"
        out = Outgoing(vendor, body, {**headers, **signed_headers(vendor, body, key)}, key, label=f"{case} {op}")
        return Mutation(case, vendor, op, dotted(path), token, out)

    def for_case(self, case: Case) -> list[Mutation]:
        """`per_op` mutations per operator at paths chosen by a generator seeded with the case's name,
        and the long event type."""
        base = case.payload()
        headers = case.headers()
        rng = random.Random(zlib.crc32(f"{self.seed}:{case}".encode()))
        all_paths = list(paths(base))
        out: list[Mutation] = []
        ops = OPS
        if self.ops_per_case is not None:
            k = self.ops_per_case
            ops = tuple(OPS[(self.cases_done * k + j) % len(OPS)] for j in range(k))
        self.cases_done += 1
        for op in ops:
            chosen = rng.sample(all_paths, min(self.per_op, len(all_paths)))
            for path in chosen:
                m = self._make(str(case), case.vendor, base, op, path, headers)
                if m is not None:
                    out.append(m)
        m = self._make(str(case), case.vendor, base, "long_event_type", EVENT_TYPE_PATH[case.vendor], headers)
        if m is not None:
            out.append(m)
        return out

    def whole_bodies(self, vendor: str) -> list[Mutation]:
        """The whole body replaced, once per vendor (from the vendor's first fixture)."""
        case = cases(vendor)[0]
        out = []
        for op in ROOT_OPS:
            m = self._make(f"{vendor}/<body>", vendor, case.payload(), op, (), {})
            if m is not None:
                out.append(m)
        return out

    def all(self) -> list[Mutation]:
        out: list[Mutation] = []
        for vendor in EVENT_TYPE_PATH:
            out += self.whole_bodies(vendor)
            for case in cases(vendor):
                out += self.for_case(case)
        return out
