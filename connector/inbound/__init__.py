"""The adapter contract: the `Adapter` protocol, handler tables, and the parsing and signing helpers
every adapter shares. `adapters/` imports only this, `connector.model` and `connector.errors`."""

from __future__ import annotations

from connector.inbound.contract import Adapter, Handler, HandlerTable, Headers, dispatch, ignored
from connector.inbound.parsing import checked, header, parse_time
from connector.inbound.signing import any_digest_matches, hmac_sha256

__all__ = [
    "Adapter",
    "Handler",
    "HandlerTable",
    "Headers",
    "any_digest_matches",
    "checked",
    "dispatch",
    "header",
    "hmac_sha256",
    "ignored",
    "parse_time",
]
