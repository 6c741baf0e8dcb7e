"""Who is asking: the admin or the viewer, by bearer token (the API) or by the admin pages' session
cookie, and whether they may change anything.

- `Authorization: Bearer $CONNECTOR_ADMIN_TOKEN` — the admin: reads and writes.
- `Authorization: Bearer $CONNECTOR_VIEWER_TOKEN` — the viewer: reads; every write is a 403.
- The session cookie the sign-in page sets (signed; HttpOnly, SameSite=Lax, Secure unless
  `CONNECTOR_ALLOW_INSECURE_COOKIES` allows plain-HTTP development) carries the role and a CSRF token;
  a write through it needs that token in `X-CSRF-Token` (or a form's `csrf_token` field). A session
  is tied to the token it signed in with: rotating the token signs everyone out.

Tokens are compared in constant time and never logged or stored; the session holds a digest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import Flask, Request, abort, current_app, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from connector.config import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ADMIN, VIEWER = "admin", "viewer"


@dataclass(frozen=True)
class Principal:
    name: str  # admin | viewer: what the audit log calls them
    can_write: bool
    via: str  # token | session


def configure(app: Flask, settings: Settings) -> None:
    """Sign the session cookie and set its flags."""
    key = settings.secret_key
    if not key and settings.admin_token:
        key = hmac.new(settings.admin_token.encode(), b"helpdesk-connector admin session", hashlib.sha256).hexdigest()
    app.secret_key = key or secrets.token_hex(32)  # no admin token: no one can sign in anyway
    app.session_interface = _AdminSessions()
    app.config.update(
        SESSION_COOKIE_NAME="connector_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.insecure_cookies,
        PERMANENT_SESSION_LIFETIME=12 * 3600,
    )


class _AdminSessions(SecureCookieSessionInterface):
    """The signed session cookie, for the admin pages and API only: a webhook never signs in, so its
    request neither reads nor verifies a cookie (a cost on every delivery, for nothing)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/webhooks/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def _digest(token: str) -> str:
    """What the session keeps of the token it signed in with: a keyed digest, never the token."""
    key = str(current_app.secret_key or "").encode()
    return hmac.new(key, b"connector-session:" + token.encode(), hashlib.sha256).hexdigest()[:32]


def role_of_token(settings: Settings, given: str) -> str | None:
    """The role a token signs in as (constant-time comparisons), or None."""
    value = given.strip().encode()
    if settings.admin_token and hmac.compare_digest(value, settings.admin_token.encode()):
        return ADMIN
    if settings.viewer_token and hmac.compare_digest(value, settings.viewer_token.encode()):
        return VIEWER
    return None


def sign_in(settings: Settings, role: str) -> None:
    token = settings.admin_token if role == ADMIN else settings.viewer_token
    assert token
    session.clear()
    session.permanent = True
    session["role"] = role
    session["token"] = _digest(token)
    session["csrf"] = secrets.token_urlsafe(32)


def sign_out() -> None:
    session.clear()


def from_session(settings: Settings) -> Principal | None:
    role = str(session.get("role") or "")
    token = settings.admin_token if role == ADMIN else settings.viewer_token if role == VIEWER else None
    if not token or not hmac.compare_digest(str(session.get("token", "")), _digest(token)):
        return None  # signed in with a token that has since changed (or none): signed out
    return Principal(role, role == ADMIN, "session")


def from_bearer(settings: Settings) -> Principal | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    role = role_of_token(settings, value)
    return None if role is None else Principal(role, role == ADMIN, "token")


def csrf_token() -> str:
    """The session's CSRF token (one for a visitor not signed in yet, for the sign-in form)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf() -> None:
    """A write through the session carries the session's CSRF token; else 403."""
    expected = str(session.get("csrf") or "")
    given = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(403, "missing or wrong CSRF token: reload the page and try again")


def require(settings: Settings, *, write: bool) -> Principal:
    """The principal of this request, or an abort: 401 with no valid credentials, 403 for a viewer's
    write or a session write without its CSRF token."""
    if not settings.admin_token:
        abort(401, "the admin API is disabled: set CONNECTOR_ADMIN_TOKEN")
    who = from_bearer(settings)
    if who is None and "Authorization" in request.headers:
        abort(401, "missing or wrong bearer token")
    if who is None:
        who = from_session(settings)
    if who is None:
        abort(401, "missing or wrong bearer token (or sign in at /admin/)")
    if write and not who.can_write:
        abort(403, "the viewer token reads; it cannot change anything")
    if write and who.via == "session":
        check_csrf()
    return who
