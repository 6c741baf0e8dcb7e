"""One receiver per vendor, all ending in the same sink (`connector.inbox.sink.receive`)."""

from __future__ import annotations

import time

from flask import Blueprint, Response, abort, current_app, g, jsonify, request

from connector import defaults, metrics
from connector.config import valid_instance
from connector.inbox.sink import receive
from connector.runtime import Runtime

receivers = Blueprint("receivers", __name__)


@receivers.post("/webhooks/<vendor>")
@receivers.post("/webhooks/<vendor>/<instance>")
def webhook(vendor: str, instance: str = defaults.DEFAULT_INSTANCE) -> tuple[Response, int]:
    rt: Runtime = current_app.extensions["connector"]
    if vendor not in rt.adapters:
        abort(404, f"no receiver for vendor {vendor!r}; known: {', '.join(sorted(rt.adapters))}")
    if not valid_instance(instance):
        abort(404, f"instance names are lower-case letters, digits and '-', got {instance!r}")
    if request.content_length is not None and request.content_length > rt.settings.max_body_bytes:
        metrics.DELIVERIES.labels(vendor, "too_large").inc()
        return jsonify(
            error="payload_too_large", message=f"body exceeds the {rt.settings.max_body_bytes} byte limit"
        ), 413
    body = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH for chunked bodies too
    answer = receive(rt, vendor=vendor, instance=instance, headers=dict(request.headers), body=body)
    metrics.ACK_SECONDS.labels(vendor).observe(time.perf_counter() - g.started)
    return jsonify(answer.body), answer.status
