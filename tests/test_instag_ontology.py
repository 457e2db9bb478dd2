"""InsTag normalisation, selection and elimination on hand-written tagged instructions: each
step deterministic, each rule with its own case."""

import json

import numpy as np
import pytest

from factory.instag.elimination import eliminated_by_tags, eliminated_by_text
from factory.instag.embeddings import MiniLM
from factory.instag.ontology import Ontology, OntologySettings, build
from factory.instag.selection import TaggedInstruction, complexity_first, coverage, random_baseline
from factory.instag.tags import clean_tag
from tests.helpers import ROOT

FIXTURE = [json.loads(line) for line in
           (ROOT / "tests" / "fixtures" / "tagged_instructions.jsonl").read_text().splitlines()]
RAW = [r["tags"] for r in FIXTURE]


@pytest.fixture(scope="module")
def minilm() -> MiniLM:
    return MiniLM()


@pytest.fixture(scope="module")
def fixture_ontology(minilm: MiniLM) -> Ontology:
    return build(RAW, OntologySettings(), minilm)


def tag(o: Ontology, name: str) -> dict:
    found = [t for t in o.tags if t.tag == name]
    assert found, f"{name!r} not in {[t.tag for t in o.tags]}"
    return found[0].model_dump()


@pytest.mark.parametrize("raw, clean", [
    ("Mathematical Calculations", "mathematical calculation"),  # case, plural noun
    ("step_by_step reasoning", "step by step reasoning"),  # separators
    ("step-by-step reasoning", "step by step reasoning"),
    ("asynchronous programming", "asynchronous programming"),  # no made-up lemma
    ("analyses", "analysis"),
    ("C++ programming!", "c++ programming"),
    ("Maths", "math"),  # synonym rule
    ("Coding", "programming"),
    ("  ", ""),
])
def test_rule_normalisation(raw: str, clean: str) -> None:
    assert clean_tag(raw) == clean


def test_extra_synonym_rules_apply_after_lemmas() -> None:
    assert clean_tag("Poems", {"poem": "poetry"}) == "poetry"


def test_rule_variants_pool_their_counts(fixture_ontology: Ontology) -> None:
    math = tag(fixture_ontology, "math")
    assert math["count"] == 3
    assert {v["tag"] for v in math["variants"]} == {"Math", "mathematics", "maths"}
    steps = tag(fixture_ontology, "step by step reasoning")
    assert steps["count"] == 2 and {v["via"] for v in steps["variants"]} == {"rule"}


def test_synonyms_merge_by_embedding_into_the_most_frequent(fixture_ontology: Ontology) -> None:
    merged = {t.tag: {(v.tag, v.via) for v in t.variants} for t in fixture_ontology.tags}
    assert ("text summarization", "synonym") in merged["summarization"]
    assert ("language translation", "synonym") in merged["translation"]
    assert ("debugging", "synonym") in merged["code debugging"]
    assert tag(fixture_ontology, "translation")["count"] == 3
    # related but different intentions stay apart (cosine 0.78 < 0.8), and being rare each
    # on its own, both are cut
    assert {"creative writing", "story writing"} <= set(fixture_ontology.dropped)


def test_rare_tags_are_dropped_after_merging(fixture_ontology: Ontology) -> None:
    assert fixture_ontology.dropped["haiku"] == 1
    assert all(t.count >= 2 for t in fixture_ontology.tags)
    assert "haiku" not in {t for tags in fixture_ontology.assigned for t in tags}
    everything = build(RAW, OntologySettings(min_count=1, similarity=0))
    assert not everything.dropped and "haiku" in {t.tag for t in everything.tags}


def test_tags_that_always_come_together_become_one(fixture_ontology: Ontology) -> None:
    json_tag = tag(fixture_ontology, "json output")
    assert ("output format", "association") in {(v["tag"], v["via"])
                                                 for v in json_tag["variants"]}
    assert "output format" not in {t.tag for t in fixture_ontology.tags}
    # formal tone (2) shares one of length constraint's 3 instructions: not merged
    assert {"formal tone", "length constraint"} <= {t.tag for t in fixture_ontology.tags}
    raw = [["a", "b"]] * 3 + [["a"]] * 2  # b always with a, a with b on 3 of 5
    loose = build(raw, OntologySettings(similarity=0, association=0.6))
    assert [(t.tag, t.count) for t in loose.tags] == [("a", 5)]
    strict = build(raw, OntologySettings(similarity=0, association=0.9))
    assert [(t.tag, t.count) for t in strict.tags] == [("a", 5), ("b", 3)]


def test_two_tags_of_too_few_instructions_are_not_always_together() -> None:
    raw = [["x", "y"], ["x", "y"]]
    few = build(raw, OntologySettings(min_count=1, similarity=0))  # support 3 by default
    assert [t.tag for t in few.tags] == ["x", "y"]
    enough = build(raw, OntologySettings(min_count=1, similarity=0, association_support=2))
    assert [t.tag for t in enough.tags] == ["x"]


def test_normalisation_is_deterministic(minilm: MiniLM, fixture_ontology: Ontology) -> None:
    again = build(list(reversed(RAW)), OntologySettings(), minilm)
    assert again.tags == fixture_ontology.tags
    assert list(reversed(again.assigned)) == fixture_ontology.assigned


class Vectors:
    """A stand-in embedder with hand-made directions, to pin the merge rule itself."""

    name = "hand-made"

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = np.array([self.table[t] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_merged_group_never_chains_away_from_its_head() -> None:
    # a~b (cos 0.87), b~c (0.87), but a and c are far apart (0.5): c must not join a via b
    emb = Vectors({"a": [1, 0], "b": [np.cos(0.52), np.sin(0.52)],
                   "c": [np.cos(1.047), np.sin(1.047)]})
    raw = [["a"], ["a"], ["a"], ["b"], ["b"], ["c"]]
    o = build(raw, OntologySettings(min_count=1, similarity=0.85), emb)
    assert {t.tag: t.count for t in o.tags} == {"a": 5, "c": 1}
    assert o.assigned == [["a"], ["a"], ["a"], ["a"], ["a"], ["c"]]


def test_similarity_needs_an_embedder() -> None:
    with pytest.raises(ValueError, match="needs an embedder"):
        build(RAW, OntologySettings(similarity=0.8))


def pool(o: Ontology) -> list[TaggedInstruction]:
    return [TaggedInstruction(id=i, tags=frozenset(t)) for i, t in enumerate(o.assigned)]


def test_selection_is_complexity_first_and_every_pick_adds_a_tag(fixture_ontology) -> None:
    candidates = pool(fixture_ontology)
    chosen = complexity_first(candidates, 6)
    assert chosen[0].complexity == max(c.complexity for c in candidates)
    covered: set[str] = set()
    for c in chosen:
        assert c.tags - covered, f"{c} adds no tag"
        covered |= c.tags
    assert complexity_first(candidates, 6) == chosen  # deterministic
    all_tags = {t.tag for t in fixture_ontology.tags}
    base = random_baseline(candidates, 6, all_tags, draws=50)
    assert coverage(chosen, all_tags).share > base.high >= base.mean


def test_selection_larger_than_the_tag_space_starts_a_new_pass(fixture_ontology) -> None:
    candidates = pool(fixture_ontology)
    everything = complexity_first(candidates, len(candidates))
    assert sorted(c.id for c in everything) == list(range(len(candidates)))
    tagged = [c for c in everything if c.tags]
    untagged = [c for c in everything if not c.tags]
    assert everything[-len(untagged):] == untagged  # untagged come last
    assert tagged[0].complexity == 3
    all_tags = {t.tag for t in fixture_ontology.tags}
    assert coverage(everything, all_tags).share == 1.0


def test_selection_of_nothing_and_of_an_empty_pool() -> None:
    assert complexity_first([], 5) == []
    assert complexity_first([TaggedInstruction(id=1, tags=frozenset({"x"}))], 0) == []


@pytest.mark.parametrize("evolved, rule", [
    ("Add salt.", "too_short"),
    ("I'm sorry, but I cannot make this instruction harder for you.", "refusal"),
    ("As an AI language model, here is a rewritten version of the task.", "refusal"),
    ("#Rewritten Prompt#: Solve for x in 3x + 7 = 22 using two methods.", "copies_prompt"),
    ("Here is the rewritten prompt: solve 3x + 7 = 22 with two methods.", "copies_prompt"),
    ("Solve  for x: 3x + 7 = 22,   and explain each step.", "unchanged"),
    ("Solve for x: 3x + 7 = 22 by two methods, and check the answer by substitution.", None),
])
def test_elimination_by_text(evolved: str, rule: str | None) -> None:
    parent = "Solve for x: 3x + 7 = 22, and explain each step."
    assert eliminated_by_text(parent, evolved, min_words=5) == rule


def test_elimination_when_no_tag_is_gained() -> None:
    assert eliminated_by_tags({"math", "algebra"}, {"math"}) == "no_new_tags"
    assert eliminated_by_tags({"math", "algebra"}, {"algebra", "math"}) == "no_new_tags"
    assert eliminated_by_tags({"math"}, {"math", "verification"}) is None
