"""Running totals, so that scoring and stats cost the same however long the history is:
calibration pair counts per deck, agreement sums per card, each card's recent scores, how
long each review left its card mastered, and indexes for per-deck totals and LLM usage.

Revision ID: 0002
Revises: 0001
"""

import json

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
    op.create_index("ix_reviews_deck_time", "reviews", ["deck_id", "reviewed_at"])
    op.create_index("ix_reviews_deck_mastered_until", "reviews", ["deck_id", "mastered_until"])

    op.create_table(
        "agreement_totals",
        sa.Column("deck_id", sa.String(200), primary_key=True),
        sa.Column("card_id", sa.String(200), primary_key=True),
        sa.Column("method", sa.String(16), primary_key=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in TOTALS),
    )
    op.execute(
        "INSERT INTO agreement_totals (deck_id, card_id, method, n, exact, signed_sum, abs_sum,"
        " grader_exact, grader_signed_sum) SELECT deck_id, card_id, method, COUNT(*),"
        " SUM(CASE WHEN final = suggested THEN 1 ELSE 0 END), SUM(final - suggested),"
        " SUM(ABS(final - suggested)), SUM(CASE WHEN final = grader_score THEN 1 ELSE 0 END),"
        " SUM(final - grader_score) FROM attempts WHERE final IS NOT NULL"
        " GROUP BY deck_id, card_id, method"
    )

    with op.batch_alter_table("card_states") as batch:
        batch.add_column(sa.Column("recent_scores", sa.JSON(), nullable=True))
    _fill_recent_scores()

    # attempts without LLM usage held JSON null; SQL NULL lets an index skip them
    usage = "llm_usage::text" if op.get_bind().dialect.name == "postgresql" else "llm_usage"
    op.execute(f"UPDATE attempts SET llm_usage = NULL WHERE {usage} = 'null'")
    op.create_index(
        "ix_attempts_llm_usage",
        "attempts",
        ["deck_id"],
        sqlite_where=sa.text("llm_usage IS NOT NULL"),
        postgresql_where=sa.text("llm_usage IS NOT NULL"),
    )
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


MASTERED = 4  # web.storage.reviews.MASTERED when this migration was written
RECENT = 3  # web.storage.reviews.RECENT likewise
TOTALS = ("n", "exact", "signed_sum", "abs_sum", "grader_exact", "grader_signed_sum")


def _fill_recent_scores() -> None:
    """Each card's last RECENT review scores, oldest first."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT deck_id, card_id, score FROM reviews ORDER BY deck_id, card_id, reviewed_at, id"
        )
    ).all()
    recent: dict[tuple[str, str], list[int]] = {}
    for deck_id, card_id, score in rows:
        recent.setdefault((deck_id, card_id), []).append(int(score))
    updates = [
        {"deck_id": d, "card_id": c, "recent": json.dumps(scores[-RECENT:])}
        for (d, c), scores in recent.items()
    ]
    if updates:
        value = "CAST(:recent AS JSON)" if bind.dialect.name == "postgresql" else ":recent"
        bind.execute(
            sa.text(
                f"UPDATE card_states SET recent_scores = {value} "
                "WHERE deck_id = :deck_id AND card_id = :card_id"
            ),
            updates,
        )


def downgrade() -> None:
    op.drop_index("ix_attempts_llm_usage", "attempts")
    with op.batch_alter_table("card_states") as batch:
        batch.drop_column("recent_scores")
    op.drop_table("agreement_totals")
    op.drop_index("ix_reviews_deck_mastered_until", "reviews")
    op.drop_index("ix_reviews_deck_time", "reviews")
    op.drop_index("ix_reviews_mastered_until", "reviews")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("mastered_until")
    op.drop_index("ix_attempts_deck_final", "attempts")
    op.drop_table("calibration_counts")
    op.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
