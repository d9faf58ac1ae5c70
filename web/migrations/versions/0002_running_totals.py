"""Running totals, so that scoring and stats cost the same however long the history is:
calibration pair counts per deck, and an index for per-deck totals.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calibration_counts",
        sa.Column("deck_id", sa.String(200), primary_key=True),
        sa.Column("method", sa.String(16), primary_key=True),
        sa.Column("grader_score", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("final", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    # the totals of the history so far, counted once here
    op.execute(
        "INSERT INTO calibration_counts (deck_id, method, grader_score, final, n) "
        "SELECT deck_id, method, grader_score, final, COUNT(*) FROM attempts "
        "WHERE final IS NOT NULL GROUP BY deck_id, method, grader_score, final"
    )
    op.create_index("ix_attempts_deck_final", "attempts", ["deck_id", "final", "method"])
    op.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")


def downgrade() -> None:
    op.drop_index("ix_attempts_deck_final", "attempts")
    op.drop_table("calibration_counts")
    op.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
