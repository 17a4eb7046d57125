"""The schema as create_all made it before migrations.

A database made by `kb init` before kb used Alembic holds some or all of these tables
(older versions added tables, never columns): only the missing ones are created, so such
an instance is recognised by its tables and brought up to date, never recreated.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-04 16:30:47.116976
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def _missing(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _missing('agency'):
        op.create_table('agency',
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_agency'))
        )

    if _missing('audit_event'):
        op.create_table('audit_event',
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_email', sa.String(length=254), nullable=True),
        sa.Column('action', sa.String(length=50), nullable=False),
        sa.Column('target_type', sa.String(length=30), nullable=True),
        sa.Column('target_id', sa.String(length=100), nullable=True),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('ip', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_audit_event'))
        )
        with op.batch_alter_table('audit_event', schema=None) as batch_op:
            batch_op.create_index('ix_audit_event_action', ['action'], unique=False)
            batch_op.create_index('ix_audit_event_at', ['at'], unique=False)

    if _missing('concept'):
        op.create_table('concept',
        sa.Column('concept_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('concept_id', name=op.f('pk_concept'))
        )
        with op.batch_alter_table('concept', schema=None) as batch_op:
            batch_op.create_index('ix_concept_source', ['source'], unique=False)

    if _missing('group'):
        op.create_table('group',
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('group_id', name=op.f('pk_group')),
        sa.UniqueConstraint('name', name=op.f('uq_group_name'))
        )

    if _missing('thesaurus_state'):
        op.create_table('thesaurus_state',
        sa.Column('state_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('state_id', name=op.f('pk_thesaurus_state'))
        )

    if _missing('user'):
        op.create_table('user',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('session_version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user')),
        sa.UniqueConstraint('email', name=op.f('uq_user_email'))
        )

    if _missing('api_token'):
        op.create_table('api_token',
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user.user_id'], name=op.f('fk_api_token_user_id_user'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('token_id', name=op.f('pk_api_token')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
        )

    if _missing('concept_label'):
        op.create_table('concept_label',
        sa.Column('label_id', sa.Integer(), nullable=False),
        sa.Column('concept_id', sa.Integer(), nullable=False),
        sa.Column('lang', sa.String(length=2), nullable=False),
        sa.Column('label', sa.String(length=500), nullable=False),
        sa.Column('folded', sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(['concept_id'], ['concept.concept_id'], name=op.f('fk_concept_label_concept_id_concept'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('label_id', name=op.f('pk_concept_label'))
        )
        with op.batch_alter_table('concept_label', schema=None) as batch_op:
            batch_op.create_index('ix_concept_label_concept', ['concept_id'], unique=False)
            batch_op.create_index('ix_concept_label_folded', ['folded'], unique=False)
            batch_op.create_index('ix_concept_label_lang_folded', ['lang', 'folded'], unique=False)

    if _missing('document'):
        op.create_table('document',
        sa.Column('doc_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=500), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('doc_type', sa.String(length=40), nullable=True),
        sa.Column('language', sa.String(length=2), nullable=True),
        sa.Column('year', sa.Integer(), nullable=True),
        sa.Column('phase', sa.String(length=20), nullable=True),
        sa.Column('access', sa.String(length=20), nullable=False),
        sa.Column('workflow', sa.String(length=20), nullable=False),
        sa.Column('workflow_comment', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('error_code', sa.String(length=40), nullable=True),
        sa.Column('downloads', sa.Integer(), nullable=False),
        sa.Column('uploader_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['uploader_id'], ['user.user_id'], name=op.f('fk_document_uploader_id_user')),
        sa.PrimaryKeyConstraint('doc_id', name=op.f('pk_document'))
        )

    if _missing('group_member'):
        op.create_table('group_member',
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['group_id'], ['group.group_id'], name=op.f('fk_group_member_group_id_group'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.user_id'], name=op.f('fk_group_member_user_id_user'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('group_id', 'user_id', name=op.f('pk_group_member'))
        )

    if _missing('document_agency'):
        op.create_table('document_agency',
        sa.Column('doc_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['code'], ['agency.code'], name=op.f('fk_document_agency_code_agency'), onupdate='CASCADE'),
        sa.ForeignKeyConstraint(['doc_id'], ['document.doc_id'], name=op.f('fk_document_agency_doc_id_document'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('doc_id', 'code', name=op.f('pk_document_agency'))
        )

    if _missing('document_country'):
        op.create_table('document_country',
        sa.Column('doc_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=3), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['doc_id'], ['document.doc_id'], name=op.f('fk_document_country_doc_id_document'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('doc_id', 'code', name=op.f('pk_document_country'))
        )

    if _missing('document_group'):
        op.create_table('document_group',
        sa.Column('doc_id', sa.Integer(), nullable=False),
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['doc_id'], ['document.doc_id'], name=op.f('fk_document_group_doc_id_document'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['group_id'], ['group.group_id'], name=op.f('fk_document_group_group_id_group'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('doc_id', 'group_id', name=op.f('pk_document_group'))
        )

    if _missing('document_theme'):
        op.create_table('document_theme',
        sa.Column('doc_id', sa.Integer(), nullable=False),
        sa.Column('theme', sa.String(length=100), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['doc_id'], ['document.doc_id'], name=op.f('fk_document_theme_doc_id_document'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('doc_id', 'theme', name=op.f('pk_document_theme'))
        )

    if _missing('job'):
        op.create_table('job',
        sa.Column('job_id', sa.Integer(), nullable=False),
        sa.Column('doc_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('run_after', sa.DateTime(), nullable=False),
        sa.Column('locked_by', sa.String(length=100), nullable=True),
        sa.Column('locked_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['doc_id'], ['document.doc_id'], name=op.f('fk_job_doc_id_document'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('job_id', name=op.f('pk_job'))
        )
        with op.batch_alter_table('job', schema=None) as batch_op:
            batch_op.create_index('ix_job_state_run_after', ['state', 'run_after'], unique=False)

    if _missing('stored_file'):
        op.create_table('stored_file',
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.Column('doc_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('pages', sa.Integer(), nullable=True),
        sa.Column('file_metadata', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['doc_id'], ['document.doc_id'], name=op.f('fk_stored_file_doc_id_document'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('file_id', name=op.f('pk_stored_file')),
        sa.UniqueConstraint('doc_id', 'version', name=op.f('uq_stored_file_doc_id')),
        sa.UniqueConstraint('sha256', name=op.f('uq_stored_file_sha256'))
        )

    if _missing('page_text'):
        op.create_table('page_text',
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.Column('page', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['file_id'], ['stored_file.file_id'], name=op.f('fk_page_text_file_id_stored_file'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('file_id', 'page', name=op.f('pk_page_text'))
        )


def downgrade() -> None:
    op.drop_table('page_text')
    op.drop_table('stored_file')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_state_run_after')

    op.drop_table('job')
    op.drop_table('document_theme')
    op.drop_table('document_group')
    op.drop_table('document_country')
    op.drop_table('document_agency')
    op.drop_table('group_member')
    op.drop_table('document')
    with op.batch_alter_table('concept_label', schema=None) as batch_op:
        batch_op.drop_index('ix_concept_label_lang_folded')
        batch_op.drop_index('ix_concept_label_folded')
        batch_op.drop_index('ix_concept_label_concept')

    op.drop_table('concept_label')
    op.drop_table('api_token')
    op.drop_table('user')
    op.drop_table('thesaurus_state')
    op.drop_table('group')
    with op.batch_alter_table('concept', schema=None) as batch_op:
        batch_op.drop_index('ix_concept_source')

    op.drop_table('concept')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_at')
        batch_op.drop_index('ix_audit_event_action')

    op.drop_table('audit_event')
    op.drop_table('agency')
