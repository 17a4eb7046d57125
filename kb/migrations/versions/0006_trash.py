"""A document's life (issue 18): its metadata history, the trash and the tombstones of
purged documents.

Revision ID: 0006_trash
Revises: 0005_harvest
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_trash"
down_revision = "0005_harvest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Only what is missing (as 0004): a database made by create_all may hold these already.
    inspector = sa.inspect(op.get_bind())
    if "trashed_at" not in {c["name"] for c in inspector.get_columns("document")}:
        with op.batch_alter_table("document", schema=None) as batch_op:
            batch_op.add_column(sa.Column("trashed_at", sa.DateTime(), nullable=True))
    if not inspector.has_table("document_change"):
        op.create_table(
            "document_change",
            sa.Column("change_id", sa.Integer(), nullable=False),
            sa.Column("doc_id", sa.Integer(), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=True),
            sa.Column("user_email", sa.String(length=254), nullable=True),
            sa.Column("at", sa.DateTime(), nullable=False),
            sa.Column("action", sa.String(length=30), nullable=False),
            sa.Column("changes", sa.Text(), nullable=False),
            sa.Column("note", sa.String(length=200), nullable=True),
            sa.ForeignKeyConstraint(["doc_id"], ["document.doc_id"], ondelete="CASCADE",
                                    name=op.f("fk_document_change_doc_id_document")),
            sa.PrimaryKeyConstraint("change_id", name=op.f("pk_document_change")),
        )
        op.create_index("ix_document_change_doc_id", "document_change",
                        ["doc_id", "change_id"])
    if not inspector.has_table("tombstone"):
        op.create_table(
            "tombstone",
            sa.Column("doc_id", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("deleted_at", sa.DateTime(), nullable=False),
            sa.Column("purged_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("doc_id", name=op.f("pk_tombstone")),
        )


def downgrade() -> None:
    op.drop_table("tombstone")
    op.drop_index("ix_document_change_doc_id", table_name="document_change")
    op.drop_table("document_change")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_column("trashed_at")
