"""Constraint draws a response can follow: never a pair whose kwargs contradict each other
(a word required and forbidden, a marker in the wrong case, a comma to repeat with no commas,
a letter or capital-word budget the required text already spends), always as many types as
asked when they exist, and the pair rules agree with the checks themselves."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from factory.strategies.instruction_following import IfevalParams, InstructionFollowing
from verifiers.ifeval import REGISTRY, compatible, evaluate
from verifiers.ifeval.augment import draw
from verifiers.ifeval.clashes import clash

LOWER, CAPITAL = "change_case:english_lowercase", "change_case:english_capital"
SECTIONS, FORBIDDEN = "detectable_format:multiple_sections", "keywords:forbidden_words"
EXISTENCE, FREQUENCY = "keywords:existence", "keywords:frequency"
FIRST_WORD, NO_COMMA = "length_constraints:nth_paragraph_first_word", "punctuation:no_comma"
REPEAT, LETTER = "combination:repeat_prompt", "keywords:letter_frequency"
CAPITAL_WORDS, END = "change_case:capital_word_frequency", "startend:end_checker"
POSTSCRIPT, ONLY = "detectable_content:postscript", "detectable_format:constrained_response"


def known_contradictions(ids: list[str], kwargs: list[dict], prompt: str) -> list[str]:
    """The combinations no response can follow, spelled out independently of clashes.py."""
    kw = dict(zip(ids, kwargs, strict=True))
    found = []
    required = set(kw.get(EXISTENCE, {}).get("keywords", []))
    required |= {kw[FREQUENCY]["keyword"]} if FREQUENCY in kw else set()
    required |= {kw[FIRST_WORD]["first_word"]} if FIRST_WORD in kw else set()
    if required & set(kw.get(FORBIDDEN, {}).get("forbidden_words", [])):
        found.append("a required word is forbidden")
    if LOWER in kw and SECTIONS in kw:
        found.append("lower case with a capitalised section marker")
    if CAPITAL in kw and SECTIONS in kw and not kw[SECTIONS]["section_spliter"].isupper():
        found.append("capitals with a marker in lower case")
    if REPEAT in kw and NO_COMMA in kw and "," in prompt:
        found.append("no commas but a prompt with one to repeat")
    sections = (kw[SECTIONS]["section_spliter"] + " ") * kw[SECTIONS]["num_sections"] \
        if SECTIONS in kw else ""
    if LETTER in kw and kw[LETTER]["let_relation"] == "less than":
        words = Counter(dict.fromkeys(required, 1))  # each word as often as it is needed
        if FREQUENCY in kw:
            k = kw[FREQUENCY]["keyword"]
            words[k] = max(words[k], kw[FREQUENCY]["frequency"])
        text = " ".join([*words.elements(), kw.get(END, {}).get("end_phrase", ""),
                         kw.get(POSTSCRIPT, {}).get("postscript_marker", ""), sections])
        if text.lower().count(kw[LETTER]["letter"]) >= kw[LETTER]["let_frequency"]:
            found.append("the required text spends the letter budget")
    if (CAPITAL_WORDS in kw and kw[CAPITAL_WORDS]["capital_relation"] == "less than"
            and sections.split().count("SECTION") >= kw[CAPITAL_WORDS]["capital_frequency"]):
        found.append("the section markers spend the capital-word budget")
    return found


def test_five_thousand_draws_reach_three_and_none_contradicts_itself() -> None:
    prompts = [f"Write about topic number {i}." if i % 4 else f"Write, briefly, about {i}."
               for i in range(1000)]
    sizes: Counter[int] = Counter()
    bad: Counter[str] = Counter()
    for seed in range(5):
        s = InstructionFollowing(IfevalParams(seed=seed, min_constraints=3, max_constraints=3))
        for prompt in prompts:
            ref = s.build_prompts({"prompt": prompt})[0].reference
            ids, kwargs = ref["instruction_id_list"], ref["kwargs"]
            sizes[len(ids)] += 1
            assert compatible(ids)
            bad.update(known_contradictions(ids, kwargs, prompt))
    assert (sizes, bad) == ({3: 5000}, {})


def test_too_few_types_that_go_together_give_the_most_that_do() -> None:
    types = [ONLY, NO_COMMA, "detectable_format:title"]
    for seed in range(50):
        ids, _ = draw(random.Random(seed), "Plan a walk.", 3, 3, types)
        assert sorted(ids) == ["detectable_format:title", NO_COMMA]
        ids, _ = draw(random.Random(seed), "Plan a walk, then rest.", 2, 2, [REPEAT, NO_COMMA])
        assert len(ids) == 1
    ids, _ = draw(random.Random(0), "Plan a walk.", 2, 2, [REPEAT, NO_COMMA])
    assert sorted(ids) == [REPEAT, NO_COMMA]


def test_redrawn_kwargs_are_deterministic() -> None:
    prompt = "Plan a walk, then rest."
    types = [EXISTENCE, FORBIDDEN, FREQUENCY, LETTER, END]
    first = [draw(random.Random(seed), prompt, 5, 5, types) for seed in range(200)]
    assert first == [draw(random.Random(seed), prompt, 5, 5, types) for seed in range(200)]
    assert all(clash(ids, kw) is None and len(ids) == 5 for ids, kw in first)


def markers(spliter: str, n: int = 2) -> str:
    return "\n".join(f"{spliter} {i}\nthe river runs down to the sea and we walk beside it "
                     "every morning." for i in range(1, n + 1))


def sampled_spliters() -> set[str]:
    rng = random.Random(0)
    return {REGISTRY[SECTIONS].sample(rng, "")["section_spliter"] for _ in range(200)}


def test_lowercase_and_sections_stay_apart_because_a_lowered_marker_is_refused() -> None:
    assert not compatible([LOWER, SECTIONS])
    for spliter in sampled_spliters():
        kw = {"section_spliter": spliter, "num_sections": 2}
        response = markers(spliter).lower()
        assert evaluate(response, [LOWER, SECTIONS], [{}, kw]).strict == [True, False]


# (ids, kwargs, a response that shows it): a clash when no response in the wording's terms
# follows both (the response follows the first and not the second), else no clash and the
# response follows both
CASES = [
    ([CAPITAL, SECTIONS], [{}, {"section_spliter": "SECTION", "num_sections": 2}],
     markers("SECTION").upper(), None),
    ([CAPITAL, SECTIONS], [{}, {"section_spliter": "Section", "num_sections": 2}],
     markers("Section").upper(), [True, False]),
    ([SECTIONS, CAPITAL], [{"section_spliter": "Section", "num_sections": 2}, {}],
     markers("Section"), [True, False]),
    ([EXISTENCE, FORBIDDEN], [{"keywords": ["river", "ocean"]}, {"forbidden_words": ["river"]}],
     "The river meets the ocean.", [True, False]),
    ([EXISTENCE, FORBIDDEN], [{"keywords": ["river", "ocean"]}, {"forbidden_words": ["story"]}],
     "The river meets the ocean.", None),
    ([FREQUENCY, FORBIDDEN],
     [{"keyword": "summit", "frequency": 2, "relation": "at least"},
      {"forbidden_words": ["summit", "bridge"]}], "summit after summit.", [True, False]),
    ([FIRST_WORD, FORBIDDEN],
     [{"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "candle"},
      {"forbidden_words": ["candle"]}], "candle light.\n\nthen dark.", [True, False]),
    ([REPEAT, NO_COMMA], [{"prompt_to_repeat": "Plan a walk, then rest."}, {}],
     "Plan a walk, then rest. Walk then rest.", [True, False]),
    ([REPEAT, NO_COMMA], [{"prompt_to_repeat": "Plan a walk."}, {}],
     "Plan a walk. Walk then rest.", None),
    ([END, LETTER], [{"end_phrase": "Any other questions?"},
                     {"letter": "e", "let_frequency": 2, "let_relation": "less than"}],
     "Ok. Any other questions?", [True, False]),
    ([END, LETTER], [{"end_phrase": "Any other questions?"},
                     {"letter": "b", "let_frequency": 2, "let_relation": "less than"}],
     "Ok. Any other questions?", None),
    ([POSTSCRIPT, LETTER], [{"postscript_marker": "P.P.S"},
                            {"letter": "p", "let_frequency": 2, "let_relation": "less than"}],
     "Ok.\nP.P.S fine", [True, False]),
    ([SECTIONS, CAPITAL_WORDS],
     [{"section_spliter": "SECTION", "num_sections": 3},
      {"capital_frequency": 3, "capital_relation": "less than"}], markers("SECTION", 3),
     [True, False]),
    ([SECTIONS, CAPITAL_WORDS],
     [{"section_spliter": "Section", "num_sections": 3},
      {"capital_frequency": 3, "capital_relation": "less than"}], markers("Section", 3), None),
]


@pytest.mark.parametrize(("ids", "kwargs", "response", "followed"), CASES)
def test_kwargs_rules_agree_with_the_checks(ids, kwargs, response, followed) -> None:
    assert compatible(ids)  # IFEval's table lets the types meet: the kwargs decide
    check = evaluate(response, ids, kwargs).strict
    if followed is None:
        assert clash(ids, kwargs) is None and check == [True, True]
    else:
        assert set(clash(ids, kwargs)) == set(ids) and check == followed
