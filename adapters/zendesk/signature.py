"""Zendesk webhook signing: base64(HMAC-SHA256(secret, timestamp + raw body)).

The timestamp (`X-Zendesk-Webhook-Signature-Timestamp`, ISO 8601) is part of the signed message,
and a delivery whose timestamp is further than the tolerance from `now`, in either direction, is
refused: a captured request cannot be replayed later.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime

from connector.errors import PayloadError, SignatureError
from connector.inbound import Headers, any_digest_matches, header, hmac_sha256, parse_time

VENDOR = "zendesk"
SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"


def signed_message(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode("utf-8") + body


def signature_of(*, body: bytes, secret: str, timestamp: str) -> str:
    """The signature header's value for `body` signed at `timestamp` (as the header carries it)."""
    return base64.b64encode(hmac_sha256(secret, signed_message(timestamp, body))).decode("ascii")


def sign(*, body: bytes, secret: str, now: datetime) -> dict[str, str]:
    """The two headers Zendesk sends: the signature and the time it was made."""
    timestamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {SIGNATURE_HEADER: signature_of(body=body, secret=secret, timestamp=timestamp), TIMESTAMP_HEADER: timestamp}


def verify(*, headers: Headers, body: bytes, secrets: Sequence[str], now: datetime, tolerance_seconds: float) -> None:
    """Raise SignatureError unless `body` is signed with one of `secrets` at a time close to `now`."""
    active = [s for s in secrets if s]
    if not active:
        raise SignatureError("no active webhook secret to verify against", vendor=VENDOR)
    signature = header(headers, SIGNATURE_HEADER)
    if not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header", vendor=VENDOR)
    timestamp = header(headers, TIMESTAMP_HEADER)
    if not timestamp:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header", vendor=VENDOR)
    try:
        signed_at = parse_time(timestamp, vendor=VENDOR, path=TIMESTAMP_HEADER)
    except PayloadError as exc:
        raise SignatureError(f"{TIMESTAMP_HEADER} header is not an ISO 8601 time", vendor=VENDOR) from exc
    try:
        provided = base64.b64decode(signature.strip(), validate=True)
    except ValueError as exc:  # binascii.Error, or text that is not ASCII (a header may carry any byte)
        raise SignatureError(f"{SIGNATURE_HEADER} header is not base64", vendor=VENDOR) from exc

    message = signed_message(timestamp, body)
    if not any_digest_matches([provided], [hmac_sha256(s, message) for s in active]):
        raise SignatureError("signature does not match any active secret", vendor=VENDOR)

    reference = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    skew = (reference - signed_at).total_seconds()
    if abs(skew) > tolerance_seconds:
        when = f"{skew:.0f} s ago" if skew > 0 else f"{-skew:.0f} s in the future"
        raise SignatureError(
            f"timestamp outside tolerance: signed {when} (tolerance {tolerance_seconds:g} s)", vendor=VENDOR
        )
