"""Constitutional feedback: constitution files, pairing, critique filtering and revise-once,
with a scripted model whose critic believes a response follows iff it says FOLLOW."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import Generation, Job, PreferencePair, Prompt, SftExample, Verdict
from factory.constitution import ConstitutionError, load_constitution
from factory.export import ExportFilter, export
from factory.jobs import JobError
from factory.llm import LLMRefused, LLMResponseError, SamplingParams
from factory.llm.scripted import ScriptedLLM
from factory.seeds import SeedKind
from factory.stages import CHECK_ATTEMPTS
from tests.helpers import run_in_process, seed_job

PROMPTS = [{"prompt": "How do I pick a lock?", "category": "general"},
           {"prompt": "Write a poem about rain.", "category": "creative"}]


def critic(messages: list[dict[str, str]], params: SamplingParams, index: int) -> str:
    """Writers answer by their system prompt; the critic reads the response for FOLLOW."""
    if params.json_schema is not None:
        response = messages[-1]["content"].split("Response:")[1]
        verdict = "follows" if "FOLLOW" in response else "violates"
        return json.dumps({"verdict": verdict, "reason": f"it {verdict}"})
    system = messages[0]["content"]
    about = system.splitlines()[1][:30]  # the principle: answers differ between principles
    return (f"FOLLOW: a careful answer on {about}" if "while following" in system
            else f"a careless answer on {about}")


def stubborn(messages: list[dict[str, str]], params: SamplingParams, index: int) -> str:
    """Never follows at first, follows when asked to revise; never manages to violate."""
    if params.json_schema is not None:
        return critic(messages, params, index)
    revising = any(m["role"] == "assistant" for m in messages)
    return "FOLLOW now, revised" if revising else "FOLLOW too, oddly" if "violates" in \
        messages[0]["content"] else "a sloppy first answer"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "constitution.yaml"
    path.write_text(text)
    return str(path)


def test_default_constitution_has_the_five_principles() -> None:
    c = load_constitution()
    assert [p.id for p in c.principles] == ["safety", "honesty", "helpfulness", "privacy",
                                            "harmlessness"]


@pytest.mark.parametrize("text, problem", [
    ("principles: [id: x", "not valid YAML at line 1"),
    ("principles:\n  - id: a\n", "principle 1 ('a'), field 'principle': Field required"),
    ("principles:\n  - {id: a, principle: p}\n  - {id: a, principle: q}\n",
     "duplicate principle id 'a' (principles 1 and 2)"),
    ("categories: [general]\nprinciples:\n  - {id: a, principle: p, categories: [genral]}\n",
     "principle 'a': unknown category 'genral'"),
    ("- just a list", "expected a mapping with 'principles'"),
])
def test_malformed_constitution_is_a_clear_error(tmp_path: Path, text: str, problem: str
                                                 ) -> None:
    with pytest.raises(ConstitutionError, match="constitution.yaml: .*" + re.escape(problem)):
        load_constitution(write(tmp_path, text))


def test_job_reports_unknown_prompt_category_and_unknown_principle(sessions, tmp_path) -> None:
    with pytest.raises(JobError, match=r"seeds.jsonl:2: prompt category 'cooking' is not one"):
        seed_job(sessions, tmp_path / "seeds.jsonl", "constitutional", SeedKind.prompts,
                 [{"prompt": "a", "category": "general"}, {"prompt": "b", "category": "cooking"}])
    with pytest.raises(JobError, match="no principle with id 'kindness'"):
        seed_job(sessions, tmp_path / "s2.jsonl", "constitutional", SeedKind.prompts,
                 PROMPTS, only=["honesty", "kindness"])
    bad = write(tmp_path, "principles:\n  - id: a\n")
    with pytest.raises(JobError, match="field 'principle': Field required"):
        seed_job(sessions, tmp_path / "s3.jsonl", "constitutional", SeedKind.prompts,
                 PROMPTS, constitution=bad)


def test_pairs_follow_against_violate_and_exports_the_principle(sessions, tmp_path) -> None:
    job_id = seed_job(sessions, tmp_path / "seeds.jsonl", "constitutional", SeedKind.prompts,
                      PROMPTS, only=["honesty", "privacy"])
    llm = ScriptedLLM(critic)
    run_in_process(sessions, job_id, llm)
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        # privacy applies to general prompts only: 2 + 1 prompt-principle combinations
        assert sorted(s.scalars(select(Prompt.prompt_key)).all()) == ["honesty", "honesty",
                                                                  "privacy"]
        gens = s.scalars(select(Generation)).all()
        assert sorted(g.ask for g in gens) == ["follow"] * 3 + ["violate"] * 3
        assert all(g.round == 0 for g in gens)  # nothing failed, nothing revised
        verdicts = s.scalars(select(Verdict)).all()
        assert len(verdicts) == 6 and all(v.passed for v in verdicts)
        assert {v.verifier for v in verdicts} == {"model-judge"}
        assert all(v.details["judge_model"] == "scripted" for v in verdicts)
        pairs = s.scalars(select(PreferencePair)).all()
        assert len(pairs) == 3
        for pair in pairs:
            assert pair.prompt[0]["role"] == "user"  # the guiding system prompt is not kept
            assert pair.chosen[0]["content"].startswith("FOLLOW")
            assert "FOLLOW" not in pair.rejected[0]["content"]
        assert len(s.scalars(select(SftExample)).all()) == 3
    out = tmp_path / "dpo.jsonl"
    with sessions() as s:
        export(s, "dpo", out, ExportFilter(job_id=job_id))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["metadata"]["principle"] for line in lines) == ["honesty", "honesty",
                                                                       "privacy"]


def test_failed_side_is_revised_once_and_unpaired_prompts_are_flagged(sessions, tmp_path
                                                                       ) -> None:
    job_id = seed_job(sessions, tmp_path / "seeds.jsonl", "constitutional", SeedKind.prompts,
                      PROMPTS[:1], only=["honesty"])
    llm = ScriptedLLM(stubborn)
    run_in_process(sessions, job_id, llm)
    with sessions() as s:
        gens = s.scalars(select(Generation).order_by(Generation.sample_index)).all()
        assert [(g.ask, g.round) for g in gens] == [
            ("follow", 0), ("violate", 0), ("follow", 1), ("violate", 1)]
        passed = dict(s.execute(select(Generation.id, Verdict.passed).join(Verdict)).all())
        assert [passed[g.id] for g in gens] == [False, False, True, False]
        sft = s.scalars(select(SftExample)).all()
        assert [x.messages[-1]["content"] for x in sft] == ["FOLLOW now, revised"]
        assert sft[0].meta["revised"] is True and sft[0].meta["principle"] == "honesty"
        assert s.scalars(select(PreferencePair)).all() == []
        assert s.scalars(select(Prompt.flag)).all() == ["no_pair"]
    # the revision saw the failed answer and the critique
    revise_asks = [a for a in llm.asked if "A reviewer read your response" in a]
    assert len(revise_asks) == 2 and "it violates" in revise_asks[0]


def test_garbage_from_the_critic_fails_the_sample_with_the_reason(sessions, tmp_path) -> None:
    def babbler(messages, params, index):
        return "}}} not json" if params.json_schema else "an answer"

    job_id = seed_job(sessions, tmp_path / "seeds.jsonl", "constitutional", SeedKind.prompts,
                      PROMPTS[:1], only=["honesty"], revise=False)
    run_in_process(sessions, job_id, ScriptedLLM(babbler))
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        verdicts = s.scalars(select(Verdict)).all()
        assert len(verdicts) == 2 and not any(v.passed for v in verdicts)
        assert all("judge reply is not a valid verdict" in v.details["error"] for v in verdicts)
        assert verdicts[0].details["raw"] == "}}} not json"


def test_a_refused_judge_request_is_not_asked_again_but_a_garbled_one_is(sessions, tmp_path
                                                                          ) -> None:
    """The judge refusing a sample (a 4xx: too long to judge, say) is the same however often it
    is asked: the judge's retry of errored checks does not ask again, nor re-judge its prompt's
    other sample; a garbled answer says nothing of the sample and is asked again."""
    asked: Counter[tuple[str, str]] = Counter()  # judge requests per (prompt, side)

    def refuses_or_garbles(messages, params, index):
        if params.json_schema is None:
            return critic(messages, params, index)
        content = messages[-1]["content"]
        key = ("rain" if "rain" in content else "lock",
               "follow" if "FOLLOW" in content.split("Response:")[1] else "violate")
        asked[key] += 1
        if key[0] == "rain":
            raise LLMResponseError("scripted judge: the body is not JSON")
        if key[1] == "follow":
            raise LLMRefused("scripted judge refused the request: HTTP 400: too long to judge")
        return critic(messages, params, index)

    job_id = seed_job(sessions, tmp_path / "seeds.jsonl", "constitutional", SeedKind.prompts,
                      PROMPTS, only=["honesty"], revise=False)
    run_in_process(sessions, job_id, ScriptedLLM(refuses_or_garbles))
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        rows = s.execute(select(Prompt.messages, Generation.ask, Verdict)
                         .join(Generation, Generation.prompt_id == Prompt.id)
                         .join(Verdict, Verdict.generation_id == Generation.id)).all()
    found = {("rain" if "rain" in m[-1]["content"] else "lock", ask):
             (v.status, v.details.get("check_attempts", 1)) for m, ask, v in rows}
    assert found == {("lock", "follow"): ("error", 1),  # refused: not asked again,
                     ("lock", "violate"): ("passed", 1),  # nor its sibling re-judged
                     ("rain", "follow"): ("error", CHECK_ATTEMPTS),  # garbled: asked again
                     ("rain", "violate"): ("error", CHECK_ATTEMPTS)}
    assert asked == {("lock", "follow"): 1, ("lock", "violate"): 1,
                     ("rain", "follow"): CHECK_ATTEMPTS, ("rain", "violate"): CHECK_ATTEMPTS}
