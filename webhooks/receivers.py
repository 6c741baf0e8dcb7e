"""One receiver per vendor, all ending in the same sink (`connector.inbox.sink.receive`).

The receiver reads the body itself, against the size limit, so a chunked body (no Content-Length)
over the limit is refused with 413 rather than cut short. Whatever goes wrong on the way, the
vendor gets a 4xx with a reason or a 503 asking it to send again — never a bare 500.

`DirectWebhooks` answers `POST /webhooks/<vendor>[/<instance>]` in front of Flask (a WSGI
middleware, `app.wsgi_app`): a webhook needs none of Flask's request context, routing or response
objects, which cost a web process as much CPU as storing the delivery does (bench/README). It
answers only a path naming a known vendor and a valid instance; every other request, and every other
method, is Flask's — which also answers such a POST, through `webhook` below, if the middleware is
not in front (both call `answer`, so the two cannot drift apart).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_content_length, get_input_stream

from connector import defaults, metrics
from connector.config import valid_instance
from connector.inbox.sink import RETRY_AFTER_SECONDS, receive
from connector.logs import safe_traceback, where
from connector.runtime import Runtime

log = logging.getLogger(__name__)
receivers = Blueprint("receivers", __name__)
_CHUNK = 64 * 1024
_PLAIN = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})
_NOT_HTTP = frozenset({"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"})

#: (status, JSON body, extra headers) of a webhook's answer
Reply = tuple[int, dict[str, Any], dict[str, str]]
StartResponse = Callable[..., Any]


@receivers.post("/webhooks/<vendor>")
@receivers.post("/webhooks/<vendor>/<instance>")
def webhook(vendor: str, instance: str = defaults.DEFAULT_INSTANCE) -> Response:
    rt: Runtime = current_app.extensions["connector"]
    if vendor not in rt.adapters:
        abort(404, f"no receiver for vendor {vendor!r}; known: {', '.join(sorted(rt.adapters))}")
    if not valid_instance(instance):
        abort(404, f"instance names are lower-case letters, digits and '-', got {instance!r}")
    status, body, headers = answer(rt, vendor, instance, request.environ, g.started)
    return Response(json.dumps(body), status, headers, mimetype="application/json")


def answer(rt: Runtime, vendor: str, instance: str, environ: dict[str, Any], started: float) -> Reply:
    """A webhook delivery read from the WSGI environ and taken by the sink: its answer."""
    limit = rt.settings.max_body_bytes
    body = _read_body(environ, limit)
    if body is None:
        metrics.DELIVERIES.labels(vendor, "too_large").inc()
        return 413, {"error": "payload_too_large", "message": f"body exceeds the {limit} byte limit"}, {}
    try:
        taken = receive(rt, vendor=vendor, instance=instance, headers=dict(_headers(environ)), body=body)
    except Exception as exc:  # a failure of ours: the vendor sends again; the body was not acknowledged
        log.error(
            "webhook failed before it was stored",
            extra={"vendor": vendor, "instance": instance, "error": type(exc).__name__, "where": where(exc)},
        )
        metrics.DELIVERIES.labels(vendor, "unavailable").inc()
        return (
            503,
            {"error": "unavailable", "message": "the delivery could not be taken right now; send it again"},
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    metrics.ACK_SECONDS.labels(vendor).observe(time.perf_counter() - started)
    return taken.status, taken.body, taken.headers


class DirectWebhooks:
    """WSGI middleware: webhook deliveries answered without Flask, everything else passed to it."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]], rt: Runtime):
        self.app = app
        self.rt = rt

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            route = self._route(environ.get("PATH_INFO", ""))
            if route is not None:
                return self._webhook(environ, start_response, *route)
        return self.app(environ, start_response)

    def _route(self, path: str) -> tuple[str, str] | None:
        """(vendor, instance) of a webhook path this middleware answers; None leaves it to Flask
        (unknown vendors and bad instance names get its 404 with the reason)."""
        parts = path.split("/")
        if len(parts) not in (3, 4) or parts[0] or parts[1] != "webhooks":
            return None
        vendor = parts[2]
        instance = parts[3] if len(parts) == 4 else defaults.DEFAULT_INSTANCE
        if vendor not in self.rt.adapters or not valid_instance(instance):
            return None
        return vendor, instance

    def _webhook(
        self, environ: dict[str, Any], start_response: StartResponse, vendor: str, instance: str
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        try:
            status, body, headers = answer(self.rt, vendor, instance, environ, started)
        except HTTPException as exc:  # e.g. the client went away before sending its whole body
            status, body, headers = exc.code or 400, _http_error(exc), {}
        except Exception as exc:  # a failure no answer covered: ours, never a bare 500 (as Flask's last resort)
            log.error(
                "unhandled error in a request",
                extra={
                    "method": "POST",
                    "path": environ.get("PATH_INFO", ""),
                    "error": type(exc).__name__,
                    "where": where(exc),
                    "stack": safe_traceback(exc),
                },
            )
            status = 503
            body = {"error": "internal_error", "message": "the server could not complete this request; try again later"}
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        data = json.dumps(body).encode()
        start_response(
            f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers.items()],
        )
        return [data]


def _http_error(exc: HTTPException) -> dict[str, Any]:
    """The JSON of an HTTP error, as the app's own handler writes it."""
    return {"error": (exc.name or "error").lower().replace(" ", "_"), "message": exc.description}


def _headers(environ: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """The request headers from the environ, named as werkzeug names them (`request.headers`)."""
    for key, value in environ.items():
        if key.startswith("HTTP_") and key not in _NOT_HTTP:
            yield key[5:].replace("_", "-").title(), value
        elif key in _PLAIN and value:
            yield key.replace("_", "-").title(), value


def _read_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """The request body, or None if it is longer than `limit` bytes (declared or, for a chunked body,
    as read)."""
    length = get_content_length(environ)  # None: no Content-Length, or a chunked body
    if length is not None:
        if length > limit:
            return None
        return get_input_stream(environ, max_content_length=limit).read()
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if not environ.get("wsgi.input_terminated"):  # what Flask's request.get_data() reads here
        return get_input_stream(environ, max_content_length=limit).read()
    chunks: list[bytes] = []
    size = 0
    while True:  # read the raw stream: werkzeug's limited stream would cut it silently at the limit
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None
