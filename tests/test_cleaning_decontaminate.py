"""Benchmark decontamination: the Qwen2 rule, planted leaks found, the n-gram index against the
brute-force rule, the false-positive rate on GSM8K train."""

import gzip
import json
import random
import re
from pathlib import Path

import pytest

from factory.cleaning.benchmarks import BENCHMARKS, select
from factory.cleaning.decontaminate import Decontaminator, rule_holds, tokens

DATA = Path(__file__).resolve().parent.parent / "factory" / "data"


@pytest.fixture(scope="module")
def decon() -> Decontaminator:
    return Decontaminator(select())


def gsm8k(name: str) -> list[dict]:
    path = DATA / name
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_tokens_drop_punctuation_and_symbols() -> None:
    assert tokens("Janet’s ducks lay 16 eggs/day: $2 each!") == \
        ["janet", "s", "ducks", "lay", "16", "eggs", "day", "2", "each"]
    assert tokens("def has_close_elements(x):") == ["def", "has", "close", "elements", "x"]


def test_rule_thresholds() -> None:
    assert rule_holds(13, 21, 500)            # 13 >= 0.6 * 21 = 12.6
    assert not rule_holds(13, 22, 500)        # 13 < 13.2
    assert not rule_holds(12, 12, 12)         # below the 13-token floor
    assert rule_holds(60, 1000, 100)          # the shorter side sets the ratio


def test_registry_lists_benchmarks_with_licences() -> None:
    assert set(BENCHMARKS) == {"gsm8k-test", "humaneval", "ifeval"}
    for b in BENCHMARKS.values():
        assert b.licence in {"MIT", "Apache-2.0"} and b.licence_file.is_file()
        assert next(iter(b.load())).texts
    with pytest.raises(ValueError, match="unknown benchmark nope"):
        select(["nope"])


def variants(q: str, rng: random.Random) -> dict[str, str]:
    numbers = re.findall(r"\d+", q)
    names = [w for w in re.findall(r"\b[A-Z][a-z]+\b", q) if w not in {"How", "If", "What"}]
    one_number = q.replace(numbers[0], str(int(numbers[0]) + 7), 1) if numbers else q + " 5"
    name = names[0] if names else q.split()[0]
    return {
        "exact": q,
        "punctuation stripped": re.sub(r"[^\w\s]", "", q),
        "wrapped": "Hi! I am preparing a study guide for my class and need help with this one: "
                   f"{q} Please explain every step carefully so that I can follow along, and "
                   "finish with a short summary of the method you used.",
        "one number changed": one_number,
        "a name changed": re.sub(rf"\b{name}\b", "Bartholomew", q),
    }


def planted(rng: random.Random) -> list[tuple[str, str, str, str]]:
    """(benchmark, item id, how, text) for leaked items of each benchmark."""
    out = []
    test = gsm8k("gsm8k_test.jsonl")
    for i in rng.sample(range(len(test)), 25):
        for how, text in variants(test[i]["question"], rng).items():
            out.append(("gsm8k-test", f"test/{i}", how, text))
    for item in rng.sample(list(BENCHMARKS["humaneval"].load()), 10):
        out.append(("humaneval", item.item_id, "prompt", item.texts[0]))
    for item in rng.sample(list(BENCHMARKS["ifeval"].load()), 10):
        for how, text in variants(item.texts[0], rng).items():
            out.append(("ifeval", item.item_id, how, text))
    return out


def test_planted_leaks_are_found(decon: Decontaminator) -> None:
    missed = []
    for bench, item_id, how, text in planted(random.Random(0)):
        m = decon.match(text)
        if m is None or (m.benchmark, m.item_id) != (bench, item_id):
            missed.append((bench, item_id, how, m))
    # IFEval prompts shorter than 13 tokens cannot match by the rule at all; none here do
    assert missed == []


def test_index_agrees_with_the_brute_force_rule(decon: Decontaminator) -> None:
    """Every text the rule flags (checked against every sequence), the index flags too, on
    planted leaks and on GSM8K train items (same distribution, some near the threshold)."""
    rng = random.Random(1)
    train = rng.sample(gsm8k("gsm8k_train.jsonl.gz"), 150)
    texts = [t for *_, t in planted(rng)][:120] + [r["question"] for r in train] \
        + [r["answer"] for r in train]
    for text in texts:
        assert decon.match(text) == decon.match_brute(text), text


def test_false_positive_rate_on_gsm8k_train(decon: Decontaminator) -> None:
    """GSM8K train items are not test items; the README gives the rate on 2,000 of them
    (bench/decontamination.py); a smaller sample here."""
    items = random.Random(2).sample(gsm8k("gsm8k_train.jsonl.gz"), 500)
    flagged = sum(1 for r in items
                  if decon.match_any([r["question"], r["answer"]]) is not None)
    assert flagged / len(items) < 0.03
