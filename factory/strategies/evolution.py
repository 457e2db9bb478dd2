"""Instruction evolution (Evol-Instruct, as the Qwen2 report uses it before human ranking):
rewrite selected instructions in depth (add constraints, deepen, concretise, add reasoning steps,
complicate the input) or in breadth (a new instruction in the same domain).

One batch round is one evolution step: step s (the batch's round s) rewrites the first
survivor of step s-1, so generation g+1 evolves the first surviving evolution of generation g (a
generation counts from the original instruction, across jobs; a step counts within this job).
Every evolved instruction has one parent: the seed instruction, or an earlier generation's
sample. Each evolution is judged in two passes: text rules first
(:mod:`factory.instag.elimination`), then the model tags it (the InsTag schema) and it must gain
a tag its parent lacks. The verdict records the parent, the generation number and the tags;
``factory instag evolved`` turns the survivors into a seed set that any strategy (or the
annotation app) takes.
"""

from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import BaseModel, Field

from factory.instag.elimination import eliminated_by_tags, eliminated_by_text
from factory.instag.tags import TagReply, clean_set, tag_names
from factory.prompts import render
from factory.seeds import SeedKind
from factory.strategies.base import (
    Ask,
    Curation,
    JudgedSample,
    PromptSpec,
    Sample,
    SeedRejected,
    VerdictSpec,
)
from factory.strategies.model_judge import JudgeParams, ModelJudged

Operation = Literal["constraints", "deepen", "concretise", "reasoning", "complicate_input",
                    "breadth"]
OPERATIONS: tuple[Operation, ...] = ("constraints", "deepen", "concretise", "reasoning",
                                     "complicate_input", "breadth")


class EvolutionParams(JudgeParams):
    operations: list[Operation] = Field(default_factory=lambda: list(OPERATIONS), min_length=1)
    per_generation: int = Field(2, ge=1, description="operations tried on a parent per generation")
    generations: int = Field(1, ge=1, le=8, description="how many times an instruction evolves")
    min_words: int = Field(5, ge=1, description="shorter evolutions are dropped")
    max_tokens: int = 256
    judge_max_tokens: int = 512
    depth_template: str = "evolve/depth_v1"
    breadth_template: str = "evolve/breadth_v1"
    tag_template: str = "instag/tag_v1"
    synonyms: dict[str, str] = Field(default_factory=dict, description="extra tag rules")


class Parent(BaseModel):
    text: str
    tags: list[str]
    generation: int
    generation_id: int | None = None


class Evolution(ModelJudged):
    name = "evolve"
    seed_kind = SeedKind.prompts
    Params = EvolutionParams
    Reply = TagReply
    params: EvolutionParams

    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        if not seed.get("tags"):
            raise SeedRejected("evolve needs each instruction's tags ('tags': [...]); tag the "
                               "instructions and select them first (factory instag select)")
        try:
            tags = sorted(clean_set(tag_names(seed["tags"]), self.params.synonyms))
        except (TypeError, ValueError) as exc:
            raise SeedRejected(f"field 'tags': {exc}") from exc
        return [PromptSpec(template_id=self.params.depth_template,
                           messages=[{"role": "user", "content": seed["prompt"]}],
                           reference={"instruction": seed["prompt"], "tags": tags,
                                      "category": seed.get("category"),
                                      "generation": seed.get("generation", 0)})]

    def parent(self, prompt: PromptSpec, evolution_step: int, judged: list[JudgedSample]
               ) -> Parent | None:
        """What ``evolution_step`` evolves: the seed, then each step's first survivor."""
        ref = prompt.reference
        if evolution_step == 0:
            return Parent(text=ref["instruction"], tags=ref["tags"], generation=ref["generation"])
        survivors = sorted((s for s in judged
                            if s.round == evolution_step - 1 and s.verdict.passed),
                           key=lambda s: s.sample_index)
        if not survivors:
            return None
        s = survivors[0]
        return Parent(text=s.text.strip(), tags=s.verdict.details["normalised_tags"],
                      generation=s.verdict.details["generation"], generation_id=s.generation_id)

    def operations(self, prompt: PromptSpec, evolution_step: int) -> list[Operation]:
        """The operations tried in ``evolution_step``: a fixed draw per instruction and step."""
        ops = self.params.operations
        rng = random.Random(
            f"{self.params.seed}:{evolution_step}:{prompt.reference['instruction']}")
        return rng.sample(ops, min(self.params.per_generation, len(ops)))

    def asks(self, prompt: PromptSpec, round: int, judged: list[JudgedSample]) -> list[Ask]:
        step = round  # one evolution step per batch round
        parent = self.parent(prompt, step, judged) if step < self.params.generations else None
        if parent is None:
            return []
        return [Ask(n=1, name=op, messages=[{"role": "user", "content": self.rewrite(op, parent)}])
                for op in self.operations(prompt, step)]

    def rewrite(self, operation: Operation, parent: Parent) -> str:
        p = self.params
        template = p.breadth_template if operation == "breadth" else p.depth_template
        return render(template, operation=operation, instruction=parent.text)

    def judge_messages(self, prompt: PromptSpec, sample: Sample, before: list[JudgedSample]
                       ) -> list[dict[str, str]] | VerdictSpec:
        parent = self.parent(prompt, sample.round, before)
        if parent is None:
            return VerdictSpec(passed=False, details={"error": "no parent to compare with"})
        rule = eliminated_by_text(parent.text, sample.text, self.params.min_words)
        if rule:
            return VerdictSpec(passed=False,
                               details={"eliminated": rule, **lineage(parent, sample)})
        content = render(self.params.tag_template, instruction=sample.text.strip())
        return [{"role": "user", "content": content}]

    def verdict(self, prompt: PromptSpec, sample: Sample, reply: Any,
                before: list[JudgedSample]) -> VerdictSpec:
        parent = self.parent(prompt, sample.round, before)
        assert parent is not None  # judge_messages answered without asking otherwise
        tags = sorted(clean_set((t.tag for t in reply.tags), self.params.synonyms))
        rule = eliminated_by_tags(set(parent.tags), set(tags))
        details = {**lineage(parent, sample), "tags": [t.model_dump() for t in reply.tags],
                   "normalised_tags": tags, "new_tags": sorted(set(tags) - set(parent.tags))}
        if rule:
            details["eliminated"] = rule
        return VerdictSpec(passed=rule is None, score=float(len(details["new_tags"])),
                         details=details)

    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        return Curation(flag=None if any(s.verdict.passed for s in judged) else "no_evolution")


def lineage(parent: Parent, sample: Sample) -> dict[str, Any]:
    """Where an evolution comes from: its parent, its generation number, its operation."""
    return {"operation": sample.ask, "generation": parent.generation + 1,
            "parent_generation_id": parent.generation_id, "parent": parent.text}
