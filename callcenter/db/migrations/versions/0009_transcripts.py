"""Transcripts (issue 14): the transcription job queue, transcripts with word timings,
keyword rules for suggested categories, and full-text search over folded text

Search runs over ``text_folded`` (accents removed in Python by ``core.text.fold``), so it
needs no database extension: an FTS5 table kept by triggers on SQLite, a GIN index on
``to_tsvector('simple', text_folded)`` on PostgreSQL.

Revision ID: 0009
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db.base

revision: str = "0009"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = callcenter.db.base.UTCDateTime(timezone=True)

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE transcripts_fts USING fts5("
    "text_folded, content='transcripts', content_rowid='id', tokenize='unicode61')",
    "CREATE TRIGGER transcripts_fts_insert AFTER INSERT ON transcripts BEGIN "
    "INSERT INTO transcripts_fts(rowid, text_folded) VALUES (new.id, new.text_folded); END",
    "CREATE TRIGGER transcripts_fts_delete AFTER DELETE ON transcripts BEGIN "
    "INSERT INTO transcripts_fts(transcripts_fts, rowid, text_folded) "
    "VALUES ('delete', old.id, old.text_folded); END",
    "CREATE TRIGGER transcripts_fts_update AFTER UPDATE OF text_folded ON transcripts BEGIN "
    "INSERT INTO transcripts_fts(transcripts_fts, rowid, text_folded) "
    "VALUES ('delete', old.id, old.text_folded); "
    "INSERT INTO transcripts_fts(rowid, text_folded) VALUES (new.id, new.text_folded); END",
]


def upgrade() -> None:
    op.create_table(
        "transcription_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("audio_file", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("not_before", UTC, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcription_jobs")),
        sa.UniqueConstraint("kind", "linkedid", name="uq_transcription_jobs_kind"),
    )  # fmt: skip
    with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transcription_jobs_linkedid"), ["linkedid"], unique=False)
        batch_op.create_index(batch_op.f("ix_transcription_jobs_status"), ["status"], unique=False)
    op.create_table(
        "transcripts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_folded", sa.Text(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("engine", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("audio_seconds", sa.Double(), nullable=False),
        sa.Column("real_time_factor", sa.Double(), nullable=False),
        sa.Column("audio_file", sa.String(length=300), nullable=False),
        sa.Column("audio_bytes", sa.Integer(), nullable=False),
        sa.Column("suggested_category_id", sa.Integer(), nullable=True),
        sa.Column("suggestion_accepted", sa.Boolean(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["transcription_jobs.id"],
            name=op.f("fk_transcripts_job_id_transcription_jobs"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["suggested_category_id"], ["categories.id"],
            name=op.f("fk_transcripts_suggested_category_id_categories"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcripts")),
        sa.UniqueConstraint("job_id", name=op.f("uq_transcripts_job_id")),
    )  # fmt: skip
    with op.batch_alter_table("transcripts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transcripts_linkedid"), ["linkedid"], unique=False)
        batch_op.create_index(batch_op.f("ix_transcripts_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_transcripts_suggested_category_id"), ["suggested_category_id"], unique=False
        )
    op.create_table(
        "category_keywords",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"], ["categories.id"],
            name=op.f("fk_category_keywords_category_id_categories"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_keywords")),
        sa.UniqueConstraint("category_id", name=op.f("uq_category_keywords_category_id")),
    )  # fmt: skip
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute(
            "CREATE INDEX ix_transcripts_search ON transcripts "
            "USING gin (to_tsvector('simple', text_folded))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS transcripts_fts_{name}")
        op.execute("DROP TABLE IF EXISTS transcripts_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_transcripts_search")
    op.drop_table("category_keywords")
    with op.batch_alter_table("transcripts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transcripts_suggested_category_id"))
        batch_op.drop_index(batch_op.f("ix_transcripts_created_at"))
        batch_op.drop_index(batch_op.f("ix_transcripts_linkedid"))
    op.drop_table("transcripts")
    with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transcription_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_transcription_jobs_linkedid"))
    op.drop_table("transcription_jobs")
