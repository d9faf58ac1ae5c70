"""Accounts: users, their sign-in sessions and API tokens, the login throttle, idempotency
keys, and a person on every row of history. Local mode's rows belong to person 0 until the
first account takes them over.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# tables keyed by (deck, ...): the person joins the primary key
KEYED = ("card_states", "deck_calibrations", "calibration_counts", "agreement_totals")

OLD_INDEXES = {
    "attempts": (
        "ix_attempts_created_at",
        "ix_attempts_deck_card",
        "ix_attempts_deck_final",
        "ix_attempts_llm_usage",
    ),
    "reviews": (
        "ix_reviews_deck_card_time",
        "ix_reviews_reviewed_at",
        "ix_reviews_mastered_until",
        "ix_reviews_deck_time",
        "ix_reviews_deck_mastered_until",
    ),
}

NEW_INDEXES = {
    "ix_attempts_person_deck_card": ("attempts", ["person_id", "deck_id", "card_id"]),
    "ix_attempts_person_created_at": ("attempts", ["person_id", "created_at"]),
    "ix_attempts_person_deck_final": ("attempts", ["person_id", "deck_id", "final", "method"]),
    "ix_reviews_person_deck_card_time": (
        "reviews",
        ["person_id", "deck_id", "card_id", "reviewed_at"],
    ),
    "ix_reviews_person_reviewed_at": ("reviews", ["person_id", "reviewed_at"]),
    "ix_reviews_person_mastered_until": ("reviews", ["person_id", "mastered_until"]),
    "ix_reviews_person_deck_time": ("reviews", ["person_id", "deck_id", "reviewed_at"]),
    "ix_reviews_person_deck_mastered_until": (
        "reviews",
        ["person_id", "deck_id", "mastered_until"],
    ),
    "ix_card_states_person_deck_due": ("card_states", ["person_id", "deck_id", "due"]),
}


def upgrade() -> None:
    _people_tables()
    for table, names in OLD_INDEXES.items():
        for name in names:
            op.drop_index(name, table)
        op.add_column(
            table, sa.Column("person_id", sa.Integer(), nullable=False, server_default="0")
        )
    for table in KEYED:
        _rekey(table)
    for name, (table, columns) in NEW_INDEXES.items():
        op.create_index(name, table, columns)
    usage = "llm_usage IS NOT NULL"
    op.create_index(
        "ix_attempts_person_llm_usage",
        "attempts",
        ["person_id", "deck_id"],
        sqlite_where=sa.text(usage),
        postgresql_where=sa.text(usage),
    )
    op.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")


def _people_tables() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sqlite_autoincrement=True,  # ids never reused (see web.storage.models.User)
    )
    for table in ("login_sessions", "api_tokens"):
        op.create_table(
            table,
            sa.Column("token_hash", sa.String(64), primary_key=True),
            sa.Column(
                "user_id",
                sa.Integer(),
                sa.ForeignKey("users.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            *(
                [sa.Column("expires_at", sa.DateTime(), nullable=False)]
                if table == "login_sessions"
                else []
            ),
        )
        op.create_index(f"ix_{table}_user_id", table, ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_login_failures_name_at", "login_failures", ["name", "at"])
    op.create_table(
        "idempotency_keys",
        sa.Column("person_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("key", sa.String(220), primary_key=True),
        sa.Column(
            "attempt_id",
            sa.Integer(),
            sa.ForeignKey("attempts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def _rekey(table: str) -> None:
    """Copy ``table`` into one whose primary key starts with the person (the old rows are
    person 0's). A new table, not ALTER: SQLite cannot change a primary key in place."""
    bind = op.get_bind()
    old = sa.Table(table, sa.MetaData(), autoload_with=bind)
    columns = [c.name for c in old.columns]
    keys = [c.name for c in old.primary_key.columns]
    op.create_table(
        f"{table}_new",
        sa.Column("person_id", sa.Integer(), nullable=False, autoincrement=False),
        *(sa.Column(c.name, c.type, nullable=c.nullable, autoincrement=False) for c in old.columns),
        sa.PrimaryKeyConstraint("person_id", *keys),
    )
    listed = ", ".join(columns)
    op.execute(f"INSERT INTO {table}_new (person_id, {listed}) SELECT 0, {listed} FROM {table}")
    op.drop_table(table)
    op.rename_table(f"{table}_new", table)
    if bind.dialect.name == "postgresql":  # the key keeps the name a new table would get
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {table}_new_pkey TO {table}_pkey")


def downgrade() -> None:
    raise NotImplementedError("accounts cannot be removed from a database: restore a backup")
