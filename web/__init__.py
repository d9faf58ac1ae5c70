"""flashgrade's application: the FastAPI web app, its storage and scheduling, and the CLI."""
