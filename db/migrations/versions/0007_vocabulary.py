"""vocabulary: judgments -> rankings (ranking -> tiers), annotation_tasks.judgments_wanted ->
rankings_wanted, generations.role -> ask, prompts.variant -> prompt_key, and the batch stage
'verify' -> 'judge' (its queue may be verify, sandbox or generate)

Names only: every row is kept, and the one value renamed is a batch's stage. Stop the workers
before upgrading: a step sent before it names the old stage and is dropped as stale; the sweep
sends the batch's step again after FACTORY_STALE_BATCH_S. The rankings table is made under its own name (so its
constraints follow the naming convention), filled from judgments, and judgments dropped.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMON = "id, task_id, annotator_id, shown_order, {order}, all_bad, skipped, comment, created_at, " \
         "updated_at"


def _person_table(name: str, order: str) -> None:
    """The table of people's rankings as ``name``, its order column called ``order``."""
    op.create_table(
        name,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('annotator_id', sa.Integer(), nullable=False),
        sa.Column('shown_order', sa.JSON(), nullable=False),
        sa.Column(order, sa.JSON(), nullable=False),
        sa.Column('all_bad', sa.Boolean(), nullable=False),
        sa.Column('skipped', sa.Boolean(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['annotator_id'], ['annotators.id'],
                                name=op.f(f'fk_{name}_annotator_id_annotators')),
        sa.ForeignKeyConstraint(['task_id'], ['annotation_tasks.id'],
                                name=op.f(f'fk_{name}_task_id_annotation_tasks'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{name}')),
        sa.UniqueConstraint('task_id', 'annotator_id',
                            name=op.f(f'uq_{name}_task_id_annotator_id')),
    )


def _move(old: str, old_order: str, new: str, new_order: str) -> None:
    _person_table(new, new_order)
    op.execute(f"INSERT INTO {new} ({COMMON.format(order=new_order)}) "
               f"SELECT {COMMON.format(order=old_order)} FROM {old}")
    op.drop_table(old)
    if op.get_bind().dialect.name == 'postgresql':  # ids were copied: the sequence goes on
        op.execute(f"SELECT setval(pg_get_serial_sequence('{new}', 'id'), "
                   f"COALESCE((SELECT MAX(id) FROM {new}), 0) + 1, false)")


def _rename_column(table: str, old: str, new: str) -> None:
    """In place on both stores (SQLite 3.25+), so no table is rebuilt."""
    op.execute(f'ALTER TABLE {table} RENAME COLUMN {old} TO {new}')


def _rename_key_column(old: str, new: str) -> None:
    """prompts.<old> -> <new>, and its unique key's name with it (a rebuild on SQLite, which
    cannot rename a constraint; foreign keys are off there while migrating, see env.py)."""
    _rename_column('prompts', old, new)
    with op.batch_alter_table('prompts', schema=None) as batch_op:
        batch_op.drop_constraint(f'uq_prompts_job_id_seed_item_id_{old}', type_='unique')
        batch_op.create_unique_constraint(batch_op.f(f'uq_prompts_job_id_seed_item_id_{new}'),
                                          ['job_id', 'seed_item_id', new])


def _rename_stage(old: str, new: str) -> None:
    batches = sa.table('batches', sa.column('stage', sa.String))
    op.execute(batches.update().where(batches.c.stage == old).values(stage=new))


def upgrade() -> None:
    _move('judgments', 'ranking', 'rankings', 'tiers')
    _rename_column('annotation_tasks', 'judgments_wanted', 'rankings_wanted')
    _rename_column('generations', 'role', 'ask')
    _rename_key_column('variant', 'prompt_key')
    _rename_stage('verify', 'judge')


def downgrade() -> None:
    _rename_stage('judge', 'verify')
    _rename_key_column('prompt_key', 'variant')
    _rename_column('generations', 'ask', 'role')
    _rename_column('annotation_tasks', 'rankings_wanted', 'judgments_wanted')
    _move('rankings', 'tiers', 'judgments', 'ranking')
