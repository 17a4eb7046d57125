"""The programme's vocabularies and the interface language (issue 17): a document's GCM
objectives, SDG targets and outcome areas (document_term), the codes kb proposes from a
document's text until an editor decides (term_suggestion), and a user's chosen language.

Revision ID: 0008_vocabularies
Revises: 0007_versions
Create Date: 2026-12-05 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_vocabularies"
down_revision = "0007_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "locale" not in {c["name"] for c in inspector.get_columns("user")}:
        # A plain column: no table rebuild on SQLite.
        op.add_column("user", sa.Column("locale", sa.String(length=10), nullable=True))
    if "document_term" not in tables:
        op.create_table(
            "document_term",
            sa.Column("doc_id", sa.Integer(), nullable=False),
            sa.Column("vocabulary", sa.String(length=10), nullable=False),
            sa.Column("code", sa.String(length=20), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["doc_id"], ["document.doc_id"],
                                    name=op.f("fk_document_term_doc_id_document"),
                                    ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("doc_id", "vocabulary", "code",
                                    name=op.f("pk_document_term")),
        )
        op.create_index("ix_document_term_vocabulary_code", "document_term",
                        ["vocabulary", "code"])
    if "term_suggestion" not in tables:
        op.create_table(
            "term_suggestion",
            sa.Column("doc_id", sa.Integer(), nullable=False),
            sa.Column("vocabulary", sa.String(length=10), nullable=False),
            sa.Column("code", sa.String(length=20), nullable=False),
            sa.Column("score", sa.Float(), nullable=False),
            sa.Column("evidence", sa.Text(), nullable=False),
            sa.Column("state", sa.String(length=12), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("decided_at", sa.DateTime(), nullable=True),
            sa.Column("decided_by", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["doc_id"], ["document.doc_id"],
                                    name=op.f("fk_term_suggestion_doc_id_document"),
                                    ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("doc_id", "vocabulary", "code",
                                    name=op.f("pk_term_suggestion")),
        )


def downgrade() -> None:
    op.drop_table("term_suggestion")
    op.drop_index("ix_document_term_vocabulary_code", table_name="document_term")
    op.drop_table("document_term")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("locale")
