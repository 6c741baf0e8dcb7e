"""Jira admin-webhook signatures: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`.

The WebSub `method=signature` format. The signature covers the body only (no timestamp), so
replays are caught by deduplication on `x-atlassian-webhook-identifier`, not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from connector.errors import SignatureError
from connector.inbound import Headers, any_digest_matches, header, hmac_sha256

VENDOR = "jira"
SIGNATURE_HEADER = "X-Hub-Signature"
METHOD = "sha256"


def sign(*, body: bytes, secret: str, now: datetime) -> dict[str, str]:
    """The header Jira sends with a webhook that has a secret (the scheme has no time)."""
    return {SIGNATURE_HEADER: f"{METHOD}={hmac_sha256(secret, body).hex()}"}


def verify(*, headers: Headers, body: bytes, secrets: Sequence[str], now: datetime) -> None:
    """Raise SignatureError unless `body` is signed with one of `secrets` (several may be active;
    `now` is unused: the scheme has no timestamp)."""
    active = [s for s in secrets if s]
    if not active:
        raise SignatureError("no webhook secret is configured", vendor=VENDOR)
    raw = header(headers, SIGNATURE_HEADER)
    if raw is None or not raw.strip():
        raise SignatureError(f"missing {SIGNATURE_HEADER} header", vendor=VENDOR)
    method, sep, hexdigest = raw.strip().partition("=")
    if not sep:
        raise SignatureError(f"{SIGNATURE_HEADER} is not '<method>=<hex digest>'", vendor=VENDOR)
    if method.strip().lower() != METHOD:
        raise SignatureError(
            f"unsupported {SIGNATURE_HEADER} method {method.strip()[:16]!r} (expected {METHOD!r})", vendor=VENDOR
        )
    try:
        provided = bytes.fromhex(hexdigest.strip())
    except ValueError as exc:
        raise SignatureError(f"{SIGNATURE_HEADER} digest is not hexadecimal", vendor=VENDOR) from exc
    expected = [hmac_sha256(secret, body) for secret in active]
    if not any_digest_matches([provided], expected):
        raise SignatureError("signature does not match any active secret", vendor=VENDOR)
