"""Alembic's entry point: migrations run on the connection that ``web.store.upgrade`` gives."""

from alembic import context

from web.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite changes columns by copying the table
)
with context.begin_transaction():
    context.run_migrations()
