"""AutoIF (Dong et al. 2024; the Qwen2 report 4.1, execution feedback on instruction following):
the model writes a verifiable instruction, then Python functions that check it, and the
functions - run in the sandbox, never here - judge the responses.

The batch's sampling rounds, per seed prompt (the query):

- INSTRUCTION_ROUND: the model writes one new verifiable instruction for the query ("answer in
  under 50 words"), as JSON.
- VERIFIER_ROUND: ``functions`` samples, each an ``evaluate(response) -> bool`` and test cases
  (a response text, and whether it should pass). The cases of all samples are pooled (a
  function is checked against its siblings' cases too, as in AutoIF's cross-validation),
  duplicates merged and contradictory ones dropped, then those no function agrees with (AutoIF's
  case filter). A function is kept when it answered every case left with a real bool and its
  accuracy on them is at least ``min_accuracy``. Accuracy is *balanced* (the mean of its
  accuracy on the cases that should pass and on those that should fail) and the pool must hold
  at least ``min_cases_per_side`` of each, so a function that always says True (or False)
  scores 0.5 however the cases lean - AutoIF's plain accuracy would keep it on cases that are
  mostly True.
- RESPONSE_ROUND and after: if at least ``min_functions`` distinct functions were kept, the query
  with the instruction is answered in rounds (pass_fail: until k SFT lines and m pairs are
  possible or N samples spent). A response passes when the kept functions say True by
  ``pass_rule``: ``all`` (default) or ``majority``; an answer that is not a real bool counts as
  no. AutoIF's released code (7_query_vertification.py) keeps a response when the mean of the
  functions' answers is above 0 - any one function saying yes, errors skipped - which lets a
  single lenient function through; after cross-validation every kept function is evidence, so
  the default asks all of them. Score: the fraction of kept functions saying True.

SFT lines are passing responses, pairs put a passing one against one the fewest functions
accept. Every example carries the instruction, the kept functions with their accuracy and the
cases they were checked on (meta). AutoIF's back-translation and query-relevance scoring by a
model are not done here.
"""

from __future__ import annotations

import ast
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from factory.prompts import render
from factory.seeds import SeedKind
from factory.strategies.base import (
    Ask,
    Curation,
    JudgedSample,
    PromptSpec,
    Sample,
    VerdictSpec,
)
from factory.strategies.pass_fail import (
    PassFailParams,
    PassFailStrategy,
    curate_pass_fail,
    lowest_scored,
)
from factory.verification_functions import Answer, CheckError, ask
from verifiers import code_harness, sandbox

INSTRUCTION_ROUND, VERIFIER_ROUND, RESPONSE_ROUND = 0, 1, 2
TEMPLATES = {"instruction": "autoif/instruction_v1", "verifier": "autoif/verifier_v1",
             "response": "autoif/respond_v1"}


class Instruction(BaseModel):
    instruction: str = Field(min_length=1, max_length=300)


class CheckCase(BaseModel):
    response: str = Field(max_length=600)
    expected: bool


class Verifier(BaseModel):
    function: str = Field(min_length=1, max_length=2000)
    cases: list[CheckCase] = Field(min_length=1, max_length=8)


class AutoIfParams(PassFailParams):
    functions: int = Field(5, ge=1, le=16, description="verification functions (each with test "
                                                       "cases) written per instruction")
    min_accuracy: float = Field(0.8, ge=0, le=1, description="a function is kept at this "
                                                             "balanced accuracy on the cases")
    min_functions: int = Field(3, ge=1, description="an instruction is answered only with this "
                                                    "many distinct kept functions")
    min_cases_per_side: int = Field(2, ge=1, description="cases that should pass, and that "
                                                         "should fail, the pool needs")
    pass_rule: Literal["all", "majority"] = Field("all", description="kept functions that must "
                                                                     "say True")
    call_timeout_s: float = Field(3.0, gt=0, description="one function call in the sandbox")
    instruction_max_tokens: int = Field(128, ge=16)
    verifier_max_tokens: int = Field(768, ge=64)
    # bounds in the JSON schemas the model writes to (structured outputs keep a small model's
    # JSON short enough to close), at most the parsers' own
    instruction_chars: int = Field(300, ge=10, le=300)
    function_chars: int = Field(2000, ge=20, le=2000)
    case_chars: int = Field(600, ge=1, le=600)
    max_cases: int = Field(8, ge=2, le=8, description="test cases one function sample may give")

    @model_validator(mode="after")
    def _enough(self) -> AutoIfParams:
        if self.min_functions > self.functions:
            raise ValueError("min_functions is more than the functions written per instruction")
        return self


def parse(model: type[BaseModel], text: str) -> tuple[Any, str | None]:
    try:
        return model.model_validate_json(text), None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        return None, f"not {model.__name__.lower()} JSON: {first['msg']}" + (
            f" at {where}" if where else "")


def pooled_cases(verifiers: list[Verifier | None]) -> list[tuple[str, bool]]:
    """Every sample's cases, duplicates merged; a text given both verdicts is dropped."""
    seen: dict[str, set[bool]] = {}
    for v in verifiers:
        for c in v.cases if v else ():
            seen.setdefault(c.response, set()).add(c.expected)
    return [(text, next(iter(said))) for text, said in seen.items() if len(said) == 1]


DOCUMENTED = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def function_key(source: str) -> str:
    """What makes two functions the same: their syntax tree without comments, layout or
    docstrings, so copies that differ only there count once towards ``min_functions``."""
    try:
        tree = code_harness.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return source.strip()
    for node in ast.walk(tree):
        if isinstance(node, DOCUMENTED) and ast.get_docstring(node, clean=False) is not None:
            node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree)


def balanced_accuracy(answers: list[Answer], cases: list[tuple[str, bool]]) -> float:
    sides = []
    for side in (True, False):
        mine = [a for a, (_, want) in zip(answers, cases, strict=True) if want is side]
        sides.append(sum(a.value is side for a in mine) / len(mine) if mine else 0.0)
    return sum(sides) / 2


class AutoIf(PassFailStrategy):
    name = "autoif"
    seed_kind = SeedKind.prompts
    Params = AutoIfParams
    verifier = "autoif"
    verifier_version = f"2+sandbox{sandbox.VERSION}"  # 2: prints discarded
    judge_queue = "sandbox"
    judge_reads_history = True
    sample_asks = frozenset({"response"})
    params: AutoIfParams

    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        content = render(TEMPLATES["instruction"], query=seed["prompt"])
        return [PromptSpec(template_id=TEMPLATES["instruction"],
                           messages=[{"role": "user", "content": content}],
                           reference={"query": seed["prompt"], "templates": TEMPLATES,
                                      **{k: seed[k] for k in ("category",) if seed.get(k)}})]

    # -- what earlier rounds left ---------------------------------------------------------

    @staticmethod
    def instruction(judged: list[JudgedSample]) -> str | None:
        for s in judged:
            if s.ask == "instruction" and s.verdict.passed:
                return Instruction.model_validate_json(s.text).instruction.strip()
        return None

    @staticmethod
    def kept_functions(judged: list[JudgedSample]) -> list[JudgedSample]:
        """Kept verification samples, one per distinct function (see ``function_key``)."""
        seen: set[str] = set()
        out = []
        for s in sorted(judged, key=lambda s: s.sample_index):
            if s.ask != "verifier" or not s.verdict.passed:
                continue
            source = function_key(Verifier.model_validate_json(s.text).function)
            if source not in seen:
                seen.add(source)
                out.append(s)
        return out

    def response_messages(self, prompt: PromptSpec, instruction: str) -> list[dict[str, str]]:
        content = render(TEMPLATES["response"], query=prompt.reference["query"],
                         instruction=instruction)
        return [{"role": "user", "content": content}]

    def instruction_schema(self) -> dict[str, Any]:
        schema = Instruction.model_json_schema()
        schema["properties"]["instruction"]["maxLength"] = self.params.instruction_chars
        return schema

    def verifier_schema(self) -> dict[str, Any]:
        p = self.params
        schema = Verifier.model_json_schema()
        schema["properties"]["function"]["maxLength"] = p.function_chars
        schema["properties"]["cases"].update(minItems=2, maxItems=p.max_cases)
        schema["$defs"]["CheckCase"]["properties"]["response"]["maxLength"] = p.case_chars
        return schema

    # -- rounds ---------------------------------------------------------------------------

    def asks(self, prompt: PromptSpec, round: int, judged: list[JudgedSample]) -> list[Ask]:
        p = self.params
        if round == INSTRUCTION_ROUND:
            return [Ask(n=1, name="instruction", max_tokens=p.instruction_max_tokens,
                        json_schema=self.instruction_schema())]
        instruction = self.instruction(judged)
        if instruction is None:
            return []
        if round == VERIFIER_ROUND:
            content = render(TEMPLATES["verifier"], instruction=instruction)
            return [Ask(n=p.functions, name="verifier", max_tokens=p.verifier_max_tokens,
                        messages=[{"role": "user", "content": content}],
                        json_schema=self.verifier_schema())]
        if len(self.kept_functions(judged)) < p.min_functions:
            return []
        responses = [s for s in judged if s.ask == "response"]
        want = self.samples_wanted(round - RESPONSE_ROUND, responses)
        return [Ask(n=want, name="response",
                    messages=self.response_messages(prompt, instruction))] if want else []

    # -- judging --------------------------------------------------------------------------

    def judge_after(self, prompt: PromptSpec, samples: list[Sample],
                    before: list[JudgedSample]) -> list[VerdictSpec]:
        out: list[VerdictSpec | None] = [None] * len(samples)
        groups: dict[str, list[int]] = {}
        for i, s in enumerate(samples):
            groups.setdefault(s.ask, []).append(i)
        for kind, idx in groups.items():
            texts = [samples[i].text for i in idx]
            if kind == "instruction":
                found = [self._judge_instruction(t) for t in texts]
            elif kind == "verifier":
                found = self._judge_verifiers(texts)
            else:
                found = self._judge_responses(texts, self.kept_functions(before))
            for i, v in zip(idx, found, strict=True):
                out[i] = v
        return [v for v in out if v is not None]

    @staticmethod
    def _judge_instruction(text: str) -> VerdictSpec:
        found, problem = parse(Instruction, text)
        if found is None or not found.instruction.strip():
            return VerdictSpec(passed=False, details={"reason": problem or "an empty instruction"})
        return VerdictSpec(passed=True, details={"reason": "an instruction",
                                                 "instruction": found.instruction.strip()})

    def _judge_verifiers(self, texts: list[str]) -> list[VerdictSpec]:
        p = self.params
        parsed = [parse(Verifier, t) for t in texts]
        verifiers = [v for v, _ in parsed]
        cases = pooled_cases(verifiers)
        if not cases:  # every case contradicted another (or no sample parsed): nothing to ask
            return [VerdictSpec(passed=False, score=0.0, details={
                "reason": problem or "no pooled case left: every text was given both verdicts",
                "pooled_cases": 0}) for _, problem in parsed]
        runnable = [i for i, v in enumerate(verifiers) if v is not None]
        try:
            found = ask([verifiers[i].function for i in runnable], [t for t, _ in cases],
                        p.call_timeout_s, isolate=False)
        except CheckError as exc:
            return [VerdictSpec(passed=False, error=str(exc)) for _ in texts]
        answers = dict(zip(runnable, found, strict=True))
        # AutoIF's case filter: a case no function agrees with is taken for a wrong case
        keep = [k for k, (_, want) in enumerate(cases)
                if any(row[k].value is want for row in answers.values())]
        agreed = [cases[k] for k in keep]
        sides = {side: sum(want is side for _, want in agreed) for side in (True, False)}
        pool = {"cases": [{"response": t, "expected": e} for t, e in agreed],
                "pooled_cases": len(cases), "true_cases": sides[True],
                "false_cases": sides[False]}
        out = []
        for i, (v, problem) in enumerate(parsed):
            if v is None:
                out.append(VerdictSpec(passed=False, score=0.0, details={"reason": problem}))
                continue
            row = [answers[i][k] for k in keep]
            failed = [a for a in row if a.value is None]
            accuracy = balanced_accuracy(row, agreed) if agreed else 0.0
            plain = sum(a.value is want for a, (_, want) in zip(row, agreed, strict=True)) \
                / len(agreed) if agreed else 0.0
            if min(sides.values()) < p.min_cases_per_side:
                reason = (f"of {len(cases)} pooled cases, {sides[True]} that should pass and "
                          f"{sides[False]} that should fail are left (those no function "
                          f"agrees with are dropped); each side needs {p.min_cases_per_side}")
            elif failed:
                reason = f"{len(failed)} of {len(row)} cases got no bool: {failed[0].problem}"
            elif accuracy < p.min_accuracy:
                reason = f"balanced accuracy {accuracy:.2f} < {p.min_accuracy}"
            else:
                reason = None
            out.append(VerdictSpec(
                passed=reason is None, score=accuracy,
                details={"reason": reason or f"kept: balanced accuracy {accuracy:.2f}",
                         "accuracy": accuracy, "plain_accuracy": plain,
                         "answers": [a.said for a in row], **pool}))
        return out

    def _judge_responses(self, texts: list[str], kept: list[JudgedSample]
                         ) -> list[VerdictSpec]:
        if not kept:  # never asked: responses are asked for only with kept functions
            return [VerdictSpec(passed=False, error="no kept verification function")
                    for _ in texts]
        functions = [Verifier.model_validate_json(s.text).function for s in kept]
        try:
            found = ask(functions, texts, self.params.call_timeout_s)
        except CheckError as exc:
            return [VerdictSpec(passed=False, error=str(exc)) for _ in texts]
        out = []
        for j in range(len(texts)):
            said = [row[j] for row in found]
            yes = sum(a.value is True for a in said)
            passed = yes == len(said) if self.params.pass_rule == "all" \
                else yes * 2 > len(said)
            no = [a.said for a in said if a.value is not True]
            reason = (f"{yes} of {len(said)} kept functions say True ({self.params.pass_rule} "
                      "needed)") + (f"; first no: {no[0]}" if no else "")
            out.append(VerdictSpec(passed=passed, score=yes / len(said), details={
                "reason": reason, "answers": [a.said for a in said],
                "functions": [s.generation_id for s in kept], "rule": self.params.pass_rule}))
        return out

    # -- curation -------------------------------------------------------------------------

    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        p = self.params
        instruction = self.instruction(judged)
        if instruction is None:
            return Curation(flag="no_instruction")
        kept = self.kept_functions(judged)
        if len(kept) < p.min_functions:
            return Curation(flag="too_few_functions")
        responses = [s for s in judged if s.ask == "response"]
        asked = prompt.model_copy(update={"messages": self.response_messages(prompt,
                                                                             instruction)})
        cases = kept[0].verdict.details.get("cases", [])  # one pool per instruction
        meta = {"query": prompt.reference["query"], "instruction": instruction,
                "functions": [Verifier.model_validate_json(s.text).function for s in kept],
                "function_accuracy": [s.verdict.score for s in kept], "cases": cases,
                "pass_rule": p.pass_rule}
        return curate_pass_fail(asked, responses, p.sft_per_problem, p.pairs_per_problem, meta,
                                self.pair_meta, self.rejectable)

    def rejectable(self, wrong: list[JudgedSample]) -> list[JudgedSample]:
        """Pairs reject the responses the fewest kept functions accept."""
        return lowest_scored(wrong)

    def pair_meta(self, chosen: JudgedSample, rejected: JudgedSample) -> dict[str, Any]:
        return {"rejected_score": rejected.verdict.score,
                "rejected_answers": rejected.verdict.details.get("answers")}
