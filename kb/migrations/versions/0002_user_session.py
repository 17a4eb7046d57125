"""Server-side sessions: the user_session table; user.session_version goes (the rows end
sessions now, one by one or all of an account's).

Revision ID: 0002_user_session
Revises: 0001_baseline
Create Date: 2026-12-04 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_user_session"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def _has_column(table: str, column: str) -> bool:
    return any(c["name"] == column for c in _inspector().get_columns(table))


def upgrade() -> None:
    # Guarded like the baseline: an instance made by create_all may have either already.
    if not _inspector().has_table("user_session"):
        op.create_table(
            "user_session",
            sa.Column("session_id", sa.Integer(), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("secret_hash", sa.String(length=64), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("last_seen_at", sa.DateTime(), nullable=False),
            sa.Column("ended_at", sa.DateTime(), nullable=True),
            sa.ForeignKeyConstraint(["user_id"], ["user.user_id"],
                                    name=op.f("fk_user_session_user_id_user"),
                                    ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("session_id", name=op.f("pk_user_session")),
            sa.UniqueConstraint("secret_hash", name=op.f("uq_user_session_secret_hash")),
        )
        op.create_index("ix_user_session_user_id", "user_session", ["user_id"], unique=False)
    if _has_column("user", "session_version"):
        # Not batch mode: on SQLite it copies the table and drops the old one, and with
        # foreign keys on that drop deletes every row that refers to a user (tokens,
        # sessions, group memberships) or fails on documents' uploaders. A plain column
        # drops in place (SQLite 3.35 and later, and every other database).
        op.drop_column("user", "session_version")


def downgrade() -> None:
    if not _has_column("user", "session_version"):
        op.add_column("user", sa.Column("session_version", sa.Integer(), nullable=False,
                                        server_default="1"))
    op.drop_index("ix_user_session_user_id", table_name="user_session")
    op.drop_table("user_session")
