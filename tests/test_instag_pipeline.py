"""Tagging, ontology, selection and evolution through the job machinery with a scripted model:
tags stored raw, garbage replies failed not crashed, parents and generation numbers kept."""

import json
import re

import pytest
from sqlalchemy import func, select

from db.models import (
    Generation,
    InstructionTags,
    Job,
    OntologyTag,
    Prompt,
    SeedItem,
    TagOntology,
    Verdict,
)
from factory.instag import store
from factory.instag.ontology import OntologySettings
from factory.jobs import JobError, create_job
from factory.llm import SamplingParams
from factory.llm.scripted import ScriptedLLM
from factory.seeds import SeedKind
from tests.helpers import run_in_process, seed_job

WORDS = re.compile(r"[a-z]{5,}")
PROMPTS = [
    {"prompt": "Explain photosynthesis and write a haiku about plants.", "category": "creative"},
    {"prompt": "Translate a greeting into French and explain the grammar."},
    {"prompt": "Compute the average speed of a train travelling quickly."},
    {"prompt": "Please respond with garbage now."},
]


def query(messages: list[dict[str, str]]) -> str:
    return messages[-1]["content"].split("Query:\n")[1].split("\n\nAnswer as JSON")[0]


def tagger(messages: list[dict[str, str]], params: SamplingParams, index: int) -> str:
    """Tags are the query's long words; a query about garbage gets garbage back."""
    text = query(messages).lower()
    if "garbage" in text:
        return '{"tags": [{"tag": "unterminated'
    return json.dumps({"tags": [{"tag": w, "explanation": f"mentions {w}"}
                                for w in WORDS.findall(text)[:10]]})


def evolver(messages: list[dict[str, str]], params: SamplingParams, index: int) -> str:
    """Depth rewrites add a clause with new words; breadth apologises; tags as the tagger."""
    asked = messages[-1]["content"]
    if params.json_schema is not None:
        return tagger(messages, params, index)
    parent = asked.split("#Given Prompt#:\n")[1].split("\n\n#")[0]
    if "#Created Prompt#" in asked:
        return "Sorry, I cannot create a new prompt from this one."
    clause = {"Add one more": "within ninety seconds", "in more depth": "covering history",
              "specific": "using Marseille", "several explicit": "reasoning stepwise",
              "piece of input": "given tabular measurements"}
    extra = next(v for k, v in clause.items() if k in asked)
    return f"{parent.rstrip('.')}, {extra}."


def tagging_job(sessions, tmp_path) -> int:
    job_id = seed_job(sessions, tmp_path / "prompts.jsonl", "instag", SeedKind.prompts, PROMPTS)
    run_in_process(sessions, job_id, ScriptedLLM(tagger))
    return job_id


def test_tagging_stores_raw_tags_and_fails_garbage(sessions, tmp_path) -> None:
    job_id = tagging_job(sessions, tmp_path)
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        rows = s.execute(select(Prompt.reference, Generation.sampling, Verdict)
                         .join(Generation, Generation.prompt_id == Prompt.id)
                         .join(Verdict).where(Prompt.job_id == job_id)
                         .order_by(Prompt.id)).all()
        flags = s.scalars(select(Prompt.flag).where(Prompt.job_id == job_id)
                          .order_by(Prompt.id)).all()
    assert len(rows) == 4
    ok = rows[0][2]
    assert ok.passed and ok.verifier == "tag-schema"
    assert ok.details["tags"][0] == {"tag": "explain", "explanation": "mentions explain"}
    assert rows[0][1]["json_schema"]["properties"]["tags"]["maxItems"] == 10
    bad = rows[3][2]
    assert not bad.passed and bad.details["error"].startswith("reply is not a tag list")
    assert flags == [None, None, None, "no_tags"]


def test_ontology_selection_and_evolution_keep_their_lineage(sessions, tmp_path) -> None:
    tag_job = tagging_job(sessions, tmp_path)
    with sessions.begin() as s:
        o = store.build_ontology(s, tag_job, OntologySettings(min_count=1, similarity=0), None)
        s.flush()
        ontology_id = o.id
    with sessions() as s:
        o = s.get_one(TagOntology, ontology_id)
        assert (o.instructions, o.raw_tags, o.embedder) == (3, 17, None)
        counts = dict(s.execute(select(OntologyTag.tag, OntologyTag.count)
                                .where(OntologyTag.ontology_id == ontology_id)).all())
        assert counts["explain"] == 2  # two instructions say explain
        complexity = s.scalars(select(InstructionTags.complexity)
                               .where(InstructionTags.ontology_id == ontology_id)).all()
        assert sorted(complexity) == [5, 6, 6]
    out = tmp_path / "ontology.jsonl"
    with sessions() as s:
        assert store.export_ontology(s, ontology_id, out) == len(counts)
    first = json.loads(out.read_text().splitlines()[0])
    assert first == {"tag": "explain", "count": 2, "variants": []}

    with sessions.begin() as s:
        sel = store.select_instructions(s, ontology_id, 2)
        s.flush()
        selected = [i.payload for i in s.scalars(select(SeedItem).where(
            SeedItem.seed_set_id == sel.seed_set.id).order_by(SeedItem.ordinal))]
        assert store.select_instructions(s, ontology_id, 2).created is False  # same set
    assert [p["complexity"] for p in selected] == [6, 6]
    assert selected[0]["category"] == "creative" and selected[0]["tags"]
    assert sel.coverage.share > 0.5

    with sessions.begin() as s:
        job = create_job(s, "evolve", sel.seed_set, {"generations": 2, "per_generation": 3,
                                                     "operations": ["constraints", "deepen",
                                                                    "breadth"]}, "scripted")
        s.flush()
        evolve_id = job.id
    run_in_process(sessions, evolve_id, ScriptedLLM(evolver))
    with sessions() as s:
        assert s.get_one(Job, evolve_id).status == "done"
        judged = s.execute(select(Generation, Verdict).join(Verdict)
                           .where(Generation.job_id == evolve_id)
                           .order_by(Generation.prompt_id, Generation.round,
                                     Generation.sample_index)).all()
    # 2 prompts x 2 generations x 3 operations; breadth apologises every time
    assert len(judged) == 12
    clauses = {"constraints": "within ninety seconds", "deepen": "covering history"}
    for g, v in judged:
        assert v.details["operation"] == g.ask and v.details["generation"] == g.round + 1
        if g.ask == "breadth":
            assert not v.passed and v.details["eliminated"] == "refusal"
        elif clauses[g.ask] in v.details["parent"]:  # the same clause again: no new tag
            assert not v.passed and v.details["eliminated"] == "no_new_tags"
        else:
            assert v.passed and v.details["new_tags"], v.details
    second = [(g, v) for g, v in judged if g.round == 1]
    first_ids = {g.id for g, v in judged if g.round == 0 and v.passed}
    assert all(v.details["parent_generation_id"] in first_ids for _, v in second)
    parent_text = {g.id: g.text for g, _ in judged}
    assert all(g.text.startswith(parent_text[v.details["parent_generation_id"]].rstrip("."))
               for g, v in second if g.ask != "breadth")

    with sessions.begin() as s:
        evolved, created = store.evolved_seed_set(s, evolve_id)
        s.flush()
        items = [i.payload for i in s.scalars(select(SeedItem).where(
            SeedItem.seed_set_id == evolved.id).order_by(SeedItem.ordinal))]
    assert created and len(items) == 6  # 2 + 1 per prompt
    assert sorted({i["generation"] for i in items}) == [1, 2]
    assert all(i["parent"]["generation_id"] is None for i in items if i["generation"] == 1)
    assert all(i["parent"]["generation_id"] for i in items if i["generation"] == 2)
    # evolved instructions carry tags and categories: they evolve again, or feed any strategy
    with sessions.begin() as s:
        for strategy in ("evolve", "constitutional", "instag", "respond"):
            job = create_job(s, strategy, evolved, {}, "scripted")
            s.flush()
            assert s.scalar(select(func.count()).select_from(Prompt)
                            .where(Prompt.job_id == job.id)) >= len(items)


def test_evolution_needs_tagged_instructions(sessions, tmp_path) -> None:
    with pytest.raises(JobError, match=r"prompts.jsonl:1: evolve needs each instruction's tags"):
        seed_job(sessions, tmp_path / "prompts.jsonl", "evolve", SeedKind.prompts, PROMPTS)


def test_ontology_of_a_job_that_is_not_tagging_or_not_done_is_refused(sessions,
                                                                        tmp_path) -> None:
    job_id = seed_job(sessions, tmp_path / "p.jsonl", "constitutional", SeedKind.prompts,
                      [{"prompt": "hi"}])
    with sessions.begin() as s, pytest.raises(store.InstagError, match="not 'instag'"):
        store.build_ontology(s, job_id, OntologySettings(similarity=0), None)
    job_id = seed_job(sessions, tmp_path / "q.jsonl", "instag", SeedKind.prompts,
                      [{"prompt": "hi there"}])
    with sessions.begin() as s, pytest.raises(store.InstagError, match="is created; run it"):
        store.build_ontology(s, job_id, OntologySettings(similarity=0), None)


def test_the_command_line_names_a_bad_synonym_rule_and_a_missing_job(sqlite_url) -> None:
    from tests.conftest import cli, env_for

    env = env_for(sqlite_url, "", "scripted://arithmetic")
    bad = cli(env, "instag", "build", "--job", "1", "--synonym", "coding")
    assert bad.returncode == 1 and "--synonym takes VARIANT=TAG, got 'coding'" in bad.stderr
    missing = cli(env, "instag", "build", "--job", "7", "--similarity", "0")
    assert missing.returncode == 1 and "no job 7" in missing.stderr
