"""annotator names unique whatever their case: a unique index on lower(name)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 18:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # names added before the check in accounts.add_annotator may clash: say which, not just
    # that the index failed
    clashes = op.get_bind().execute(sa.text(
        "SELECT lower(name) FROM annotators GROUP BY lower(name) HAVING count(*) > 1"
        " ORDER BY 1")).scalars().all()
    if clashes:
        raise RuntimeError(f"annotator names that differ only by case: {', '.join(clashes)};"
                           " rename all but one of each (in SQL), then upgrade again")
    op.create_index('ix_annotators_lower_name', 'annotators', [sa.text('lower(name)')],
                    unique=True)


def downgrade() -> None:
    op.drop_index('ix_annotators_lower_name', table_name='annotators')
