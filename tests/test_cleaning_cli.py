"""`factory contamination scan` and the export's cleaning options on the command line."""

import json
from pathlib import Path

from typer.testing import CliRunner

from factory.cleaning.benchmarks import BENCHMARKS
from factory.cli.main import app
from tests.conftest import use
from tests.test_export import job_with_data

ROOT = Path(__file__).resolve().parent.parent


def first(name: str):
    return next(iter(BENCHMARKS[name].load()))


def write_lines(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_scan_marks_each_line_in_order(tmp_path: Path) -> None:
    gsm = first("gsm8k-test").texts[0]
    he = first("humaneval").texts[0]
    src = write_lines(tmp_path / "in.jsonl", [
        {"text": "Natalia sold clips to 48 of her friends in April, and then she sold half as "
                 "many clips in May. How many clips did Natalia sell altogether?"},
        {"messages": [{"role": "user", "content": "Can you solve this? " + gsm},
                      {"role": "assistant", "content": "Sure."}]},
        "",
        {"prompt": [{"role": "user", "content": "Write the function."}],
         "chosen": [{"role": "assistant", "content": he}], "rejected": "pass", "id": 7},
    ])
    result = CliRunner().invoke(app, ["contamination", "scan", str(src)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in result.output.splitlines()]
    assert [r["contaminated"] for r in rows] == [False, True, True]
    assert "benchmark" not in rows[0]
    assert rows[1]["benchmark"] == "gsm8k-test" and rows[1]["item_id"] == "test/0"
    assert rows[1]["lcs"] >= 13 and 0.6 <= rows[1]["ratio"] <= 1
    assert rows[2]["benchmark"] == "humaneval" and rows[2]["item_id"] == "HumanEval/0"
    assert rows[2]["id"] == 7  # the line's own fields are kept

    out = tmp_path / "out.jsonl"
    only = CliRunner().invoke(app, ["contamination", "scan", str(src), "--benchmark",
                                    "humaneval", "--out", str(out)])
    assert only.exit_code == 0 and only.output == ""
    assert [json.loads(x)["contaminated"] for x in out.read_text().splitlines()] == \
        [False, False, True]


def test_scan_names_a_bad_line_and_an_unknown_benchmark(tmp_path: Path) -> None:
    for bad, says in (('{"question": "x"}', "no 'text', 'messages'"),
                      ('{"messages": [{"role": "user"}]}', "message 0 has no string"),
                      ("[1, 2]", "not an object"), ("{oops", "invalid JSON")):
        src = write_lines(tmp_path / "bad.jsonl", [{"text": "fine"}, bad])
        result = CliRunner().invoke(app, ["contamination", "scan", str(src)])
        assert result.exit_code == 1 and "bad.jsonl:2: " in result.output, result.output
        assert says in result.output
    result = CliRunner().invoke(app, ["contamination", "scan", str(src), "--benchmark", "mmlu"])
    assert result.exit_code == 1 and "unknown benchmark mmlu" in result.output


def test_export_options_turn_each_cleaning_off(monkeypatch, sessions, sqlite_url,
                                               tmp_path: Path) -> None:
    job_id = job_with_data(sessions, tmp_path)
    use(monkeypatch, database_url=sqlite_url)
    out = tmp_path / "sft.jsonl"
    result = CliRunner().invoke(app, ["export", "sft", "--job", str(job_id), "--out", str(out),
                                      "--no-dedup", "--benchmark", "ifeval"])
    assert result.exit_code == 0, result.output
    assert "0 matching a benchmark" in result.output and "no near-duplicate" in result.output
    cleaning = json.loads((tmp_path / "sft.jsonl.manifest.json").read_text())["cleaning"]
    assert cleaning["decontamination"]["benchmarks"] == ["ifeval"]
    assert cleaning["near_duplicates"] == {"enabled": False}
    result = CliRunner().invoke(app, ["export", "dpo", "--job", str(job_id), "--out",
                                      str(tmp_path / "dpo.jsonl"), "--no-decontaminate",
                                      "--dedup-threshold", "0.9", "--shingle", "3"])
    assert result.exit_code == 0, result.output
    cleaning = json.loads((tmp_path / "dpo.jsonl.manifest.json").read_text())["cleaning"]
    assert cleaning["decontamination"] == {"enabled": False}
    assert cleaning["near_duplicates"]["threshold"] == 0.9
    assert cleaning["near_duplicates"]["shingle"] == 3
    bad = CliRunner().invoke(app, ["export", "sft", "--out", str(out), "--dedup-threshold", "2"])
    assert bad.exit_code == 1 and "threshold must be in (0, 1]" in bad.output
