"""annotation claims, judgment edits

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 01:48:04
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('annotation_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('annotator_id', sa.Integer(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['annotator_id'], ['annotators.id'], name=op.f('fk_annotation_claims_annotator_id_annotators'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['annotation_tasks.id'], name=op.f('fk_annotation_claims_task_id_annotation_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotation_claims')),
    sa.UniqueConstraint('task_id', 'annotator_id', name=op.f('uq_annotation_claims_task_id_annotator_id'))
    )
    with op.batch_alter_table('judgments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))

def downgrade() -> None:
    with op.batch_alter_table('judgments', schema=None) as batch_op:
        batch_op.drop_column('updated_at')

    op.drop_table('annotation_claims')
