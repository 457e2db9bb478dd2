"""Model-written verification functions (``evaluate(response) -> bool``, AutoIF) asked about
texts in the sandbox.

The function is untrusted code, so it is the sandbox's *candidate* (its own process, its own
user) and the judge runs a fixed test the factory wrote (``ASK_EACH``): it sends each text to
the function as data (the job's ``harness_data``, never spliced into code) and records what came
back, rebuilt as a plain value. Only a real ``True`` or ``False`` is an answer; a raise, a
non-bool (``1``, ``"yes"``, an object with its own ``__bool__``), an exit, a timeout or a crash
is a failed answer with its reason. Whatever the function prints is thrown away unread: never
the verdict (that travels on the judge's pipe), never a failed answer, and never counted against
an output cap that would end the run on whichever text reached it - so a text's answer does not
depend on which texts were asked before it in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass

from factory.code_checks import run_jobs
from verifiers import code_harness

ENTRY = "evaluate"
# The judge's side, trusted: one call per text, each outcome as plain data in the report. The
# first assert is counted, so a report with checks > 0 means the function loaded and was asked.
ASK_EACH = '''\
def check(candidate):
    assert harness_data is not None
    for text in harness_data:
        try:
            answer = candidate(text)
        except Exception as exc:
            harness_report.append(("raised", (type(exc).__name__ + ": " + str(exc))[:300]))
            continue
        if answer is True or answer is False:
            harness_report.append(("bool", answer))
        else:
            harness_report.append(("not_bool", "returned " + type(answer).__name__))
'''


@dataclass(frozen=True)
class Answer:
    """A function's answer about one text: ``value`` True/False, or None with ``problem``."""

    value: bool | None
    problem: str | None = None

    @property
    def said(self) -> str:
        if self.value is None:
            return f"failed: {self.problem}"
        return "true" if self.value else "false"


class CheckError(RuntimeError):
    """The sandbox could not ask the function (a container failure): says nothing of it."""


def _answer(entry: object) -> Answer:
    if isinstance(entry, list) and len(entry) == 2 and entry[0] == "bool" \
            and isinstance(entry[1], bool):
        return Answer(entry[1])
    if isinstance(entry, list) and len(entry) == 2 and entry[0] in ("raised", "not_bool"):
        return Answer(None, str(entry[1])[:300])
    return Answer(None, "the harness could not read the answer")


def ask(functions: list[str], texts: list[str], call_timeout_s: float,
        isolate: bool = True) -> list[list[Answer]]:
    """Each function's answers about every text (one sandbox run per function, all texts at
    once). A run that ends early (an exit, a call past ``call_timeout_s``) fails the text it
    was on; with ``isolate`` the texts after it are asked again in a fresh run, so one text
    that hangs a function does not fail its siblings. Raises CheckError if the sandbox itself
    failed."""
    answers: list[list[Answer | None]] = [[None] * len(texts) for _ in functions]
    pending = {f: list(range(len(texts))) for f in range(len(functions))}
    pending = {f: left for f, left in pending.items() if left}
    while pending:
        jobs, asked = [], []
        for f, left in pending.items():
            try:
                jobs.append(code_harness.function_job(
                    functions[f], ASK_EACH, ENTRY, call_timeout=call_timeout_s,
                    data=[texts[i] for i in left], discard_output=True))
                asked.append(f)
            except code_harness.BadCheck as exc:
                for i in left:
                    answers[f][i] = Answer(None, exc.reason)
        timeout_s = call_timeout_s * (max(map(len, pending.values())) + 2) + 5
        results = run_jobs(jobs, timeout_s)
        again: dict[int, list[int]] = {}
        for f, result in zip(asked, results, strict=True):
            if result.status == "error":
                raise CheckError(result.detail or (result.verdict or {}).get("reason")
                                 or "the sandbox failed")
            left = pending[f]
            report = (result.verdict or {}).get("report") or []
            for i, entry in zip(left, report, strict=False):
                answers[f][i] = _answer(entry)
            rest = left[len(report):]
            if not rest:
                continue
            reason = code_harness.verdict(result)[1]["detail"] or "no answer came back"
            began = int((result.verdict or {}).get("checks", 0)) > 0
            failed = rest[:1] if isolate and began else rest
            for i in failed:
                answers[f][i] = Answer(None, reason[:300])
            if rest[len(failed):]:
                again[f] = rest[len(failed):]
        pending = again
    return [[a or Answer(None, "never asked") for a in row] for row in answers]
