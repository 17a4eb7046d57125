"""Harvesting (issue 16): a harvest_record per document ever exposed to OAI-PMH harvesters,
filled from the documents published and public now.

Revision ID: 0005_harvest
Revises: 0004_portal
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

import re
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0005_harvest"
down_revision = "0004_portal"
branch_labels = None
depends_on = None

# As OAI-PMH writes a setSpec (kb.services.harvest.SET_SPEC at the time of writing).
_SET_SPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("harvest_record"):
        op.create_table(
            "harvest_record",
            sa.Column("doc_id", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("datestamp", sa.DateTime(), nullable=False),
            sa.Column("deleted", sa.Boolean(), nullable=False),
            sa.Column("set_specs", sa.Text(), nullable=False),
            sa.Column("fingerprint", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("doc_id", name=op.f("pk_harvest_record")),
        )
        op.create_index("ix_harvest_record_datestamp", "harvest_record",
                        ["datestamp", "doc_id"])
    _fill(bind)


def _fill(bind: sa.engine.Connection) -> None:
    """A record for each document harvestable now (published and public: kb.policy's rule
    when this was written), dated by its last update. The fingerprint stays empty, so the
    first change kb sees to such a document moves its datestamp, whatever changed."""
    meta = sa.MetaData()
    document = sa.Table("document", meta, autoload_with=bind)
    country = sa.Table("document_country", meta, autoload_with=bind)
    agency = sa.Table("document_agency", meta, autoload_with=bind)
    record = sa.Table("harvest_record", meta, autoload_with=bind)
    have = set(bind.scalars(sa.select(record.c.doc_id)))
    docs = [row for row in bind.execute(
        sa.select(document.c.doc_id, document.c.doc_type, document.c.updated_at)
        .where(document.c.workflow == "published", document.c.access == "public")
        .order_by(document.c.doc_id)) if row.doc_id not in have]
    if not docs:
        return
    specs: dict[int, list[str]] = defaultdict(list)
    for table, kind in ((country, "country"), (agency, "agency")):
        for doc_id, code in bind.execute(sa.select(table.c.doc_id, table.c.code)
                                         .order_by(table.c.doc_id, table.c.position)):
            specs[doc_id].append(f"{kind}:{code}")
    rows = []
    for doc in docs:
        mine = specs[doc.doc_id] + ([f"type:{doc.doc_type}"] if doc.doc_type else [])
        mine = [s for s in dict.fromkeys(mine) if _SET_SPEC.fullmatch(s)]
        rows.append({"doc_id": doc.doc_id, "datestamp": doc.updated_at.replace(microsecond=0),
                     "deleted": False, "fingerprint": "",
                     "set_specs": " " + " ".join(mine) + " " if mine else ""})
    for start in range(0, len(rows), 1000):
        bind.execute(record.insert(), rows[start:start + 1000])


def downgrade() -> None:
    op.drop_index("ix_harvest_record_datestamp", table_name="harvest_record")
    op.drop_table("harvest_record")
