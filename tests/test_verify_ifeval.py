"""`factory verify ifeval FILE.jsonl`: lines back in order with strict and loose verdicts, one
per instruction; a bad line is an error naming it, and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from factory.cli.main import app


def write(path: Path, lines: list) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                            for line in lines))
    return path


def test_lines_come_back_in_order_with_strict_and_loose(tmp_path: Path) -> None:
    lines = [
        {"id": 0, "response": "No commas here.", "instruction_id_list": ["punctuation:no_comma"],
         "kwargs": [{}]},
        {"id": 1, "response": 'Sure:\n"quoted"',
         "instruction_id_list": ["startend:quotation", "length_constraints:number_words"],
         "kwargs": [{}, {"num_words": 5, "relation": "at least", "keyword": None}]},
        {"id": 2, "response": "a, b", "instruction_id_list": ["punctuation:no_comma"],
         "kwargs": [None]},
    ]
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["verify", "ifeval", str(write(tmp_path / "in.jsonl",
                                                                      lines)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["id"] for g in got] == [0, 1, 2]
    assert [(g["strict"], g["loose"]) for g in got] == [
        ([True], [True]), ([False, False], [True, False]), ([False], [False])]
    assert got[1]["kwargs"][1]["keyword"] is None  # written back as read


def test_a_bad_line_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    good = {"response": "x", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
    cases = [
        ("not json", "invalid JSON"),
        ({"response": "x", "kwargs": [{}]}, "'instruction_id_list' missing"),
        ({**good, "response": 3}, "'response' is not a string"),
        ({**good, "instruction_id_list": ["punctuation:semicolon"]}, "unknown instruction id"),
        ({**good, "kwargs": [{}, {}]}, "1 instructions but 2 kwargs"),
        ({**good, "instruction_id_list": ["length_constraints:number_words"]},
         "kwargs ['num_words', 'relation'] missing"),
    ]
    for bad, message in cases:
        src = write(tmp_path / "in.jsonl", [good, bad])
        result = CliRunner().invoke(app, ["verify", "ifeval", str(src)])
        assert result.exit_code != 0
        assert f"{src}:2:" in result.output and message in result.output, result.output
        assert '"strict"' not in result.output
