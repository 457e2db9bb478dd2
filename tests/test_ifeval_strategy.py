"""The ifeval strategy: constraints drawn per seed item (deterministic, never conflicting),
worded into the prompt and stored with it; judged by the IFEval checks; SFT from responses
that follow every constraint, pairs against the fewest followed; a job in-process on SQLite
with a scripted model."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from db.models import Job, PreferencePair, Prompt, SftExample, Verdict
from factory.llm.base import SamplingParams
from factory.llm.scripted import ScriptedLLM
from factory.seeds import SeedKind
from factory.strategies import get_strategy
from factory.strategies.base import JudgedSample, PromptSpec, Sample, VerdictSpec
from factory.strategies.instruction_following import IfevalParams, InstructionFollowing
from tests.helpers import run_in_process, seed_job
from verifiers.ifeval import REGISTRY, compatible, evaluate

THREE = ["punctuation:no_comma", "detectable_format:title", "change_case:english_lowercase"]
ALL = "<<plan>>\nwe walk to the river and back home before the evening meal today."
NONE = "Hello, World"
ONE = "<<plan>>\nHello, World"  # a title only
TWO = "no title here and no commas either so two of the three hold today"


def strategy(**params) -> InstructionFollowing:
    return InstructionFollowing(IfevalParams(**params))


def test_registered_as_ifeval_on_prompt_seeds() -> None:
    assert get_strategy("ifeval") is InstructionFollowing
    assert InstructionFollowing.seed_kind == SeedKind.prompts


def test_constraints_are_deterministic_compatible_and_worded() -> None:
    s = strategy(seed=7)
    seeds = [{"prompt": f"Write about topic number {i}."} for i in range(300)]
    specs = [s.build_prompts(seed)[0] for seed in seeds]
    again = [strategy(seed=7).build_prompts(seed)[0] for seed in seeds]
    assert [x.reference for x in specs] == [x.reference for x in again]
    other = [strategy(seed=8).build_prompts(seed)[0].reference for seed in seeds]
    assert other != [x.reference for x in specs]
    seen = set()
    for seed, spec in zip(seeds, specs, strict=True):
        ref = spec.reference
        ids = ref["instruction_id_list"]
        assert 1 <= len(ids) <= 3 and compatible(ids)
        assert ref["instruction"] == seed["prompt"] and len(ref["kwargs"]) == len(ids)
        content = spec.messages[0]["content"]
        assert content.startswith(seed["prompt"]) and len(content) > len(seed["prompt"]) + 20
        evaluate("anything", ids, ref["kwargs"])  # the drawn kwargs are valid
        if "combination:repeat_prompt" in ids:
            i = ids.index("combination:repeat_prompt")
            assert ref["kwargs"][i]["prompt_to_repeat"] == seed["prompt"]
        seen.update(ids)
    assert len(seen) >= 23  # nearly every type turns up in 300 prompts
    assert seen <= set(REGISTRY)
    assert spec.template_id == "ifeval/constrained_v1"


def test_params_refuse_unknown_types_and_an_empty_range() -> None:
    with pytest.raises(ValidationError, match="unknown instruction id"):
        IfevalParams(types=["punctuation:semicolon"])
    with pytest.raises(ValidationError, match="less than"):
        IfevalParams(min_constraints=3, max_constraints=2)
    s = strategy(types=THREE, min_constraints=3, max_constraints=3)
    (spec,) = s.build_prompts({"prompt": "Plan a walk."})
    assert sorted(spec.reference["instruction_id_list"]) == sorted(THREE)


def spec() -> PromptSpec:
    (p,) = strategy(types=THREE, min_constraints=3, max_constraints=3).build_prompts(
        {"prompt": "Plan a walk."})
    return p


def test_judge_scores_the_fraction_followed() -> None:
    verdicts = strategy(types=THREE).judge(spec(), [Sample(text=t) for t in
                                                    (ALL, NONE, ONE, TWO)])
    assert [v.passed for v in verdicts] == [True, False, False, False]
    assert [round(v.score, 2) for v in verdicts] == [1.0, 0.0, 0.33, 0.67]
    assert verdicts[2].details["strict"] == [
        iid == "detectable_format:title" for iid in spec().reference["instruction_id_list"]]


def test_loose_mode_forgives_a_chatty_first_line() -> None:
    text = "Sure, Here you are:\n" + ALL
    assert not strategy().judge(spec(), [Sample(text=text)])[0].passed
    assert strategy(mode="loose").judge(spec(), [Sample(text=text)])[0].passed


def judged(i: int, text: str, score: float) -> JudgedSample:
    return JudgedSample(generation_id=100 + i, sample_index=i, text=text,
                        verdict=VerdictSpec(passed=score == 1.0, score=score))


def test_pairs_reject_the_fewest_followed_and_meta_carries_the_constraints() -> None:
    s = strategy(sft_per_problem=2, pairs_per_problem=4)
    p = spec()
    samples = [judged(0, ALL, 1.0), judged(1, ALL + " yes", 1.0), judged(2, TWO, 2 / 3),
               judged(3, NONE, 0.0), judged(4, NONE + "!", 0.0)]
    cur = s.curate(p, samples)
    assert [x.generation_id for x in cur.sft] == [100, 101]
    assert {x.rejected_generation_id for x in cur.pairs} == {103, 104}
    assert len(cur.pairs) == 4
    for line in [*cur.sft, *cur.pairs]:
        assert line.meta["instruction_id_list"] == p.reference["instruction_id_list"]
        assert line.meta["kwargs"] == p.reference["kwargs"]
        assert line.meta["instruction"] == "Plan a walk."
    assert cur.pairs[0].meta["rejected_score"] == 0.0
    # the quota counts only the fewest-followed as rejectable: 2 passing x 1 = 2 pairs < 4
    assert s.samples_wanted(1, samples[:4]) > 0
    assert s.samples_wanted(1, samples) == 0


def responder(messages: list[dict[str, str]], params: SamplingParams, index: int) -> str:
    return (ALL, NONE, ONE, TWO)[index % 4]


def test_a_job_runs_in_process_and_stores_constraints(sessions, tmp_path: Path) -> None:
    records = [{"prompt": "Plan a walk by the river.", "category": "plans"},
               {"prompt": "Describe a quiet morning."}]
    job_id = seed_job(sessions, tmp_path / "prompts.jsonl", "ifeval", SeedKind.prompts,
                      records, types=THREE, min_constraints=3, max_constraints=3,
                      first_round=4, max_samples=8, sft_per_problem=1, pairs_per_problem=1)
    run_in_process(sessions, job_id, ScriptedLLM(responder))
    with sessions() as s:
        assert s.get_one(Job, job_id).status == "done"
        prompts = s.scalars(select(Prompt).where(Prompt.job_id == job_id)).all()
        assert len(prompts) == 2
        assert prompts[0].reference["category"] == "plans"
        verdicts = s.scalars(select(Verdict)).all()
        assert {v.verifier for v in verdicts} == {"ifeval"}
        assert sorted(round(v.score, 2) for v in verdicts) == [0.0, 0.0, 0.33, 0.33,
                                                                0.67, 0.67, 1.0, 1.0]
        sft = s.scalars(select(SftExample).where(SftExample.job_id == job_id)).all()
        pairs = s.scalars(select(PreferencePair).where(PreferencePair.job_id == job_id)).all()
        assert len(sft) == 2 and len(pairs) == 2
        assert all(x.messages[-1]["content"] == ALL for x in sft)
        assert all(x.meta["kwargs"] == [{}, {}, {}] and
                   sorted(x.meta["instruction_id_list"]) == sorted(THREE) for x in sft)
        assert all(x.rejected[-1]["content"] == NONE for x in pairs)
