"""The Flask app factory: receivers, admin API, health and metrics. No business logic here.

A composition root: with no runtime handed in it builds one from the environment
(`connector.wiring`), migrating an embedded SQLite database itself and otherwise refusing to start
on a schema that `connector db upgrade` has not brought up to date.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from connector import metrics
from connector.config import Settings
from connector.inbox.sink import RETRY_AFTER_SECONDS
from connector.logs import configure_logging, safe_traceback, where
from connector.runtime import Runtime, install, settle_heap
from connector.wiring import build_runtime, start_embedded
from webhooks import auth
from webhooks.admin import admin
from webhooks.api import api
from webhooks.api_actions import ROUTES as _ACTION_ROUTES  # noqa: F401  (adds its routes to `api`)
from webhooks.api_documents import ROUTES as _DOCUMENT_ROUTES  # noqa: F401  (adds its routes to `api`)
from webhooks.health import health
from webhooks.openapi import openapi
from webhooks.receivers import DirectWebhooks, receivers

log = logging.getLogger(__name__)


def create_app(rt: Runtime | None = None, *, start_worker: bool | None = None) -> Flask:
    """Build the app. Embedded mode (no REDIS_URL) also runs the queue worker in this process
    unless `start_worker=False` (tests drive the worker themselves)."""
    started_here = rt is None
    if rt is None:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        rt = build_runtime(settings)
        if rt.db.is_sqlite and settings.embedded:  # the embedded default needs no `connector db upgrade`
            rt.db.upgrade()
        else:
            rt.db.require_current()
    install(rt)
    if start_worker is None:
        start_worker = rt.settings.embedded
    if start_worker:
        start_embedded(rt)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = rt.settings.max_body_bytes
    app.extensions["connector"] = rt
    app.register_blueprint(receivers)
    app.register_blueprint(api)
    app.register_blueprint(health)
    app.register_blueprint(admin)
    app.register_blueprint(openapi)
    auth.configure(app, rt.settings)
    max_body = rt.settings.max_body_bytes

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> tuple[Response, int]:
        vendor = (request.view_args or {}).get("vendor", "unknown")
        metrics.DELIVERIES.labels(vendor, "too_large").inc()
        return jsonify(error="payload_too_large", message=f"body exceeds the {max_body} byte limit"), 413

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        return jsonify(error=(exc.name or "error").lower().replace(" ", "_"), message=exc.description), exc.code or 500

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception) -> Response | tuple[Response, int]:
        """The last resort: a failure no view turned into an answer is ours, never a bare 500. Logged
        once, with the method, the path and the stack — not the body, nor the exception's message
        (either may quote a payload value), whatever formatter the logs use."""
        if isinstance(exc, HTTPException):  # raised inside another handler: keeps its own status
            return _http_error(exc)
        log.error(
            "unhandled error in a request",
            extra={
                "method": request.method,
                "path": request.path,
                "error": type(exc).__name__,
                "where": where(exc),
                "stack": safe_traceback(exc),
            },
        )
        response = jsonify(
            error="internal_error", message="the server could not complete this request; try again later"
        )
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    # Webhook deliveries are answered in front of Flask (its request machinery costs as much as storing
    # a delivery); everything else, and any webhook path Flask must refuse, goes through Flask.
    app.wsgi_app = DirectWebhooks(app.wsgi_app, rt)  # type: ignore[method-assign]

    if started_here:  # a process of its own (a gunicorn worker), not a test's; `connector serve` settles its own
        settle_heap()
    return app


def runtime_of(app: Flask) -> Runtime:
    rt = app.extensions["connector"]
    assert isinstance(rt, Runtime)
    return rt
