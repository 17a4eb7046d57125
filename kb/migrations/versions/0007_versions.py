"""File versions and translations (issue 18): who sent a version, its note and whether
readers may download it; the same bytes may now be a later version of a second document
(only a document's first version stays unique by SHA-256); a document may name the
original it translates.

Revision ID: 0007_versions
Revises: 0006_trash
Create Date: 2026-12-05 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_versions"
down_revision = "0006_trash"
branch_labels = None
depends_on = None

FIRST_SHA = "uq_stored_file_first_sha256"
OLD_UNIQUE = "uq_stored_file_sha256"


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("stored_file")}
    uniques = {u["name"] for u in inspector.get_unique_constraints("stored_file")}
    # SQLite rebuilds the table for this (kb.migrate turns its foreign keys off meanwhile,
    # so that dropping the old copy does not take page_text with it).
    with op.batch_alter_table("stored_file", schema=None) as batch_op:
        if "uploader_id" not in columns:
            batch_op.add_column(sa.Column("uploader_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(op.f("fk_stored_file_uploader_id_user"), "user",
                                        ["uploader_id"], ["user_id"])
        if "note" not in columns:
            batch_op.add_column(sa.Column("note", sa.String(length=200), nullable=True))
        if "public" not in columns:
            batch_op.add_column(sa.Column("public", sa.Boolean(), nullable=False,
                                          server_default=sa.false()))
        if OLD_UNIQUE in uniques:
            batch_op.drop_constraint(OLD_UNIQUE, type_="unique")
    indexes = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("stored_file")}
    if FIRST_SHA not in indexes:
        op.create_index(FIRST_SHA, "stored_file", ["sha256"], unique=True,
                        sqlite_where=sa.text("version = 1"),
                        postgresql_where=sa.text("version = 1"))
    if "ix_stored_file_sha256" not in indexes:
        op.create_index("ix_stored_file_sha256", "stored_file", ["sha256"])
    if "translation_of" not in {c["name"] for c in inspector.get_columns("document")}:
        # A plain column, no table rebuild: the document table is what everything else
        # refers to.
        op.add_column("document", sa.Column("translation_of", sa.Integer(), nullable=True))
        op.create_index("ix_document_translation_of", "document", ["translation_of"])


def downgrade() -> None:
    op.drop_index("ix_document_translation_of", table_name="document")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_column("translation_of")
    op.drop_index("ix_stored_file_sha256", table_name="stored_file")
    op.drop_index(FIRST_SHA, table_name="stored_file")
    with op.batch_alter_table("stored_file", schema=None) as batch_op:
        batch_op.create_unique_constraint(OLD_UNIQUE, ["sha256"])
        batch_op.drop_column("public")
        batch_op.drop_column("note")
        batch_op.drop_constraint(op.f("fk_stored_file_uploader_id_user"), type_="foreignkey")
        batch_op.drop_column("uploader_id")
