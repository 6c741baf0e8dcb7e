"""HMAC helpers the adapters' signature schemes share. Comparisons are constant-time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


def hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def any_digest_matches(candidates: Sequence[bytes], expected: Sequence[bytes]) -> bool:
    """Constant-time comparison of every candidate against every expected digest.

    Every pair is compared (no early exit), so timing reveals neither which secret nor which
    signature matched.
    """
    matched = False
    for cand in candidates:
        for exp in expected:
            matched |= hmac.compare_digest(cand, exp)
    return matched
