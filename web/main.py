"""The app for an ASGI server: ``uvicorn web.main:app`` (settings from the environment)."""

from web.app import create_app

app = create_app()
