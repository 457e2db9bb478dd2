"""Rounds, curation and flags of math rejection sampling, without any store or model."""

from factory.strategies import get_strategy, registry
from factory.strategies.base import JudgedSample, PromptSpec, Sample, VerdictSpec
from factory.strategies.math_rejection import MathParams, MathRejectionSampling


def sample(i: int, passed: bool, text: str | None = None) -> JudgedSample:
    return JudgedSample(generation_id=100 + i, sample_index=i, text=text or f"solution {i}",
                        verdict=VerdictSpec(passed=passed, score=float(passed)))


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


def test_rounds_stop_once_the_quota_is_met_and_cap_at_max() -> None:
    s = strategy(first_round=4, per_round=3, max_samples=10, sft_per_problem=2,
                 pairs_per_problem=4)
    assert s.samples_wanted(0, []) == 4
    # 2 distinct right x 2 distinct wrong: k SFT lines and m pairs are already there
    full = [sample(0, True), sample(1, True), sample(2, False), sample(3, False)]
    assert s.samples_wanted(1, full) == 0
    # both outcomes seen is not enough: one right gives 1 SFT line and 2 pairs
    assert s.samples_wanted(1, [sample(0, True), sample(1, False), sample(2, False)]) == 3
    # the same right answer twice (up to whitespace) is one SFT line
    same = [sample(0, True, "A"), sample(1, True, "A "), sample(2, False), sample(3, False)]
    assert s.samples_wanted(1, same) == 3
    # one wrong against four distinct rights makes the m=4 pairs
    assert s.samples_wanted(2, [sample(i, True) for i in range(4)] + [sample(4, False)]) == 0
    all_right = [sample(i, True) for i in range(4)]
    assert s.samples_wanted(1, all_right) == 3
    nine_wrong = [sample(i, False) for i in range(9)]
    assert s.samples_wanted(3, nine_wrong) == 1
    assert s.samples_wanted(4, nine_wrong + [sample(9, False)]) == 0


def test_a_sample_whose_check_errored_spends_budget_but_fills_no_quota() -> None:
    s = strategy(first_round=2, per_round=2, max_samples=6, sft_per_problem=1,
                 pairs_per_problem=1)
    broken = JudgedSample(generation_id=9, sample_index=9, text="w",
                          verdict=VerdictSpec(passed=False, error="sandbox down"))
    assert s.samples_wanted(1, [sample(0, True), broken]) == 2
    assert s.samples_wanted(1, [sample(0, True), sample(1, False)]) == 0
    assert s.samples_wanted(3, [sample(0, True)] + [broken] * 5) == 0  # N spent


def test_settle_after_stops_one_sided_prompts_only_when_asked() -> None:
    easy = [sample(i, True) for i in range(8)]
    hard = [sample(i, False) for i in range(8)]
    assert strategy(per_round=4).samples_wanted(2, easy) == 4
    settling = strategy(per_round=4, settle_after=8)
    assert settling.samples_wanted(2, easy) == 0
    assert settling.samples_wanted(2, hard) == 0
    assert settling.samples_wanted(1, easy[:4]) == 4  # not yet 8
    assert settling.samples_wanted(2, easy[:1] + hard[1:]) == 4  # two-sided, quota unmet


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
    verdicts = s.judge(spec, [Sample(text=t) for t in texts])
    assert [v.passed for v in verdicts] == [True, False, False]
    assert verdicts[0].details["extracted"]
