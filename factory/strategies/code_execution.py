"""Execution feedback on code (Qwen2 report, 4.1): sample solutions, run them against tests in
the Docker sandbox, keep the passing ones, pair passing against failing.

Problems with tests (HumanEval: prompt, test with ``check(candidate)``, entry point) are judged
by those tests. Problems without tests ask the model for assert tests as well, and a solution
passes when it holds against its own tests and against most of its siblings' tests - it must
agree with what the other samples think the function does.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from factory.code_checks import Case, judge_cases
from factory.prompts import render
from factory.seeds import SeedKind
from factory.strategies.base import PromptSpec, Sample, VerdictSpec
from factory.strategies.pass_fail import PassFailParams, PassFailStrategy
from verifiers import code_harness, sandbox

_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


class CodeParams(PassFailParams):
    template: str = "code/solve_v1"
    max_samples: int = Field(8, ge=1, description="N: most samples one problem may get")
    sft_per_problem: int = Field(1, ge=0, description="k: distinct passing solutions kept")
    pairs_per_problem: int = Field(2, ge=0, description="m: (passing, failing) pairs kept")
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
    """The response's own assert tests as a ``check(candidate)`` function, if it wrote any.

    Only asserts the judge may run on a model's word are kept (over ``candidate(...)``,
    literals and pure builtins: code_harness.restricted_tests_error)."""
    blocks = code_blocks(response)
    asserts = [line.strip().replace(f"{entry_point}(", "candidate(")
               for b in blocks[1:] for line in b.splitlines()
               if line.strip().startswith("assert ")]
    asserts = [a for a in asserts
               if code_harness.restricted_tests_error(f"def check(candidate):\n    {a}\n")
               is None]
    if not asserts:
        return None
    body = "\n".join("    " + a for a in asserts)
    return f"def check(candidate):\n{body}\n"


class CodeExecutionFeedback(PassFailStrategy):
    name = "code"
    seed_kind = SeedKind.code
    Params = CodeParams
    verifier = sandbox.NAME
    verifier_version = sandbox.VERSION
    judge_queue = "sandbox"
    params: CodeParams

    def build_prompts(self, seed: dict[str, Any]) -> list[PromptSpec]:
        has_tests = bool(seed.get("test"))
        entry = seed["entry_point"]
        content = render(self.params.template, prompt=seed["prompt"], has_tests=has_tests)
        return [PromptSpec(template_id=self.params.template,
                           messages=[{"role": "user", "content": content}],
                           reference={"prompt": seed["prompt"], "entry_point": entry,
                                      "test": seed.get("test"), "task_id": seed.get("task_id")})]

    def run_tests(self, solution: str, test: str, entry_point: str, context: str = ""
                  ) -> tuple[bool, dict]:
        return self.run_suites([(solution, test)], entry_point, context)[0]

    def run_suites(self, cases: list[tuple[str, str]], entry_point: str, context: str = "",
                   restricted: bool = False) -> list[tuple[bool, dict]]:
        """Run (solution, tests) cases in the sandbox, spread over the warm containers, several
        per exec; each case passes only if the tests, run apart from the solution, saw every
        check hold. ``context``: the problem's own code the tests may use (its prompt);
        ``restricted``: the tests are a model's (code_harness.restricted_tests_error)."""
        return judge_cases([Case(solution, test, entry_point, context, restricted)
                            for solution, test in cases], self.params.timeout_s)

    def judge(self, prompt: PromptSpec, samples: list[Sample]) -> list[VerdictSpec]:
        texts = [s.text for s in samples]
        ref = prompt.reference
        entry = ref["entry_point"]
        solutions = [solution_source(ref["prompt"], entry, t) for t in texts]
        if ref.get("test"):
            runs = self.run_suites([(s, ref["test"]) for s in solutions], entry, ref["prompt"])
            return [VerdictSpec(passed=ok, score=float(ok), details=d,
                              error=(d.get("detail") or "sandbox error")
                              if d.get("status") == "error" else None) for ok, d in runs]
        return self._judge_by_agreement(solutions, texts, entry)

    def _judge_by_agreement(self, solutions: list[str], texts: list[str], entry: str
                            ) -> list[VerdictSpec]:
        tests = [model_tests(t, entry) for t in texts]
        suites = [j for j, t in enumerate(tests) if t]
        cases = [(i, j) for i in range(len(solutions)) if tests[i] for j in suites]
        runs = self.run_suites([(solutions[i], tests[j] or "") for i, j in cases], entry,
                               restricted=True)
        held = {case: ok for case, (ok, _) in zip(cases, runs, strict=True)}
        out = []
        for i in range(len(solutions)):
            if tests[i] is None:
                out.append(VerdictSpec(passed=False, score=0.0,
                                     details={"status": "failed", "detail": "no tests written"}))
                continue
            agree = sum(held[i, j] for j in suites) / len(suites)
            ok = held[i, i] and agree >= 0.5
            out.append(VerdictSpec(passed=ok, score=agree,
                                 details={"status": "ok" if ok else "failed",
                                          "own_tests": held[i, i], "agreement": agree,
                                          "suites": len(suites)}))
        return out

    def curation_meta(self, prompt: PromptSpec) -> dict[str, Any]:
        return {"task_id": prompt.reference.get("task_id")}
