"""The baseline: a bare Flask app that reads the body and answers 202, served by the same gunicorn
settings as the connector. `gunicorn 'bench.bare_app:create_app()'`."""

from __future__ import annotations

import itertools

from flask import Flask, jsonify, request


def create_app() -> Flask:
    app = Flask(__name__)
    ids = itertools.count(1)

    @app.post("/webhooks/<vendor>")
    def webhook(vendor: str):  # type: ignore[no-untyped-def]
        request.get_data(cache=False)
        return jsonify(delivery_id=next(ids)), 202

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return jsonify(status="ok")

    return app
