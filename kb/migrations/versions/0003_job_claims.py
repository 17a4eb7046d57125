"""Job claims name their holder (host, pid, process start) and carry a heartbeat; a
worker table records the `kb worker` processes seen alive.

Revision ID: 0003_job_claims
Revises: 0002_user_session
Create Date: 2026-12-04 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_job_claims"
down_revision = "0002_user_session"
branch_labels = None
depends_on = None


_JOB_COLUMNS = (
    ("locked_host", sa.String(length=255)),
    ("locked_pid", sa.Integer()),
    ("locked_started", sa.BigInteger()),
    ("heartbeat_at", sa.DateTime()),
    ("last_error_code", sa.String(length=40)),
)


def upgrade() -> None:
    # Only what is missing: a database made by create_all before migrations (recognised
    # by the baseline) may hold these already.
    inspector = sa.inspect(op.get_bind())
    have = {c["name"] for c in inspector.get_columns("job")}
    missing = [(name, kind) for name, kind in _JOB_COLUMNS if name not in have]
    if missing:
        with op.batch_alter_table("job", schema=None) as batch_op:
            for name, kind in missing:
                batch_op.add_column(sa.Column(name, kind, nullable=True))
    if inspector.has_table("worker"):
        return
    op.create_table(
        "worker",
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_worker")),
        sa.UniqueConstraint("host", "pid", "started", name=op.f("uq_worker_host")),
    )


def downgrade() -> None:
    op.drop_table("worker")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("last_error_code")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("locked_started")
        batch_op.drop_column("locked_pid")
        batch_op.drop_column("locked_host")
