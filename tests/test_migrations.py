"""The schema migrates up on SQLite and PostgreSQL, and the migrations match the models."""

import json

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from db.base import Base
from db.migrate import alembic_config, current
from db.session import engine_for


def test_schema_migrates_up_and_matches_models(store_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(store_url)).get_current_head()
    assert current(store_url) == head
    tables = set(inspect(engine_for(store_url)).get_table_names())
    assert set(Base.metadata.tables) <= tables
    # Raises if autogenerate would find a difference between models and migrations.
    command.check(alembic_config(store_url))


def test_generation_unique_key_is_named_by_convention(store_url: str) -> None:
    uniques = inspect(engine_for(store_url)).get_unique_constraints("generations")
    assert {"name": "uq_generations_prompt_id_sample_index",
            "column_names": ["prompt_id", "sample_index"]} in [
        {"name": u["name"], "column_names": u["column_names"]} for u in uniques]


def test_upgrade_from_0001_keeps_generations_and_gives_them_an_empty_ask(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0001")
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO seed_sets (id, name, kind, source, content_hash, item_count, created_at)"
            " VALUES (1, 's', 'math', 'f', 'h', 1, '2026-01-01')"))
        conn.execute(text("INSERT INTO seed_items (id, seed_set_id, ordinal, line_no, payload)"
                          " VALUES (1, 1, 0, 1, '{}')"))
        conn.execute(text(
            "INSERT INTO jobs (id, name, strategy, seed_set_id, params, model, status,"
            " created_at, updated_at) VALUES (1, 'j', 'math', 1, '{}', 'm', 'done',"
            " '2026-01-01', '2026-01-01')"))
        conn.execute(text(
            "INSERT INTO batches (id, job_id, \"index\", first_ordinal, last_ordinal, stage,"
            " round, attempts, updated_at) VALUES (1, 1, 0, 0, 0, 'done', 0, 0, '2026-01-01')"))
        conn.execute(text(
            "INSERT INTO prompts (id, job_id, batch_id, seed_item_id, variant, template_id,"
            " template_version, messages, reference, samples, passed)"
            " VALUES (1, 1, 1, 1, '', 't', 'v1', '[]', '{}', 1, 1)"))
        conn.execute(text(
            "INSERT INTO generations (id, prompt_id, job_id, sample_index, round, text, model,"
            " sampling, latency_s, created_at) VALUES (1, 1, 1, 0, 0, 'kept', 'm', '{}', 0.1,"
            " '2026-01-01')"))
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT text, ask FROM generations")).all() == [("kept", "")]


OLD_ROWS = [
    "INSERT INTO seed_sets (id, name, kind, source, content_hash, item_count, created_at)"
    " VALUES (1, 's', 'prompts', 'f', 'h', 1, '2026-01-01')",
    "INSERT INTO seed_items (id, seed_set_id, ordinal, line_no, payload)"
    " VALUES (1, 1, 0, 1, '{}')",
    "INSERT INTO jobs (id, name, strategy, seed_set_id, params, model, status, created_at,"
    " updated_at) VALUES (1, 'j', 'constitutional', 1, '{}', 'm', 'done', '2026-01-01',"
    " '2026-01-01')",
    "INSERT INTO batches (id, job_id, \"index\", first_ordinal, last_ordinal, stage, round,"
    " attempts, updated_at) VALUES (1, 1, 0, 0, 0, 'done', 0, 0, '2026-01-01'),"
    " (2, 1, 1, 1, 1, 'verify', 1, 0, '2026-01-01')",
    "INSERT INTO prompts (id, job_id, batch_id, seed_item_id, variant, template_id,"
    " template_version, messages, reference, samples, passed)"
    " VALUES (1, 1, 1, 1, 'honesty', 't', 'v1', '[]', '{}', 2, 1)",
    "INSERT INTO generations (id, prompt_id, job_id, sample_index, round, role, text, model,"
    " sampling, latency_s, created_at) VALUES (1, 1, 1, 0, 0, 'follow', 'a', 'm', '{}', 0.1,"
    " '2026-01-01'), (2, 1, 1, 1, 0, 'violate', 'b', 'm', '{}', 0.1, '2026-01-01')",
    "INSERT INTO verdicts (id, generation_id, verifier, verifier_version, passed, status,"
    " details, created_at) VALUES (1, 1, 'model-judge', 'v1', TRUE, 'passed', '{}',"
    " '2026-01-01')",
    "INSERT INTO annotators (id, name, role, password_hash, created_at)"
    " VALUES (1, 'ann', 'annotator', 'x', '2026-01-01')",
    "INSERT INTO annotation_tasks (id, job_id, prompt_id, generation_ids, judgments_wanted,"
    " status, created_at) VALUES (1, 1, 1, '[1, 2]', 3, 'open', '2026-01-01')",
    "INSERT INTO judgments (id, task_id, annotator_id, shown_order, ranking, all_bad, skipped,"
    " comment, created_at) VALUES (1, 1, 1, '[2, 1]', '[[1], [2]]', FALSE, FALSE, 'ok',"
    " '2026-01-01')",
]


def _json(value: object) -> object:
    """A JSON column read with raw SQL: parsed on PostgreSQL, text on SQLite."""
    return json.loads(value) if isinstance(value, str) else value


def test_0007_renames_keep_every_row_and_go_back(store_url: str) -> None:
    """Judgments become rankings (ranking -> tiers), generations.role ask, prompts.variant
    prompt_key (its unique key renamed too), the stage verify judge, and back, without losing a
    row."""
    command.downgrade(alembic_config(store_url), "0006")
    engine = engine_for(store_url)
    with engine.begin() as conn:
        for sql in OLD_ROWS:
            conn.execute(text(sql))
    command.upgrade(alembic_config(store_url), "head")
    with engine.begin() as conn:
        [(rid, tiers, comment)] = conn.execute(text("SELECT id, tiers, comment FROM rankings"))
        assert (rid, _json(tiers), comment) == (1, [[1], [2]], "ok")
        assert conn.execute(text("SELECT rankings_wanted FROM annotation_tasks")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM verdicts")).scalar() == 1
        assert conn.execute(text("SELECT id, ask FROM generations ORDER BY id")).all() == [
            (1, "follow"), (2, "violate")]
        assert conn.execute(text("SELECT prompt_key, passed FROM prompts")).all() == [
            ("honesty", 1)]
        assert conn.execute(text("SELECT count(*) FROM annotation_tasks")).scalar() == 1
        assert conn.execute(text("SELECT stage FROM batches ORDER BY id")).scalars().all() == [
            "done", "judge"]
        # the id sequence goes on after the copied rows
        conn.execute(text(
            "INSERT INTO annotators (id, name, role, password_hash, created_at)"
            " VALUES (2, 'bob', 'annotator', 'x', '2026-01-01')"))
        conn.execute(text(
            "INSERT INTO rankings (task_id, annotator_id, shown_order, tiers, all_bad, skipped,"
            " created_at) VALUES (1, 2, '[1, 2]', '[[2], [1]]', FALSE, FALSE, '2026-01-02')"))
    assert "judgments" not in inspect(engine).get_table_names()
    command.check(alembic_config(store_url))
    command.downgrade(alembic_config(store_url), "0006")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM judgments ORDER BY id")).scalars().all() == [1, 2]
        assert conn.execute(text("SELECT judgments_wanted FROM annotation_tasks")).scalar() == 3
        assert conn.execute(text("SELECT role FROM generations ORDER BY id")).scalars().all() == [
            "follow", "violate"]
        assert conn.execute(text("SELECT variant FROM prompts")).scalar() == "honesty"
        assert conn.execute(text("SELECT stage FROM batches ORDER BY id")).scalars().all() == [
            "done", "verify"]
        assert conn.execute(text("SELECT count(*) FROM verdicts")).scalar() == 1
    engine.dispose()


def test_judgment_times_keep_open_claims_and_go_back(store_url: str) -> None:
    """A claim open during the upgrade counts as shown when last drawn, rankings made before
    have no time (unknown, not zero), and the columns go again on the way down. The revision
    is found by its message, so renumbering it at a merge changes nothing here."""
    script = ScriptDirectory.from_config(alembic_config(store_url))
    [times] = [r for r in script.walk_revisions() if r.doc.startswith("judgment times")]
    command.downgrade(alembic_config(store_url), "0006")
    engine = engine_for(store_url)
    with engine.begin() as conn:
        for sql in OLD_ROWS:
            conn.execute(text(sql))
        conn.execute(text("INSERT INTO annotation_claims (id, task_id, annotator_id, claimed_at)"
                          " VALUES (1, 1, 1, '2026-01-03 10:00:00')"))
    command.upgrade(alembic_config(store_url), "head")
    with engine.connect() as conn:
        [(shown, claimed)] = conn.execute(text(
            "SELECT shown_at, claimed_at FROM annotation_claims"))
        assert shown == claimed and shown is not None
        assert conn.execute(text("SELECT seconds FROM rankings")).scalar_one() is None
    command.downgrade(alembic_config(store_url), times.down_revision)
    columns = {t: {c["name"] for c in inspect(engine).get_columns(t)}
               for t in ("annotation_claims", "rankings")}
    assert "shown_at" not in columns["annotation_claims"] and "seconds" not in columns["rankings"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM annotation_claims")).scalar() == 1
    engine.dispose()


ADD_ANNOTATOR = text("INSERT INTO annotators (name, role, password_hash, created_at)"
                     " VALUES (:name, 'annotator', 'x', '2026-01-01')")


def test_the_store_refuses_annotator_names_differing_only_by_case(store_url: str) -> None:
    """add_annotator checks first, but two log-ins racing or a row written by hand would pass
    that check: a unique index on lower(name) holds it in the store."""
    engine = engine_for(store_url)
    with engine.begin() as conn:
        conn.execute(ADD_ANNOTATOR, {"name": "Alice"})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(ADD_ANNOTATOR, {"name": "aLICE"})
    with engine.begin() as conn:
        conn.execute(ADD_ANNOTATOR, {"name": "Alicia"})
        assert conn.execute(text("SELECT name FROM annotators ORDER BY id")).scalars().all() == [
            "Alice", "Alicia"]
    engine.dispose()


def test_name_index_upgrade_names_older_clashes_and_goes_back(store_url: str) -> None:
    """Names that clash from before the index stop the upgrade with the names to rename, not a
    bare index error; renamed, the upgrade goes through. Found by its message, as above."""
    script = ScriptDirectory.from_config(alembic_config(store_url))
    [index] = [r for r in script.walk_revisions() if r.doc.startswith("annotator names unique")]
    command.downgrade(alembic_config(store_url), index.down_revision)
    engine = engine_for(store_url)
    with engine.begin() as conn:
        for name in ("bob", "Bob", "carol"):
            conn.execute(ADD_ANNOTATOR, {"name": name})
    with pytest.raises(RuntimeError, match="differ only by case: bob; rename"):
        command.upgrade(alembic_config(store_url), "head")
    with engine.begin() as conn:
        conn.execute(text("UPDATE annotators SET name = 'Bob2' WHERE name = 'Bob'"))
    command.upgrade(alembic_config(store_url), "head")
    command.check(alembic_config(store_url))
    engine.dispose()
