"""Role-play (Qwen2 report, 4.1): from a character profile the model writes a multi-turn
conversation in which a user talks to the character; a judge pass checks the character stays
in profile. The SFT example is the conversation, with the profile as its system message.

``roleplay`` reads profiles written by people; ``roleplay-from-text`` first has the model
extract a profile from a literary passage (structured output), then writes the conversation.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError

from factory.prompts import render
from factory.seeds import SeedKind, passage_source
from factory.strategies.base import (
    Ask,
    Curation,
    JudgedSample,
    PromptSpec,
    Sample,
    SftSpec,
    VerdictSpec,
)
from factory.strategies.curation import best_passing
from factory.strategies.model_judge import JudgeParams, ModelJudged


class Profile(BaseModel):
    """Bounded, so structured outputs keep a small model's profile short."""

    name: str = Field(min_length=1, max_length=60)
    background: str = Field(min_length=1, max_length=400)
    traits: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(min_length=1,
                                                                              max_length=6)
    speaking_style: str = Field(min_length=1, max_length=200)


class Turn(BaseModel):
    user: str = Field(min_length=1)
    character: str = Field(min_length=1)


class Conversation(BaseModel):
    turns: list[Turn]


class RolePlayParams(JudgeParams):
    turns: int = Field(3, ge=1, le=10, description="exchanges per conversation")
    turn_chars: int = Field(800, ge=20, description="longest user or character message")
    candidates: int = Field(2, ge=1, le=16, description="conversations written per profile")
    sft_per_profile: int = Field(1, ge=0)
    max_tokens: int = 768


class RolePlay(ModelJudged):
    name = "roleplay"
    seed_kind = SeedKind.profiles
    Params = RolePlayParams
    params: RolePlayParams
    # the conversations are what a job makes; roleplay-from-text's extracted profile is a
    # means to write them, so its acceptance figures leave the profile out
    sample_asks = frozenset({"conversation"})

    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        profile = {k: seed[k] for k in Profile.model_fields}
        return [PromptSpec(template_id="roleplay/conversation_v1",
                           messages=self.conversation_request(profile),
                           reference={"profile": profile})]

    def conversation_request(self, profile: dict[str, Any]) -> list[dict[str, str]]:
        content = render("roleplay/conversation_v1", profile=profile, turns=self.params.turns)
        return [{"role": "user", "content": content}]

    def conversation_schema(self) -> dict[str, Any]:
        schema = Conversation.model_json_schema()
        schema["properties"]["turns"].update(minItems=self.params.turns,
                                             maxItems=self.params.turns)
        for field in schema["$defs"]["Turn"]["properties"].values():
            field["maxLength"] = self.params.turn_chars  # bounded, or a small model rambles
        return schema

    def profile(self, prompt: PromptSpec, judged: list[JudgedSample]) -> dict[str, Any] | None:
        """The profile the conversations are about."""
        return prompt.reference["profile"]

    def asks(self, prompt: PromptSpec, round: int, judged: list[JudgedSample]) -> list[Ask]:
        if round > 0:
            return []
        return [Ask(n=self.params.candidates, name="conversation",
                    json_schema=self.conversation_schema())]

    def judge_messages(self, prompt: PromptSpec, sample: Sample, before: list[JudgedSample]
                       ) -> list[dict[str, str]] | VerdictSpec:
        profile = self.profile(prompt, before)
        turns = parse_turns(sample.text, self.params.turns)
        if profile is None or turns is None:
            return VerdictSpec(passed=False, details={
                "error": f"not a conversation of {self.params.turns} turns"})
        content = render("roleplay/judge_v1", profile=profile, turns=turns)
        return [{"role": "user", "content": content}]

    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        profile = self.profile(prompt, judged)
        best = best_passing(judged, ask="conversation")
        sft = []
        for s in best[:self.params.sft_per_profile]:
            turns = parse_turns(s.text, self.params.turns)
            if profile is None or turns is None:
                continue
            messages = [{"role": "system", "content": render("roleplay/system_v1",
                                                             profile=profile)}]
            for t in turns:
                messages += [{"role": "user", "content": t["user"]},
                             {"role": "assistant", "content": t["character"]}]
            sft.append(SftSpec(key=f"sft:{s.generation_id}", generation_id=s.generation_id,
                               messages=messages, score=s.verdict.score,
                               meta={"character": profile["name"],
                                     "source": prompt.reference.get("source"),
                                     "judge_reason": s.verdict.details.get("reason")}))
        return Curation(sft=sft, flag=None if sft else "no_conversation")


def parse_turns(text: str, turns: int) -> list[dict[str, str]] | None:
    """The conversation's turns, or None unless it is one of exactly ``turns`` exchanges."""
    try:
        found = Conversation.model_validate_json(text).turns
    except ValidationError:
        return None
    return [t.model_dump() for t in found] if len(found) == turns else None


PROFILE_ROUND, CONVERSATION_ROUND = 0, 1  # the batch's sampling rounds, as roleplay-from-text
# uses them: the profile is extracted first, the conversations are written with it next


class RolePlayFromText(RolePlay):
    """The profile round extracts a profile from the passage; the conversation round writes
    conversations with it."""

    name = "roleplay-from-text"
    seed_kind = SeedKind.text

    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        content = render("roleplay/extract_v1", passage=seed["text"], title=seed.get("title"))
        source = passage_source(seed)
        return [PromptSpec(template_id="roleplay/extract_v1",
                           messages=[{"role": "user", "content": content}],
                           reference={"source": source})]

    def profile(self, prompt: PromptSpec, judged: list[JudgedSample]) -> dict[str, Any] | None:
        for s in judged:
            if s.ask == "profile" and s.verdict.passed:
                return Profile.model_validate_json(s.text).model_dump()
        return None

    def asks(self, prompt: PromptSpec, round: int, judged: list[JudgedSample]) -> list[Ask]:
        if round == PROFILE_ROUND:
            return [Ask(n=1, name="profile", json_schema=Profile.model_json_schema())]
        profile = self.profile(prompt, judged)
        if round != CONVERSATION_ROUND or profile is None:
            return []
        return [Ask(n=self.params.candidates, name="conversation",
                    messages=self.conversation_request(profile),
                    json_schema=self.conversation_schema())]

    def judge_messages(self, prompt: PromptSpec, sample: Sample, before: list[JudgedSample]
                       ) -> list[dict[str, str]] | VerdictSpec:
        if sample.ask != "profile":
            return super().judge_messages(prompt, sample, before)
        try:
            Profile.model_validate_json(sample.text)
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            return VerdictSpec(passed=False, details={"error": f"not a profile: {problem}"})
        return VerdictSpec(passed=True, details={"checked": "profile schema"})
