"""Rounds, curation and flags of math rejection sampling, without any store or model."""

from factory.strategies import get_strategy, registry
from factory.strategies.base import Candidate, JudgedSample, Judgement, PromptSpec
from factory.strategies.math_rejection import MathParams, MathRejectionSampling


def sample(i: int, passed: bool, text: str | None = None) -> JudgedSample:
    return JudgedSample(generation_id=100 + i, sample_index=i, text=text or f"solution {i}",
                        judgement=Judgement(passed=passed, score=float(passed)))


def strategy(**params) -> MathRejectionSampling:
    return MathRejectionSampling(MathParams(**params))


def test_registry_discovers_math_by_module() -> None:
    assert get_strategy("math") is MathRejectionSampling
    assert "math" in registry()


def test_prompt_uses_versioned_template_and_keeps_reference() -> None:
    (spec,) = strategy().build_prompts({"problem": "What is 2 + 2?", "answer": "4"})
    assert spec.template_id == "math/solve_v1" and spec.reference == {"answer": "4"}
    assert "What is 2 + 2?" in spec.messages[0]["content"]
    assert "\\boxed{}" in spec.messages[0]["content"]


def test_rounds_stop_once_both_outcomes_seen_and_cap_at_max() -> None:
    s = strategy(first_round=4, per_round=3, max_samples=10)
    assert s.samples_wanted(0, []) == 4
    mixed = [sample(0, True), sample(1, False)]
    assert s.samples_wanted(1, mixed) == 0
    all_right = [sample(i, True) for i in range(4)]
    assert s.samples_wanted(1, all_right) == 3
    nine_wrong = [sample(i, False) for i in range(9)]
    assert s.samples_wanted(3, nine_wrong) == 1
    assert s.samples_wanted(4, nine_wrong + [sample(9, False)]) == 0


def test_curation_keeps_k_distinct_correct_and_m_pairs() -> None:
    s = strategy(sft_per_problem=2, pairs_per_problem=3)
    judged = [sample(0, True, "A"), sample(1, True, "A "), sample(2, True, "B"),
              sample(3, True, "C"), sample(4, False, "X"), sample(5, False, "Y")]
    spec = PromptSpec(template_id="math/solve_v1", messages=[{"role": "user", "content": "q"}],
                      reference={"answer": "1"})
    cur = s.curate(spec, judged)
    assert [x.messages[-1]["content"] for x in cur.sft] == ["A", "B"]  # "A " is a duplicate
    assert len(cur.pairs) == 3
    assert len({(p.chosen_generation_id, p.rejected_generation_id) for p in cur.pairs}) == 3
    for p in cur.pairs:
        assert p.chosen[0]["content"] in {"A", "B", "C"}
        assert p.rejected[0]["content"] in {"X", "Y"}
    assert cur.flag is None


def test_flags_too_easy_and_too_hard() -> None:
    s = strategy()
    spec = PromptSpec(template_id="t_v1", messages=[], reference={"answer": "1"})
    easy = s.curate(spec, [sample(i, True) for i in range(3)])
    hard = s.curate(spec, [sample(i, False) for i in range(3)])
    assert (easy.flag, len(easy.pairs)) == ("too_easy", 0)
    assert (hard.flag, len(hard.sft), len(hard.pairs)) == ("too_hard", 0, 0)


def test_judge_uses_math_equivalence() -> None:
    s = strategy()
    spec = PromptSpec(template_id="t_v1", messages=[], reference={"answer": "1/2"})
    texts = ["so \\boxed{0.5}", "so \\boxed{2}", "no answer"]
    verdicts = s.judge(spec, [Candidate(text=t) for t in texts])
    assert [v.passed for v in verdicts] == [True, False, False]
    assert verdicts[0].details["extracted"]
