"""One receiver per vendor, all ending in the same sink (`connector.inbox.sink.receive`).

The receiver reads the body itself, against the size limit, so a chunked body (no Content-Length)
over the limit is refused with 413 rather than cut short. Whatever goes wrong on the way, the
vendor gets a 4xx with a reason or a 503 asking it to send again — never a bare 500.
"""

from __future__ import annotations

import json
import logging
import time

from flask import Blueprint, Response, abort, current_app, g, jsonify, request

from connector import defaults, metrics
from connector.config import valid_instance
from connector.inbox.sink import RETRY_AFTER_SECONDS, receive
from connector.logs import where
from connector.runtime import Runtime

log = logging.getLogger(__name__)
receivers = Blueprint("receivers", __name__)
_CHUNK = 64 * 1024


@receivers.post("/webhooks/<vendor>")
@receivers.post("/webhooks/<vendor>/<instance>")
def webhook(vendor: str, instance: str = defaults.DEFAULT_INSTANCE) -> tuple[Response, int] | Response:
    rt: Runtime = current_app.extensions["connector"]
    if vendor not in rt.adapters:
        abort(404, f"no receiver for vendor {vendor!r}; known: {', '.join(sorted(rt.adapters))}")
    if not valid_instance(instance):
        abort(404, f"instance names are lower-case letters, digits and '-', got {instance!r}")
    limit = rt.settings.max_body_bytes
    body = _read_body(limit)
    if body is None:
        metrics.DELIVERIES.labels(vendor, "too_large").inc()
        return jsonify(error="payload_too_large", message=f"body exceeds the {limit} byte limit"), 413
    try:
        answer = receive(rt, vendor=vendor, instance=instance, headers=dict(request.headers), body=body)
    except Exception as exc:  # a failure of ours: the vendor sends again; the body was not acknowledged
        log.error(
            "webhook failed before it was stored",
            extra={"vendor": vendor, "instance": instance, "error": type(exc).__name__, "where": where(exc)},
        )
        metrics.DELIVERIES.labels(vendor, "unavailable").inc()
        response = jsonify(error="unavailable", message="the delivery could not be taken right now; send it again")
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    metrics.ACK_SECONDS.labels(vendor).observe(time.perf_counter() - g.started)
    # The answer's JSON as is (jsonify's pretty-printing and key sorting cost more than the insert).
    return Response(json.dumps(answer.body), answer.status, answer.headers, mimetype="application/json")


def _read_body(limit: int) -> bytes | None:
    """The request body, or None if it is longer than `limit` bytes (declared or, for a chunked body,
    as read)."""
    if request.content_length is not None:
        if request.content_length > limit:
            return None
        return request.get_data(cache=False)
    stream = request.environ.get("wsgi.input")
    if stream is None or not request.environ.get("wsgi.input_terminated"):
        return request.get_data(cache=False)
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
