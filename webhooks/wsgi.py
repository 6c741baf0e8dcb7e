"""WSGI entry point for gunicorn: `gunicorn webhooks.wsgi:app`.

A configuration that cannot work (a bad environment value, a schema behind, a database that cannot be
reached) stops the worker with one line saying what to fix, not a traceback — and with gunicorn's
"worker failed to boot" exit status (3), so that gunicorn stops instead of starting the same failing
worker again and again."""

import sys

from sqlalchemy.exc import SQLAlchemyError

from connector.config import Settings, redact_url
from connector.errors import ConnectorError
from webhooks.app import create_app

#: gunicorn's Arbiter.WORKER_BOOT_ERROR: the arbiter halts rather than respawn the worker
WORKER_BOOT_ERROR = 3


def _stop(message: str) -> None:
    print(f"connector: {message}", file=sys.stderr, flush=True)
    sys.exit(WORKER_BOOT_ERROR)


try:
    app = create_app()
except ConnectorError as exc:
    _stop(str(exc))
except SQLAlchemyError as exc:
    url = redact_url(Settings.from_env().database_url)
    _stop(f"cannot reach the database at DATABASE_URL={url} ({type(exc).__name__}): is it running?")
