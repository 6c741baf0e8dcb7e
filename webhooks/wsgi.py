"""WSGI entry point for gunicorn: `gunicorn webhooks.wsgi:app`.

A configuration that cannot work (a bad environment value, a schema behind, a database that cannot be
reached) stops the worker with one line saying what to fix, not a traceback."""

import sys

from sqlalchemy.exc import SQLAlchemyError

from connector.config import Settings, redact_url
from connector.errors import ConnectorError
from webhooks.app import create_app

try:
    app = create_app()
except ConnectorError as exc:
    sys.exit(f"connector: {exc}")
except SQLAlchemyError as exc:
    url = redact_url(Settings.from_env().database_url)
    sys.exit(f"connector: cannot reach the database at DATABASE_URL={url} ({type(exc).__name__}): is it running?")
