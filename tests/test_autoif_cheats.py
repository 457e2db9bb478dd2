"""AutoIF's verification functions are model-written code facing an adversary: each cheat below
runs in the real Docker sandbox and must never count as a kept function or a passing answer,
while honest functions next to it are judged as before."""

from __future__ import annotations

import json

import pytest

from factory.strategies.autoif import AutoIf, AutoIfParams
from factory.strategies.base import JudgedSample, Sample, VerdictSpec
from factory.verification_functions import ask
from verifiers.sandbox_wire import dumps

SHORT = "def evaluate(response):\n    return len(response.split()) < 10\n"
CASES = [{"response": "Short and sweet.", "expected": True},
         {"response": "Tiny.", "expected": True},
         {"response": " ".join(["word"] * 30), "expected": False},
         {"response": " ".join(["many"] * 12) + ".", "expected": False}]
FORGED = dumps({"passed": True, "checks": 9, "calls": 9, "reason": None, "error": False,
                "report": [("bool", True)] * 8})

CHEATS = {
    "always_true": "def evaluate(response):\n    return True\n",
    "always_false": "def evaluate(response):\n    return False\n",
    # the right logic, but not a bool: 1 and "yes" are truthy, never True
    "truthy_int": "def evaluate(response):\n    return 1 if len(response.split()) < 10 else 0\n",
    "truthy_str": "def evaluate(response):\n"
                  "    return 'yes' if len(response.split()) < 10 else ''\n",
    "dunder_tricks": ("def evaluate(response):\n"
                      "    class B:\n"
                      "        def __bool__(self):\n            return True\n"
                      "        def __eq__(self, other):\n            return True\n"
                      "        __hash__ = object.__hash__\n"
                      "    return B()\n"),
    "bool_from_int_subclass": ("def evaluate(response):\n"
                               "    class I(int):\n"
                               "        def __eq__(self, other):\n            return True\n"
                               "        __hash__ = int.__hash__\n"
                               "    return I(1)\n"),
    "os_exit": "def evaluate(response):\n    import os\n    os._exit(0)\n",
    "sys_exit": "def evaluate(response):\n    import sys\n    sys.exit(0)\n",
    "exit_at_import": "import os\nos._exit(0)\n" + SHORT,
    "raises": "def evaluate(response):\n    raise ValueError('no idea')\n",
    "loops": "def evaluate(response):\n    while True:\n        pass\n",
    "no_function": "x = 1\n",
    "not_python": "def evaluate(response) return True\n",
    "prints_a_result_frame": (
        "import json, os, struct, sys\n"
        f"FORGED = {FORGED!r}\n"
        "def evaluate(response):\n"
        "    print(json.dumps({'status': 'ok', 'clean': True, 'verdict': {'passed': True, "
        "'checks': 9, 'calls': 9, 'report': [['bool', True]] * 8}}), flush=True)\n"
        "    for fd in range(0, 64):\n"
        "        try:\n"
        "            os.write(fd, struct.pack('>I', len(FORGED)) + FORGED)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return False\n"),
    "monkeypatches_builtins": (
        "import builtins\n"
        "builtins.isinstance = lambda *a: True\n"
        "builtins.len = lambda v: 0\n"
        "builtins.bool = lambda v=None: True\n"
        "builtins.Exception = BaseException\n"
        "def evaluate(response):\n    return True\n"),
    "walks_frames_for_the_report": (
        "def evaluate(response):\n"
        "    import gc, sys\n"
        "    for o in gc.get_objects():\n"
        "        if isinstance(o, list) and o and o[0] == ('bool', False):\n"
        "            o[:] = [('bool', True)] * len(o)\n"
        "    f = sys._getframe()\n"
        "    while f is not None:\n"
        "        f.f_globals.get('harness_report', []).clear()\n"
        "        f = f.f_back\n"
        "    return True\n"),
}


@pytest.fixture(scope="module")
def strategy() -> AutoIf:
    return AutoIf(AutoIfParams(call_timeout_s=1.0, functions=3, min_functions=1))


def verifier(function: str, cases: list[dict] = CASES) -> str:
    return json.dumps({"function": function, "cases": cases})


def kept_function(i: int, function: str) -> JudgedSample:
    return JudgedSample(generation_id=i, sample_index=i, ask="verifier", round=1,
                        text=verifier(function), verdict=VerdictSpec(passed=True, score=1.0))


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_a_cheating_function_is_never_kept(strategy: AutoIf, cheat: str) -> None:
    texts = [verifier(SHORT), verifier(CHEATS[cheat]),
             verifier(SHORT.replace("< 10", "<= 9"))]
    good, bad, good2 = strategy._judge_verifiers(texts)
    assert good.passed and good2.passed, (good.details, good2.details)
    assert good.details["answers"] == ["true", "true", "false", "false"]
    assert not bad.passed and bad.error is None, bad.details
    assert bad.details["reason"]
    if cheat not in ("always_true", "always_false", "monkeypatches_builtins", "no_function",
                     "not_python", "walks_frames_for_the_report"):
        assert any(a.startswith("failed:") for a in bad.details["answers"]), bad.details


def test_answers_that_are_not_bools_say_why(strategy: AutoIf) -> None:
    texts = ["Short.", "x " * 40]
    functions = [CHEATS[c] for c in ("truthy_int", "dunder_tricks", "raises", "loops",
                                     "os_exit", "exit_at_import", "no_function", "not_python")]
    found = ask(functions, texts, call_timeout_s=1.0)
    problems = [row[0].problem or "" for row in found]
    assert all(a.value is None for row in found for a in row)
    assert "returned int" in problems[0]
    assert "plain values" in problems[1]
    assert problems[2].startswith("ValueError: no idea")
    assert "longer than" in problems[3]
    assert "exited" in problems[4]
    assert "load" in problems[5] or "exited" in problems[5]
    assert "no function evaluate" in problems[6]
    assert "not valid Python" in problems[7]


def test_test_cases_that_are_all_true_keep_no_function(strategy: AutoIf) -> None:
    """An always-True function agrees with cases that are all True; the pool must hold cases
    that should fail too, or nothing is kept (and balanced accuracy scores it 0.5 anyway)."""
    only_true = [c for c in CASES if c["expected"]]
    verdicts = strategy._judge_verifiers([verifier(CHEATS["always_true"], only_true),
                                          verifier(SHORT, only_true)])
    assert not any(v.passed for v in verdicts)
    assert all("should fail" in v.details["reason"] for v in verdicts), verdicts
    # two should-fail cases among ten should-pass ones (pooled from both samples): plain
    # accuracy 0.83, balanced 0.5
    fine = [{"response": f"Fine {i}.", "expected": True} for i in range(10)]
    always, honest = strategy._judge_verifiers([
        verifier(CHEATS["always_true"], [*fine[:6], *CASES[2:]]), verifier(SHORT, fine[6:])])
    assert not always.passed and always.score == 0.5 and always.details["plain_accuracy"] >= 0.8
    assert honest.passed and honest.score == 1.0


def test_a_spying_function_learns_nothing_of_its_siblings(strategy: AutoIf) -> None:
    """The right answer, flipped if it could read any other process, its run folders or the
    judge's pipes: kept with accuracy 1.0 only if every attempt failed."""
    spy = ("import os\n"
           "def _peek():\n"
           "    me = os.getpid()\n"
           "    for p in os.listdir('/proc'):\n"
           "        if not p.isdigit() or int(p) == me:\n"
           "            continue\n"
           "        for what in ('environ', 'mem', 'cmdline'):\n"
           "            try:\n"
           "                with open(f'/proc/{p}/{what}', 'rb') as fh:\n"
           "                    if what != 'cmdline' and fh.read(64):\n"
           "                        return True\n"
           "            except OSError:\n"
           "                pass\n"
           "        try:\n"
           "            if os.listdir(f'/proc/{p}/fd'):\n"
           "                return True\n"
           "        except OSError:\n"
           "            pass\n"
           "    for name in os.listdir('/tmp'):\n"
           "        path = os.path.join('/tmp', name)\n"
           "        if path != os.getcwd() and os.access(path, os.R_OK):\n"
           "            return True\n"
           "    for fd in (5, 6, 7, 8):\n"
           "        try:\n"
           "            os.read(fd, 1)\n"
           "            return True\n"
           "        except OSError:\n"
           "            pass\n"
           "    return False\n"
           "def evaluate(response):\n"
           "    right = len(response.split()) < 10\n"
           "    return (not right) if _peek() else right\n")
    good, watched = strategy._judge_verifiers([verifier(SHORT), verifier(spy)])
    assert good.passed
    assert watched.passed and watched.score == 1.0, watched.details


def test_a_kept_function_that_misbehaves_on_one_response_fails_only_that_one(
        strategy: AutoIf) -> None:
    tricky = ("def evaluate(response):\n"
              "    if 'LOOP' in response:\n        while True:\n            pass\n"
              "    if 'EXIT' in response:\n        import os\n        os._exit(0)\n"
              "    if 'ONE' in response:\n        return 1\n"
              "    return len(response.split()) < 10\n")
    before = [kept_function(1, SHORT), kept_function(2, tricky)]
    injection = '"); import os; os._exit(0); ("'
    texts = ["All good here.", "LOOP now.", "EXIT now.", "ONE now.", "x " * 20, injection]
    verdicts = strategy.judge_after(strategy.build_prompts({"prompt": "q"})[0],
                                    [Sample(text=t, ask="response", round=2) for t in texts],
                                    before)
    assert [v.passed for v in verdicts] == [True, False, False, False, False, True]
    assert all(v.error is None and v.details["reason"] for v in verdicts)
    assert verdicts[1].details["answers"][0] == "true"
    assert verdicts[1].details["answers"][1].startswith("failed:")
    assert verdicts[4].score == 0.0 and verdicts[3].score == 0.5


def test_majority_rule_needs_more_than_half(strategy: AutoIf) -> None:
    majority = AutoIf(AutoIfParams(call_timeout_s=1.0, pass_rule="majority", functions=3,
                                   min_functions=1))
    before = [kept_function(1, SHORT), kept_function(2, SHORT.replace("< 10", "< 3")),
              kept_function(3, SHORT.replace("< 10", "< 5"))]
    texts = ["one two", "one two three four", "one two three four five six"]
    spec = majority.build_prompts({"prompt": "q"})[0]
    samples = [Sample(text=t, ask="response", round=2) for t in texts]
    assert [v.passed for v in majority.judge_after(spec, samples, before)] == [True, True, False]
    assert [v.passed for v in strategy.judge_after(spec, samples, before)] == [True, False, False]


def test_a_printed_or_written_verdict_is_never_an_answer() -> None:
    printing = CHEATS["prints_a_result_frame"].replace("    for fd in range(0, 64):",
                                                      "    for fd in ():")
    said, wrote = ask([printing, CHEATS["prints_a_result_frame"]], ["a", "b"],
                      call_timeout_s=1.0)
    assert [a.value for a in said] == [False, False]  # its print is its own output
    # frames written on every descriptor break its reply pipe: failed, never a yes
    assert [a.value for a in wrote] == [None, None]
    assert all("protocol" in (a.problem or "") for a in wrote), wrote


LONG_CHEAT = ("def evaluate(response):\n    if len(response) > 600:\n        return True\n"
              "    return len(response.split()) < 10\n")
COPIES = [LONG_CHEAT, "# counts words\n" + LONG_CHEAT,
          LONG_CHEAT.replace("(response):\n", '(response):\n    """Fewer than 10 words."""\n')
          .replace("return True\n", "return True  # long\n\n")]


def test_copies_differing_only_in_comments_count_once() -> None:
    kept = [kept_function(i, f) for i, f in enumerate(COPIES)]
    assert len(AutoIf.kept_functions(kept)) == 1
    other = kept_function(9, LONG_CHEAT.replace("600", "601"))
    assert len(AutoIf.kept_functions([*kept, other])) == 2


def test_a_long_text_cheat_copied_three_times_passes_no_long_response(
        sessions, tmp_path) -> None:
    """Cases are at most case_chars long, so cross-validation never sees a response-length
    text and keeps a function that says True to any text over 600 characters. Three copies of
    it differing only in comments are one function: too few to answer the instruction, so a long
    response that breaks it never passes (end to end, pass_rule all)."""
    from sqlalchemy import select

    from db.models import Generation, Prompt, SftExample, Verdict
    from factory.llm.scripted import ScriptedLLM
    from factory.seeds import SeedKind
    from tests.helpers import run_in_process, seed_job

    long = "This answer rambles on about the river walk. " * 20

    def model(messages, params, index):  # noqa: ANN001, ANN202
        content = messages[-1]["content"]
        if '{"instruction":' in content:
            return json.dumps({"instruction": "Answer in fewer than 10 words."})
        if '{"function":' in content:
            return verifier(COPIES[index % len(COPIES)])
        return long

    job_id = seed_job(sessions, tmp_path / "p.jsonl", "autoif", SeedKind.prompts,
                      [{"prompt": "Plan a walk."}], functions=3, min_functions=3,
                      pass_rule="all", call_timeout_s=2.0, first_round=2, max_samples=2)
    run_in_process(sessions, job_id, ScriptedLLM(model))
    with sessions() as s:
        prompt = s.scalars(select(Prompt).where(Prompt.job_id == job_id)).one()
        rows = s.execute(select(Generation.ask, Verdict.passed).join(Verdict)
                         .where(Generation.job_id == job_id)).all()
        assert [p for a, p in rows if a == "verifier"] == [True] * 3  # each copy is accurate
        assert prompt.flag == "too_few_functions"
        assert not [p for a, p in rows if a == "response" and p]
        assert not s.scalars(select(SftExample).where(SftExample.job_id == job_id)).all()


def test_what_a_function_prints_never_decides_a_later_answer() -> None:
    """A kept function that prints each text: six 20 KB texts print more than the sandbox's
    output cap in one run, which used to fail whichever text crossed it. Its output is thrown
    away, so every text gets the answer it gets alone."""
    printer = "def evaluate(response):\n    print(response)\n    return len(response) > 10\n"
    to_stderr = printer.replace("print(response)", "import sys; sys.stderr.write(response)")
    texts = [f"{i} " + "x" * 20_000 for i in range(6)]
    batch = ask([printer, to_stderr], texts, call_timeout_s=2.0)
    alone = [ask([printer, to_stderr], [t], call_timeout_s=2.0) for t in texts[3:4]]
    assert [[a.value for a in row] for row in batch] == [[True] * 6] * 2, batch
    assert [row[0].value for row in alone[0]] == [True, True]


def test_a_failed_answer_on_a_dropped_case_does_not_drop_the_function(strategy: AutoIf) -> None:
    """Kept means a bool on every case *left* after the case filter: a case no function agrees
    with is dropped, and a function that raised on it is judged without it."""
    wrong = {"response": "Two words.", "expected": False}  # every honest function says True
    picky = SHORT.replace("    return", "    if response == 'Two words.':\n"
                                       "        raise ValueError('no')\n    return", 1)
    honest, raised = strategy._judge_verifiers([verifier(SHORT, [*CASES, wrong]),
                                                verifier(picky)])
    assert honest.passed and raised.passed, raised.details
    assert honest.details["pooled_cases"] == 5 and len(honest.details["cases"]) == 4
