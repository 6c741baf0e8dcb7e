"""WSGI entry point for gunicorn: `gunicorn webhooks.wsgi:app`."""

from webhooks.app import create_app

app = create_app()
