"""judgment times: when a claimed task was first shown, and seconds per ranking

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 15:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a claim open now was first shown no later than its last renewal: the best we know
    with op.batch_alter_table('annotation_claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shown_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE annotation_claims SET shown_at = claimed_at")
    with op.batch_alter_table('annotation_claims', schema=None) as batch_op:
        batch_op.alter_column('shown_at', existing_type=sa.DateTime(timezone=True),
                              nullable=False)
    with op.batch_alter_table('rankings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seconds', sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rankings', schema=None) as batch_op:
        batch_op.drop_column('seconds')
    with op.batch_alter_table('annotation_claims', schema=None) as batch_op:
        batch_op.drop_column('shown_at')
