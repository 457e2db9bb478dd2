"""Final-answer checking with math-verify: equivalences, GSM8K golds, threads, the CLI."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli.main import app
from factory.seeds import MathSeed
from verifiers.math_answer import check, check_many

DATA = Path(__file__).parent.parent / "factory" / "data"

EQUIVALENT = [
    ("\\frac{1}{2}", "so the answer is \\boxed{0.5}"),
    ("0.5", "\\boxed{\\frac{1}{2}}"),
    ("1,000", "The total is \\boxed{1000}."),
    ("1000", "The total is \\boxed{1,000}."),
    ("50\\%", "\\boxed{0.5}"),
    ("-7", "\\boxed{-7}"),
    ("\\{1,2\\}", "\\boxed{\\{2, 1\\}}"),
    ("[1,3)", "\\boxed{[1, 3)}"),
    ("\\sqrt{2}/2", "\\boxed{\\frac{\\sqrt{2}}{2}}"),
]
DIFFERENT = [
    ("72", "\\boxed{73}"),
    ("-7", "\\boxed{7}"),
    ("[1,3)", "\\boxed{[1, 3]}"),
    ("\\{1,2\\}", "\\boxed{\\{1, 3\\}}"),
    ("1/2", "I do not know."),
]


@pytest.mark.parametrize(("gold", "response"), EQUIVALENT)
def test_equivalent_answers_are_correct(gold: str, response: str) -> None:
    assert check(gold, response).correct


@pytest.mark.parametrize(("gold", "response"), DIFFERENT)
def test_different_answers_are_wrong(gold: str, response: str) -> None:
    assert not check(gold, response).correct


def test_every_gsm8k_test_gold_parses_and_matches_itself() -> None:
    golds = [MathSeed.model_validate(json.loads(line)).answer
             for line in (DATA / "gsm8k_test.jsonl").open()]
    assert len(golds) == 1319
    results = check_many([(g, f"Therefore the answer is \\boxed{{{g}}}.") for g in golds])
    failures = [(g, r.error) for g, r in zip(golds, results, strict=True) if not r.correct]
    assert failures == []


def test_checks_work_inside_threads() -> None:
    pairs = [("3", "\\boxed{3}"), ("3", "\\boxed{4}")] * 4
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: check(*p).correct, pairs))
    assert results == [True, False] * 4


def test_pathological_answer_is_bounded_in_time_and_does_not_crash() -> None:
    nasty = "\\boxed{" + "9" * 2000 + "^{" * 200 + "9" + "}" * 200 + "!" * 50 + "}"
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(check, "1", nasty).result(timeout=120)
    assert result.correct is False


def test_cli_writes_each_line_back_with_verdict(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"gold": "1/2", "response": "\\boxed{0.5}", "id": 1}) + "\n"
                   + json.dumps({"gold": "2", "response": "\\boxed{3}", "id": 2}) + "\n")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["verify", "math", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(x["id"], x["correct"]) for x in lines] == [(1, True), (2, False)]
    assert lines[0]["extracted"] is not None


def test_cli_names_the_bad_line(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"gold": "1", "response": "x"}) + "\n{oops\n")
    result = CliRunner().invoke(app, ["verify", "math", str(src)])
    assert result.exit_code == 1 and f"{src}:2: invalid JSON" in result.output
