"""The schema migrates up on SQLite and PostgreSQL, and the migrations match the models."""

from alembic import command
from sqlalchemy import inspect

from db.base import Base
from db.migrate import alembic_config, current
from db.session import engine_for


def test_schema_migrates_up_and_matches_models(store_url: str) -> None:
    assert current(store_url) == "0001"
    tables = set(inspect(engine_for(store_url)).get_table_names())
    assert set(Base.metadata.tables) <= tables
    # Raises if autogenerate would find a difference between models and migrations.
    command.check(alembic_config(store_url))


def test_generation_unique_key_is_named_by_convention(store_url: str) -> None:
    uniques = inspect(engine_for(store_url)).get_unique_constraints("generations")
    assert {"name": "uq_generations_prompt_id_sample_index",
            "column_names": ["prompt_id", "sample_index"]} in [
        {"name": u["name"], "column_names": u["column_names"]} for u in uniques]
