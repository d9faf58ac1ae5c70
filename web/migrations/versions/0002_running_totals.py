"""Running totals, so that scoring and stats cost the same however long the history is:
calibration pair counts per deck, how long each review left its card mastered, and an index
for per-deck totals.

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
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("mastered_until", sa.DateTime(), nullable=True))
    op.create_index("ix_reviews_mastered_until", "reviews", ["mastered_until"])
    _fill_mastered_until()
    op.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")


def _fill_mastered_until() -> None:
    """Each review's mastered interval, from its card's history (once, in time order)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, deck_id, card_id, reviewed_at, score, due_after FROM reviews "
            "ORDER BY deck_id, card_id, reviewed_at, id"
        )
    ).all()
    updates = []
    for i, (review_id, deck_id, card_id, _at, score, due_after) in enumerate(rows):
        if score < MASTERED:
            continue
        following = rows[i + 1] if i + 1 < len(rows) else None
        until = due_after
        if following is not None and (following[1], following[2]) == (deck_id, card_id):
            until = min(due_after, following[3])
        updates.append({"id": review_id, "until": until})
    if updates:
        bind.execute(sa.text("UPDATE reviews SET mastered_until = :until WHERE id = :id"), updates)


MASTERED = 4  # web.reviews.MASTERED when this migration was written


def downgrade() -> None:
    op.drop_index("ix_reviews_mastered_until", "reviews")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("mastered_until")
    op.drop_index("ix_attempts_deck_final", "attempts")
    op.drop_table("calibration_counts")
    op.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
