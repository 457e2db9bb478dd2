"""verdict status: passed, failed, error, pending

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 09:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=10), server_default='failed',
                                      nullable=False))
    verdicts = sa.table('verdicts', sa.column('passed', sa.Boolean),
                        sa.column('status', sa.String))
    op.execute(verdicts.update().where(verdicts.c.passed.is_(True)).values(status='passed'))


def downgrade() -> None:
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.drop_column('status')
