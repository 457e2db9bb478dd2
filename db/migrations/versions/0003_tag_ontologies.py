"""tag ontologies: InsTag tags, their variants, each instruction's tags

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 01:32:02
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tag_ontologies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('embedder', sa.String(length=100), nullable=True),
    sa.Column('instructions', sa.Integer(), nullable=False),
    sa.Column('raw_tags', sa.Integer(), nullable=False),
    sa.Column('dropped', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_tag_ontologies_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag_ontologies'))
    )
    with op.batch_alter_table('tag_ontologies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tag_ontologies_job_id'), ['job_id'], unique=False)

    op.create_table('ontology_tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ontology_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=200), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('variants', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['ontology_id'], ['tag_ontologies.id'], name=op.f('fk_ontology_tags_ontology_id_tag_ontologies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ontology_tags')),
    sa.UniqueConstraint('ontology_id', 'tag', name=op.f('uq_ontology_tags_ontology_id_tag'))
    )
    op.create_table('instruction_tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ontology_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('seed_item_id', sa.Integer(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('complexity', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['ontology_id'], ['tag_ontologies.id'], name=op.f('fk_instruction_tags_ontology_id_tag_ontologies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], name=op.f('fk_instruction_tags_prompt_id_prompts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['seed_item_id'], ['seed_items.id'], name=op.f('fk_instruction_tags_seed_item_id_seed_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instruction_tags')),
    sa.UniqueConstraint('ontology_id', 'prompt_id', name=op.f('uq_instruction_tags_ontology_id_prompt_id'))
    )


def downgrade() -> None:
    op.drop_table('instruction_tags')
    op.drop_table('ontology_tags')
    with op.batch_alter_table('tag_ontologies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tag_ontologies_job_id'))

    op.drop_table('tag_ontologies')
