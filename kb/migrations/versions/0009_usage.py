"""Usage statistics: a document's page views and downloads a day (document_usage).

Revision ID: 0009_usage
Revises: 0008_vocabularies
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_usage"
down_revision = "0008_vocabularies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "document_usage" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "document_usage",
        sa.Column("doc_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["doc_id"], ["document.doc_id"],
                                name=op.f("fk_document_usage_doc_id_document"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("doc_id", "day", name=op.f("pk_document_usage")),
    )
    op.create_index("ix_document_usage_day", "document_usage", ["day"])


def downgrade() -> None:
    op.drop_index("ix_document_usage_day", table_name="document_usage")
    op.drop_table("document_usage")
