"""InsTag tagging (Lu et al., 2023): the model labels each instruction with fine-grained intention
tags, each with a short explanation, as JSON held to a schema by vLLM's structured outputs.

A reply is judged by code: it passes when it parses and holds at least one tag that survives
rule normalisation. The raw tags are kept on the verdict; ``factory instag ontology build``
turns a tagging job's tags into the normalised ontology (:mod:`factory.instag.ontology`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from factory.instag.tags import MAX_TAGS, TagReply, clean_tag
from factory.prompts import render
from factory.seeds import SeedKind
from factory.strategies.base import (
    Ask,
    Curation,
    JudgedSample,
    PromptSpec,
    Sample,
    Strategy,
    StrategyParams,
    VerdictSpec,
)

TAG_SCHEMA = TagReply.model_json_schema()


class TaggingParams(StrategyParams):
    samples: int = Field(1, ge=1, le=8, description="tag lists asked per instruction")
    temperature: float = 0.0
    max_tokens: int = 512
    template: str = "instag/tag_v1"


def parse_tags(text: str) -> tuple[list[dict[str, str]], str | None]:
    """The tags of a reply and, when it is not a valid tag list, why."""
    try:
        reply = TagReply.model_validate_json(text)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return [], f"reply is not a tag list: {where + ': ' if where else ''}{err['msg']}"
    tags = [t.model_dump() for t in reply.tags]
    if not any(clean_tag(t["tag"]) for t in tags):
        return tags, "no tag is left after normalisation"
    return tags, None


class Tagging(Strategy):
    name = "instag"
    seed_kind = SeedKind.prompts
    Params = TaggingParams
    verifier = "tag-schema"
    verifier_version = "v1"
    params: TaggingParams

    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        content = render(self.params.template, instruction=seed["prompt"])
        return [PromptSpec(template_id=self.params.template,
                           messages=[{"role": "user", "content": content}],
                           reference={"instruction": seed["prompt"],
                                      "category": seed.get("category")})]

    def asks(self, prompt: PromptSpec, round: int, judged: list[JudgedSample]) -> list[Ask]:
        return [Ask(n=self.params.samples, json_schema=TAG_SCHEMA)] if round == 0 else []

    def judge(self, prompt: PromptSpec, samples: list[Sample]) -> list[VerdictSpec]:
        out = []
        for s in samples:
            tags, error = parse_tags(s.text)
            details: dict[str, Any] = {"tags": tags}
            if error:
                details["error"] = error
            out.append(VerdictSpec(passed=error is None, score=float(len(tags[:MAX_TAGS])),
                                 details=details))
        return out

    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        return Curation(flag=None if any(s.verdict.passed for s in judged) else "no_tags")
