"""The portal (issue 14): featured documents, first-page thumbnails, pending uploads,
and jobs that concern no document (emails) with a payload.

Revision ID: 0004_portal
Revises: 0003_job_claims
Create Date: 2026-12-05 05:10:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004_portal"
down_revision = "0003_job_claims"
branch_labels = None
depends_on = None


_COLUMNS: dict[str, tuple[tuple[str, Any], ...]] = {
    "document": (("featured_at", sa.DateTime()),),
    "stored_file": (("thumb_width", sa.Integer()), ("thumb_height", sa.Integer())),
    "job": (("payload", sa.Text()),),
}


def upgrade() -> None:
    # Only what is missing: a database made by create_all before migrations (recognised
    # by the baseline) may hold these already.
    inspector = sa.inspect(op.get_bind())
    for table, columns in _COLUMNS.items():
        have = {c["name"] for c in inspector.get_columns(table)}
        missing = [(name, kind) for name, kind in columns if name not in have]
        if missing:
            with op.batch_alter_table(table, schema=None) as batch_op:
                for name, kind in missing:
                    batch_op.add_column(sa.Column(name, kind, nullable=True))
    if not next(c for c in inspector.get_columns("job") if c["name"] == "doc_id")["nullable"]:
        with op.batch_alter_table("job", schema=None) as batch_op:
            batch_op.alter_column("doc_id", existing_type=sa.Integer(), nullable=True)
    if inspector.has_table("pending_upload"):
        return
    op.create_table(
        "pending_upload",
        sa.Column("pending_id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=43), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("file_metadata", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.user_id"], ondelete="CASCADE",
                                name=op.f("fk_pending_upload_user_id_user")),
        sa.PrimaryKeyConstraint("pending_id", name=op.f("pk_pending_upload")),
        sa.UniqueConstraint("public_id", name=op.f("uq_pending_upload_public_id")),
    )
    op.create_index("ix_pending_upload_user_id", "pending_upload", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_upload_user_id", table_name="pending_upload")
    op.drop_table("pending_upload")
    # Jobs without a document (emails) cannot survive doc_id becoming required again.
    op.execute("DELETE FROM job WHERE doc_id IS NULL")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.alter_column("doc_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("payload")
    with op.batch_alter_table("stored_file", schema=None) as batch_op:
        batch_op.drop_column("thumb_height")
        batch_op.drop_column("thumb_width")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_column("featured_at")
