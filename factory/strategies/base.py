"""The one central abstraction: a strategy.

A strategy declares the seed kind it reads, renders seeds into versioned prompts, says how many
samples each prompt wants per round, judges samples with a verifier, and curates judged samples
into SFT examples and preference pairs. It knows nothing of Celery or SQL: the job machinery
(factory.jobs, factory.stages) feeds it plain pydantic objects and stores what it returns.

Add a strategy by adding a module in this package that subclasses :class:`Strategy` and sets
``name``; the registry finds it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from factory.llm import SamplingParams
from factory.seeds import SeedKind


class StrategyParams(BaseModel):
    """Job parameters every strategy accepts; subclasses add their own."""

    model_config = ConfigDict(extra="forbid")
    seed: int = Field(0, description="base of every request seed: same seed, same samples")
    batch_size: int = Field(64, ge=1, description="seed items per batch (one task)")
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(512, ge=1)


class PromptSpec(BaseModel):
    variant: str = ""
    template_id: str
    messages: list[dict[str, str]]
    reference: dict[str, Any] = Field(default_factory=dict)


class Judgement(BaseModel):
    passed: bool
    score: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class JudgedSample(BaseModel):
    generation_id: int
    sample_index: int
    text: str
    judgement: Judgement


class SftSpec(BaseModel):
    key: str
    generation_id: int | None
    messages: list[dict[str, str]]
    score: float | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class PairSpec(BaseModel):
    key: str
    chosen_generation_id: int | None
    rejected_generation_id: int | None
    prompt: list[dict[str, str]]
    chosen: list[dict[str, str]]
    rejected: list[dict[str, str]]
    score: float | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class Curation(BaseModel):
    sft: list[SftSpec] = Field(default_factory=list)
    pairs: list[PairSpec] = Field(default_factory=list)
    flag: str | None = None


class Strategy(ABC):
    name: ClassVar[str]
    seed_kind: ClassVar[SeedKind]
    Params: ClassVar[type[StrategyParams]] = StrategyParams
    verifier: ClassVar[str]
    verifier_version: ClassVar[str]
    verify_queue: ClassVar[str] = "verify"

    def __init__(self, params: StrategyParams) -> None:
        self.params = params

    def sampling(self, n: int, seed: int) -> SamplingParams:
        p = self.params
        return SamplingParams(n=n, seed=seed, temperature=p.temperature, top_p=p.top_p,
                              max_tokens=p.max_tokens)

    @abstractmethod
    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        """The prompts one seed item becomes (usually one)."""

    @abstractmethod
    def samples_wanted(self, round: int, judged: list[JudgedSample]) -> int:
        """New samples a prompt needs in ``round``, given what is judged so far; 0 = done."""

    @abstractmethod
    def judge(self, prompt: PromptSpec, texts: list[str]) -> list[Judgement]:
        """Verdicts for samples of one prompt, in order."""

    @abstractmethod
    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        """SFT examples, preference pairs and a difficulty flag from a prompt's judged samples."""
