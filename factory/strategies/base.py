"""The one central abstraction: a strategy.

A strategy declares the seed kind it reads, renders seeds into versioned prompts, says what each
prompt asks of the model per round (how many samples, under which ask name), judges samples with a
verifier (code, or the model itself), and curates judged samples into SFT examples and
preference pairs. It knows nothing of Celery or SQL: the job machinery
(factory.jobs, factory.stages) feeds it plain pydantic objects and stores what it returns.

Add a strategy by adding a module in this package that subclasses :class:`Strategy` and sets
``name``; the registry finds it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from factory.config import Settings, get_settings
from factory.llm import LLM, SamplingParams
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
    """A prompt a seed item becomes. ``prompt_key`` tells apart the prompts one seed item
    becomes (constitutional: the principle's id); it is part of every request seed."""

    prompt_key: str = ""
    template_id: str
    messages: list[dict[str, str]]
    reference: dict[str, Any] = Field(default_factory=dict)


class VerdictSpec(BaseModel):
    """A verdict on one sample, stored as a :class:`db.models.Verdict` row. ``error``: the
    check itself failed (a sandbox or helper crash, a deadline, a reference that does not
    parse), which says nothing of the sample, so it is retried and never paired or exported;
    ``permanent``: but the same however often it is asked (a server refusing the sample on its
    merits, a 4xx), so not retried. ``pending``: nobody has judged it yet (people will)."""

    passed: bool
    score: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    permanent: bool = False
    pending: bool = False

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        if self.pending:
            return "pending"
        return "passed" if self.passed else "failed"


class Ask(BaseModel):
    """One request a prompt needs in a round: ``n`` samples of ``messages`` (the prompt's own
    when None). Its ``name`` is stored with each sample (``Generation.ask``, ``Sample.ask``) so
    later rounds and curation can tell a prompt's asks apart."""

    n: int = Field(ge=1)
    name: str = ""
    messages: list[dict[str, str]] | None = None
    json_schema: dict[str, Any] | None = None
    max_tokens: int | None = None
    temperature: float | None = Field(None, ge=0, description="the job's when None")


class Sample(BaseModel):
    """A sample as the judge sees it: its text, the ask it answers and the round it was drawn
    in (the model layer's raw reply is :class:`factory.llm.Completion`)."""

    text: str
    ask: str = ""
    round: int = 0


class JudgedSample(Sample):
    """A sample with its stored verdict."""

    generation_id: int
    sample_index: int
    verdict: VerdictSpec


# A prompt, its samples to judge, and its samples judged before (earlier rounds).
JudgeWork = tuple["PromptSpec", list[Sample], list[JudgedSample]]


class SeedRejected(ValueError):
    """A seed item this strategy cannot turn into prompts; the message says why."""


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
    # the Celery queue the judge stage runs on: "verify" (checks in Python), "sandbox" (code
    # in containers) or "generate" (the model judges)
    judge_queue: ClassVar[str] = "verify"
    judge_needs_model: ClassVar[bool] = False
    # judged by code that depends on a prompt's earlier rounds (autoif: the verification
    # functions kept in one round judge the responses of the next): the judge stage then loads
    # them and calls judge_after
    judge_reads_history: ClassVar[bool] = False
    # the asks whose samples are what the job makes, the only ones counted in acceptance
    # figures (a prompt's samples / passed / pass_rate, factory.ops); None: every ask. autoif's
    # instruction and verification functions are means to judge its responses, not samples
    sample_asks: ClassVar[frozenset[str] | None] = None

    @classmethod
    def counts_as_sample(cls, ask: str) -> bool:
        return cls.sample_asks is None or ask in cls.sample_asks

    def __init__(self, params: StrategyParams, settings: Settings | None = None) -> None:
        self.params = params
        self._settings = settings

    @property
    def settings(self) -> Settings:
        """The settings of whoever runs the step (an in-process runner's own, a worker's), for
        services a strategy reaches itself (the reward server); the environment's if none
        were given."""
        return self._settings or get_settings()

    def sampling(self, ask: Ask, seed: int) -> SamplingParams:
        p = self.params
        temperature = p.temperature if ask.temperature is None else ask.temperature
        return SamplingParams(n=ask.n, seed=seed, temperature=temperature, top_p=p.top_p,
                              max_tokens=ask.max_tokens or p.max_tokens,
                              json_schema=ask.json_schema)

    def asks(self, prompt: PromptSpec, round: int, judged: list[JudgedSample]) -> list[Ask]:
        """The requests a prompt needs in ``round`` (the batch's sampling round: 0, 1, ...);
        none means it is done. Strategies that ask one thing override :meth:`samples_wanted`;
        those with several asks override this. A strategy may name what its rounds are for
        (constitutional: DRAFT_ROUND, REVISION_ROUND; evolve: one evolution step a round)."""
        want = self.samples_wanted(round, judged)
        return [Ask(n=want)] if want > 0 else []

    def samples_wanted(self, round: int, judged: list[JudgedSample]) -> int:
        """New samples a prompt needs in ``round``, given what is judged so far; 0 = done."""
        raise NotImplementedError(f"{type(self).__name__} overrides neither asks nor "
                                  "samples_wanted")

    def judge(self, prompt: PromptSpec, samples: list[Sample]) -> list[VerdictSpec]:
        """Verdicts for samples of one prompt, in order (strategies judged by code)."""
        raise NotImplementedError(f"{type(self).__name__} has no judge")

    def judge_after(self, prompt: PromptSpec, samples: list[Sample],
                    before: list[JudgedSample]) -> list[VerdictSpec]:
        """Verdicts for samples of one prompt given its samples judged in earlier rounds
        (``before``: loaded only for strategies that set judge_reads_history)."""
        return self.judge(prompt, samples)

    async def judge_with_model(self, llm: LLM, work: list[JudgeWork]) -> list[list[VerdictSpec]]:
        """Verdicts for many prompts at once (strategies judged by a model, see
        :mod:`factory.strategies.model_judge`)."""
        raise NotImplementedError(f"{type(self).__name__} is not judged by a model")

    @abstractmethod
    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        """The prompts one seed item becomes (usually one)."""

    @abstractmethod
    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        """SFT examples, preference pairs and a difficulty flag from a prompt's judged samples."""
