"""InsTag end to end on the real parts: the tiny model on vLLM tags instructions and judges
evolutions under structured outputs, Celery workers on Redis run the jobs, PostgreSQL keeps
everything, and the `factory instag` commands build, show, export, select and collect."""

import json
import re
from pathlib import Path

from sqlalchemy import select

from db.models import Generation, InstructionTags, Job, SeedItem, TagOntology, Verdict
from db.session import sessionmaker_for
from factory.strategies.tagging import TAG_SCHEMA, parse_tags
from tests.conftest import cli, env_for
from tests.guarantees import assert_job_accounted, assert_judge_replies_accounted
from tests.helpers import ROOT

PROMPTS = ROOT / "factory" / "data" / "prompts.jsonl"


def number(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found, text
    return int(found[1])


def run_job(env: dict[str, str], strategy: str, seed_set: int, *params: str) -> int:
    made = cli(env, "job", "create", "--strategy", strategy, "--seeds", str(seed_set),
               *[a for p in params for a in ("--param", p)])
    assert made.returncode == 0, made.stdout + made.stderr
    job_id = number(r"job (\d+)", made.stdout)
    ran = cli(env, "job", "run", str(job_id), timeout=600)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return job_id


def verdicts(pg, job_id: int) -> list[tuple[Generation, Verdict]]:
    with pg() as s:
        assert s.get_one(Job, job_id).status == "done"
        return s.execute(select(Generation, Verdict).join(Verdict)
                         .where(Generation.job_id == job_id)).all()


def test_tag_select_evolve_on_vllm_redis_and_postgres(vllm_url: str, pg_url: str,
                                                      redis_url: str, workers,
                                                      tmp_path: Path) -> None:
    env = env_for(pg_url, redis_url, vllm_url)
    w = workers(env)
    w.start("generate")
    w.start("verify,sandbox")
    pg = sessionmaker_for(pg_url)
    imported = cli(env, "seeds", "import", str(PROMPTS), "--kind", "prompts")
    assert imported.returncode == 0, imported.stderr
    prompts = number(r"seed set (\d+)", imported.stdout)

    tag_job = run_job(env, "instag", prompts, "batch_size=8")
    tagged = verdicts(pg, tag_job)
    assert len(tagged) == 16 and {g.model for g, _ in tagged} == {"tiny-qwen2"}
    assert_job_accounted(pg, tag_job)
    for g, v in tagged:
        assert g.sampling["json_schema"] == TAG_SCHEMA  # asked under structured outputs
        # the verdict is the reply's own: a reply that does not parse fails with the reason
        tags, error = parse_tags(g.text)
        assert (v.passed, v.details.get("error")) == (error is None, error)
        assert v.details["tags"] == tags and len(tags) <= 10
    valid = sum(v.passed for _, v in tagged)

    built = cli(env, "instag", "build", "--job", str(tag_job), "--min-count", "1")
    if not valid:  # the model may fail every reply: then a clear error, nothing stored
        assert built.returncode == 1 and "no instruction with a valid tag list" in built.stderr
        return
    assert built.returncode == 0, built.stdout + built.stderr
    ontology = number(r"ontology (\d+)", built.stdout)
    with pg() as s:
        o = s.get_one(TagOntology, ontology)
        assert o.instructions == valid and o.embedder == "all-MiniLM-L6-v2"
        per = s.scalars(select(InstructionTags).where(InstructionTags.ontology_id == ontology))
        assert all(it.complexity == len(it.tags) for it in per)
    shown = cli(env, "instag", "show", str(ontology))
    assert shown.returncode == 0 and f"ontology {ontology}" in shown.stdout
    out = tmp_path / "ontology.jsonl"
    exported = cli(env, "instag", "export", str(ontology), "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and all(set(t) == {"tag", "count", "variants"} for t in lines)

    chosen = cli(env, "instag", "select", "--ontology", str(ontology), "-n", "4")
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr
    assert "tag coverage: selection" in chosen.stdout and "random" in chosen.stdout
    selected = number(r"seed set (\d+)", chosen.stdout)
    picked = min(4, valid)

    evolve_job = run_job(env, "evolve", selected, "generations=2", "per_generation=2",
                         "max_tokens=96", "judge_max_tokens=384")
    acc = assert_job_accounted(pg, evolve_job)
    assert_judge_replies_accounted(acc)
    evolved = verdicts(pg, evolve_job)
    assert len({g.prompt_id for g, _ in evolved}) == picked
    assert {g.round for g, _ in evolved} <= {0, 1}
    for g, v in evolved:
        assert v.details.get("operation", g.ask) == g.ask
        if "generation" in v.details:
            assert v.details["generation"] == g.round + 1
        # a failed evolution says why: a rule eliminated it, or the judge's reply did not parse
        assert v.passed or v.details.get("eliminated") or v.details.get("error"), v.details
    collected = cli(env, "instag", "evolved", "--job", str(evolve_job))
    if any(v.passed for _, v in evolved):
        assert collected.returncode == 0, collected.stdout + collected.stderr
        seed_set = number(r"seed set (\d+)", collected.stdout)
        with pg() as s:
            items = s.scalars(select(SeedItem.payload).where(SeedItem.seed_set_id == seed_set))
            assert all(i["parent"]["text"] and i["generation"] >= 1 for i in items)
    else:  # the tiny model may fail every evolution: then a clear error, nothing stored
        assert collected.returncode == 1 and "no surviving evolution" in collected.stderr
