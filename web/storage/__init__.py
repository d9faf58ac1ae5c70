"""Storage: every table, the Alembic migrations, and the queries, grouped by aggregate."""
