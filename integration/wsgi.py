"""WSGI entry point for gunicorn (``integration.wsgi:app``); the schema comes from migrations."""

from integration import create_app

app = create_app()
