"""The schema of the releases before Alembic (schema version 1).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deck_id", sa.String(200), nullable=False),
        sa.Column("card_id", sa.String(200), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("grader_score", sa.Integer(), nullable=False),
        sa.Column("suggested", sa.Integer(), nullable=False),
        sa.Column("coverage", sa.Double(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("grader_version", sa.String(32), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("llm_usage", sa.JSON(), nullable=True),
        sa.Column("final", sa.Integer(), nullable=True),
        sa.Column("seconds", sa.Double(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=True),
        sa.Column("points", sa.JSON(), nullable=False),
    )
    op.create_index("ix_attempts_created_at", "attempts", ["created_at"])
    op.create_index("ix_attempts_deck_card", "attempts", ["deck_id", "card_id"])
    op.create_table(
        "card_states",
        sa.Column("deck_id", sa.String(200), primary_key=True),
        sa.Column("card_id", sa.String(200), primary_key=True),
        sa.Column("fsrs_card", sa.JSON(), nullable=False),
        sa.Column("due", sa.DateTime(), nullable=False),
        sa.Column("reps", sa.Integer(), nullable=False),
        sa.Column("last_score", sa.Integer(), nullable=True),
        sa.Column("introduced_at", sa.DateTime(), nullable=False),
        sa.Column("last_reviewed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_card_states_deck_due", "card_states", ["deck_id", "due"])
    op.create_table(
        "llm_cache",
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "deck_calibrations",
        sa.Column("deck_id", sa.String(200), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("calibration", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "attempt_id",
            sa.Integer(),
            sa.ForeignKey("attempts.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("deck_id", sa.String(200), nullable=False),
        sa.Column("card_id", sa.String(200), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("due_after", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_reviews_deck_card_time", "reviews", ["deck_id", "card_id", "reviewed_at"])
    op.create_index("ix_reviews_reviewed_at", "reviews", ["reviewed_at"])


def downgrade() -> None:
    for table in ("reviews", "deck_calibrations", "llm_cache", "card_states", "attempts", "meta"):
        op.drop_table(table)
