"""Execution feedback on code (Qwen2 report, 4.1): sample solutions, run them against tests in
the Docker sandbox, keep the passing ones, pair passing against failing.

Problems with tests (HumanEval: prompt, test with ``check(candidate)``, entry point) are judged
by those tests. Problems without tests ask the model for assert tests as well, and a solution
passes when it holds against its own tests and against most of its siblings' tests - it must
agree with what the other samples think the function does.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import Field

from factory.prompts import render
from factory.sandbox_service import sandbox_pool
from factory.seeds import SeedKind
from factory.strategies.base import (
    Curation,
    JudgedSample,
    Judgement,
    PromptSpec,
    Strategy,
    StrategyParams,
)
from factory.strategies.selection import curate_pass_fail
from verifiers import code_harness, sandbox

_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)
OUTPUT_KEPT = 2000


class CodeParams(StrategyParams):
    template: str = "code/solve_v1"
    first_round: int = Field(4, ge=1)
    per_round: int = Field(4, ge=1)
    max_samples: int = Field(8, ge=1)
    sft_per_problem: int = Field(1, ge=0)
    pairs_per_problem: int = Field(2, ge=0)
    timeout_s: float = Field(10.0, gt=0, description="wall clock per test run")
    temperature: float = 0.8
    max_tokens: int = 1024


def code_blocks(text: str) -> list[str]:
    return [b.strip("\n") for b in _BLOCK.findall(text)]


def solution_source(prompt: str, entry_point: str, response: str) -> str:
    """The program text of a response: its function, or the prompt continued by it."""
    blocks = code_blocks(response)
    code = blocks[0] if blocks else response
    if re.search(rf"^\s*def {re.escape(entry_point)}\s*\(", code, re.MULTILINE):
        imports = "\n".join(line for line in prompt.splitlines()
                            if line.startswith(("import ", "from ")))
        return f"{imports}\n\n{code}"
    return prompt + code


def model_tests(response: str, entry_point: str) -> str | None:
    """The response's own assert tests as a ``check(candidate)`` function, if it wrote any."""
    blocks = code_blocks(response)
    asserts = [line.strip() for b in blocks[1:] for line in b.splitlines()
               if line.strip().startswith("assert ")]
    if not asserts:
        return None
    body = "\n".join("    " + a.replace(f"{entry_point}(", "candidate(") for a in asserts)
    return f"def check(candidate):\n{body}\n"


class CodeExecutionFeedback(Strategy):
    name = "code"
    seed_kind = SeedKind.code
    Params = CodeParams
    verifier = sandbox.NAME
    verifier_version = sandbox.VERSION
    verify_queue = "sandbox"
    params: CodeParams

    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        has_tests = bool(seed.get("test"))
        entry = seed["entry_point"]
        content = render(self.params.template, prompt=seed["prompt"], has_tests=has_tests)
        return [PromptSpec(template_id=self.params.template,
                           messages=[{"role": "user", "content": content}],
                           reference={"prompt": seed["prompt"], "entry_point": entry,
                                      "test": seed.get("test"), "task_id": seed.get("task_id")})]

    def samples_wanted(self, round: int, judged: list[JudgedSample]) -> int:
        p = self.params
        left = p.max_samples - len(judged)
        if round == 0:
            return max(0, min(p.first_round, left))
        if {s.judgement.passed for s in judged} == {True, False}:
            return 0
        return max(0, min(p.per_round, left))

    def run_tests(self, solution: str, test: str, entry_point: str) -> tuple[bool, dict]:
        try:
            program, stdin = code_harness.build_program(solution, test, entry_point)
        except SyntaxError as exc:
            return False, {"status": "error", "detail": f"tests do not parse: {exc}"}
        result = sandbox_pool().run(program, stdin, self.params.timeout_s)
        ok, checks = code_harness.passed(result.stdout, stdin)
        return ok and result.status == "ok", {
            "status": result.status, "exit_code": result.exit_code, "checks": checks,
            "duration_s": result.duration_s, "stdout": result.stdout[-OUTPUT_KEPT:],
            "stderr": result.stderr[-OUTPUT_KEPT:], "detail": result.detail}

    def judge(self, prompt: PromptSpec, texts: list[str]) -> list[Judgement]:
        ref = prompt.reference
        solutions = [solution_source(ref["prompt"], ref["entry_point"], t) for t in texts]
        with ThreadPoolExecutor(sandbox_pool().size) as pool:
            if ref.get("test"):
                runs = list(pool.map(lambda s: self.run_tests(s, ref["test"], ref["entry_point"]),
                                     solutions))
                return [Judgement(passed=ok, score=float(ok), details=d) for ok, d in runs]
            return self._judge_by_agreement(pool, solutions, texts, ref["entry_point"])

    def _judge_by_agreement(self, pool: ThreadPoolExecutor, solutions: list[str],
                            texts: list[str], entry: str) -> list[Judgement]:
        tests = [model_tests(t, entry) for t in texts]
        suites = [(j, t) for j, t in enumerate(tests) if t]
        out = []
        for i, solution in enumerate(solutions):
            if tests[i] is None:
                out.append(Judgement(passed=False, score=0.0,
                                     details={"status": "failed", "detail": "no tests written"}))
                continue
            runs = dict(zip([j for j, _ in suites], pool.map(
                lambda jt, s=solution: self.run_tests(s, jt[1], entry)[0], suites), strict=True))
            agree = sum(runs.values()) / len(runs)
            ok = runs[i] and agree >= 0.5
            out.append(Judgement(passed=ok, score=agree,
                                 details={"status": "ok" if ok else "failed", "own_tests": runs[i],
                                          "agreement": agree, "suites": len(runs)}))
        return out

    def curate(self, prompt: PromptSpec, judged: list[JudgedSample]) -> Curation:
        return curate_pass_fail(prompt, judged, self.params.sft_per_problem,
                                self.params.pairs_per_problem,
                                meta={"task_id": prompt.reference.get("task_id")})

