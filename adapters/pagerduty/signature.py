"""PagerDuty Webhooks v3 signatures.

`X-PagerDuty-Signature: v1=<hex HMAC-SHA256(secret, raw body)>`, one entry per signing secret of
the subscription, comma-separated while a secret is being rotated. A delivery is authentic when
any `v1` entry matches any of our active secrets. Entries of other versions are ignored, so a
future `v2` does not break us, but a header holding no `v1` entry is rejected. The scheme has no
timestamp: replays are caught by deduplication on the event id, not here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from connector.errors import SignatureError
from connector.inbound import Headers, any_digest_matches, header, hmac_sha256

VENDOR = "pagerduty"
SIGNATURE_HEADER = "X-PagerDuty-Signature"
VERSION = "v1"
#: PagerDuty sends one entry per subscription secret (two during a rotation). Far more than that
#: is not PagerDuty, and each entry costs a comparison per active secret.
MAX_ENTRIES = 16
_DIGEST_SIZE = hashlib.sha256().digest_size


def sign(*, body: bytes, secret: str, now: datetime) -> dict[str, str]:
    """The header PagerDuty sends for one signing secret: `v1=<hex digest>` (the scheme has no time)."""
    return {SIGNATURE_HEADER: f"{VERSION}={hmac_sha256(secret, body).hex()}"}


def verify(*, headers: Headers, body: bytes, secrets: Sequence[str], now: datetime) -> None:
    """Raise SignatureError unless `body` is signed with one of `secrets` (`now` is unused: no timestamp)."""
    active = [s for s in secrets if s]
    if not active:
        raise SignatureError("no active webhook secret is configured", vendor=VENDOR)
    raw = header(headers, SIGNATURE_HEADER)
    if raw is None or not raw.strip():
        raise SignatureError(f"missing {SIGNATURE_HEADER} header", vendor=VENDOR)
    candidates = _v1_digests(raw)
    expected = [hmac_sha256(secret, body) for secret in active]
    if not any_digest_matches(candidates, expected):
        raise SignatureError("signature does not match any active secret", vendor=VENDOR)


def _v1_digests(raw: str) -> list[bytes]:
    entries = [e.strip() for e in raw.split(",") if e.strip()]
    if len(entries) > MAX_ENTRIES:
        raise SignatureError(
            f"{SIGNATURE_HEADER} header holds {len(entries)} signatures (at most {MAX_ENTRIES} accepted)",
            vendor=VENDOR,
        )
    digests: list[bytes] = []
    for entry in entries:
        version, sep, value = entry.partition("=")
        if not sep or version.strip().lower() != VERSION:
            continue
        try:
            digest = bytes.fromhex(value.strip())
        except ValueError:
            continue  # not hex: cannot match; judged below with the rest
        if len(digest) == _DIGEST_SIZE:
            digests.append(digest)
    if not digests:
        raise SignatureError(f"{SIGNATURE_HEADER} header holds no well-formed {VERSION} signature", vendor=VENDOR)
    return digests
