"""Test 5: 1,000 forged requests across the three vendors — every one 401, not one row stored.

Forgeries: a wrong secret, another vendor's or another instance's secret, no signature header, an
empty one, garbled ones (truncated, one character changed, random, the wrong scheme, not base64 or
hex, the signature of an empty body, the right signature under another header name), tampered
bodies under a valid signature (a value changed, whitespace added, keys reordered, cut short), and
for Zendesk captured deliveries replayed 10 minutes later and a signature moved to a new timestamp.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from tests.faults.results import FaultResult
from tests.faults.traffic import Outgoing
from tests.fixture_harness import cases
from tests.helpers import ADAPTERS, SECRETS

TOTAL = 1000
SIG_HEADER = {"zendesk": "X-Zendesk-Webhook-Signature", "jira": "X-Hub-Signature", "pagerduty": "X-PagerDuty-Signature"}
TS_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
OTHER_SECRET = {"zendesk": SECRETS["jira"], "jira": SECRETS["pagerduty"], "pagerduty": SECRETS["zendesk"]}

Forge = Callable[[str, bytes], tuple[bytes, dict[str, str]]]


def _sign(vendor: str, body: bytes, secret: str | None = None, at: datetime | None = None) -> dict[str, str]:
    return ADAPTERS[vendor].sign(body=body, secret=secret or SECRETS[vendor], now=at or datetime.now(UTC))


def _flip(sig: str) -> str:
    """One character of the digest changed (a valid character of the same alphabet)."""
    i = len(sig) - 3  # a digest character in hex and in base64 (past any "=" padding)
    return sig[:i] + ("0" if sig[i] != "0" else "1") + sig[i + 1 :]


def _digest_part(vendor: str, value: str) -> tuple[str, str]:
    return ("", value) if vendor == "zendesk" else (value.split("=", 1)[0] + "=", value.split("=", 1)[1])


def _garble(vendor: str, body: bytes, how: str) -> tuple[bytes, dict[str, str]]:
    headers = _sign(vendor, body)
    name = SIG_HEADER[vendor]
    prefix, digest = _digest_part(vendor, headers[name])
    if how == "truncated":
        headers[name] = prefix + digest[:-6]
    elif how == "one_char":
        headers[name] = prefix + _flip(digest)
    elif how == "random":
        junk = bytes(range(32))
        headers[name] = prefix + (base64.b64encode(junk).decode() if vendor == "zendesk" else junk.hex())
    elif how == "wrong_scheme":
        headers[name] = {
            "zendesk": bytes.fromhex("ab" * 32).hex(),
            "jira": "sha1=" + digest,
            "pagerduty": "v0=" + digest,
        }[vendor]
    elif how == "not_encoded":
        headers[name] = prefix + "§§ not a digest ¶¶"
    elif how == "empty_body_signature":
        headers[name] = _sign(vendor, b"")[name]
    elif how == "other_header_name":
        headers[name.replace("Signature", "Signature-256")] = headers.pop(name)
    return body, headers


def _tamper(vendor: str, body: bytes, how: str) -> tuple[bytes, dict[str, str]]:
    headers = _sign(vendor, body)
    if how == "value_changed":
        doc = json.loads(body)
        doc["forged"] = True
        return json.dumps(doc).encode(), headers
    if how == "whitespace":
        return body + b" ", headers
    if how == "reordered":
        return json.dumps(json.loads(body), sort_keys=True, indent=1).encode(), headers
    if how == "cut_short":
        return body[: len(body) // 2], headers
    raise ValueError(how)


def _missing(vendor: str, body: bytes, which: str) -> tuple[bytes, dict[str, str]]:
    headers = _sign(vendor, body)
    if which == "signature":
        headers.pop(SIG_HEADER[vendor])
    elif which == "timestamp":
        headers.pop(TS_HEADER)
    elif which == "all":
        headers = {}
    elif which == "empty":
        headers[SIG_HEADER[vendor]] = ""
    return body, headers


FORGERIES: dict[str, Forge] = {
    "wrong_secret": lambda v, b: (b, _sign(v, b, "forged-secret")),
    "other_vendor_secret": lambda v, b: (b, _sign(v, b, OTHER_SECRET[v])),
    "other_instance_secret": lambda v, b: (b, _sign(v, b, "zd-eu-secret")),
    "no_signature_headers": lambda v, b: _missing(v, b, "all"),
    "no_signature": lambda v, b: _missing(v, b, "signature"),
    "empty_signature": lambda v, b: _missing(v, b, "empty"),
    **{
        f"garbled_{h}": partial(_garble, how=h)
        for h in (
            "truncated",
            "one_char",
            "random",
            "wrong_scheme",
            "not_encoded",
            "empty_body_signature",
            "other_header_name",
        )
    },
    **{f"tampered_{h}": partial(_tamper, how=h) for h in ("value_changed", "whitespace", "reordered", "cut_short")},
}
ZENDESK_ONLY: dict[str, Forge] = {
    "replayed_10_minutes_later": lambda v, b: (b, _sign(v, b, at=datetime.now(UTC) - timedelta(minutes=10))),
    "replayed_tampered": lambda v, b: (b + b"\n", _sign(v, b, at=datetime.now(UTC) - timedelta(minutes=10))),
    "signed_in_the_future": lambda v, b: (b, _sign(v, b, at=datetime.now(UTC) + timedelta(minutes=10))),
    "timestamp_moved": lambda v, b: (
        b,
        _sign(v, b, at=datetime.now(UTC) - timedelta(seconds=30))
        | {TS_HEADER: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
    ),
    "no_timestamp": lambda v, b: _missing(v, b, "timestamp"),
}


def forged(total: int = TOTAL) -> list[tuple[str, Outgoing]]:
    """`total` forged requests, a third per vendor, cycling forgeries and the vendor's valid fixtures."""
    per_vendor = {"zendesk": total - 2 * (total // 3), "jira": total // 3, "pagerduty": total // 3}
    out: list[tuple[str, Outgoing]] = []
    n = itertools.count()
    for vendor, count in per_vendor.items():
        bases = [c for c in cases(vendor) if not c.name.startswith("invalid")]
        kinds = list(FORGERIES.items()) + (list(ZENDESK_ONLY.items()) if vendor == "zendesk" else [])
        for i in range(count):
            kind, forge = kinds[i % len(kinds)]
            case = bases[(i // len(kinds)) % len(bases)]
            doc = copy.deepcopy(case.payload())
            if isinstance(doc, dict):
                doc["forged_seq"] = next(n)  # every body distinct
            body, headers = forge(vendor, json.dumps(doc).encode())
            kept = {k: v for k, v in case.headers().items() if k not in (SIG_HEADER[vendor], TS_HEADER)}
            headers = {"Content-Type": "application/json", **kept, **headers}
            headers.setdefault("X-Atlassian-Webhook-Identifier" if vendor == "jira" else "X-Webhook-Id", f"forged-{i}")
            out.append((kind, Outgoing(vendor, body, headers, key=f"forged-{vendor}-{i}", label=f"{vendor} {kind}")))
    return out


@pytest.mark.faults
@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", [pytest.param("inprocess-sqlite", marks=pytest.mark.faults_ci), "gunicorn-postgres"])
def test_forged_requests_are_all_401_and_store_nothing(kind, make_target, fault_result: FaultResult):
    target = make_target(kind)
    requests = forged()
    fault_result.title = "Forged requests: all 401, nothing stored"
    fault_result.scenario = (
        f"{len(requests)} forged requests ({len(FORGERIES)} forgeries for every vendor, {len(ZENDESK_ONLY)} more "
        f"for Zendesk's timestamp) against {target.name}."
    )
    answers: Counter[tuple[str, str, int]] = Counter()
    for forgery, out in requests:
        answers[(out.vendor, forgery, target.post(out).status)] += 1
    rows = target.ledger.count()
    wrong = {f"{v}/{f} → {s}": n for (v, f, s), n in sorted(answers.items()) if s != 401}
    errors = target.errors()
    fault_result.figures = {
        "requests": len(requests),
        "by_vendor": dict(Counter(out.vendor for _, out in requests)),
        "forgeries": len(FORGERIES) + len(ZENDESK_ONLY),
        "answers": dict(Counter(str(s) for (_, _, s) in answers.elements())),
        "not_401": wrong,
        "rows_stored": rows,
        "app_errors": errors,
    }
    fault_result.check(
        "every forged request answered 401",
        len(requests),
        len(requests) - sum(wrong.values()),
        f"{wrong}; the app logged: {errors}",
    )
    fault_result.check(
        "no row stored for a forged request",
        len(requests),
        len(requests) - min(rows, len(requests)),
        f"{rows} rows stored",
    )
    fault_result.verify()
