"""Alembic's entry point: migrations run on the connection that
``web.storage.database.upgrade`` gives."""

from alembic import context

from web.storage.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite changes columns by copying the table
)
with context.begin_transaction():
    context.run_migrations()
