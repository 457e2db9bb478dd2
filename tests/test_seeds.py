"""Seed import: formats normalise, re-import stores nothing new, bad files store nothing."""

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import SeedItem, SeedSet
from factory.seeds import SeedFileError, SeedKind, import_seeds, last_boxed


def write(path: Path, lines: list[object]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def counts(sessions) -> tuple[int, int]:
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(SeedSet)),
                s.scalar(select(func.count()).select_from(SeedItem)))


def test_math_formats_normalise(sessions, tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [
        {"question": "Q1", "answer": "Work 1,000 <<x>>\n#### 1,000"},        # GSM8K
        {"problem": "Q2", "solution": "so \\boxed{\\frac{1}{2}} done"},     # MATH
        {"problem": "Q3", "answer": 7},                                      # plain
    ])
    with sessions.begin() as s:
        seed_set, created = import_seeds(s, path, SeedKind.math)
    assert created and seed_set.item_count == 3
    with sessions() as s:
        payloads = [i.payload for i in s.scalars(select(SeedItem).order_by(SeedItem.ordinal))]
    assert [p["answer"] for p in payloads] == ["1,000", "\\frac{1}{2}", "7"]
    assert payloads[0]["problem"] == "Q1" and payloads[0]["solution"] == "Work 1,000 <<x>>"


def test_bundled_gsm8k_splits_import_and_do_not_overlap(sessions) -> None:
    data = Path(__file__).parent.parent / "factory" / "data"
    with sessions.begin() as s:
        test, _ = import_seeds(s, data / "gsm8k_test.jsonl", SeedKind.math)
        train, _ = import_seeds(s, data / "gsm8k_train.jsonl.gz", SeedKind.math)
        assert (test.item_count, train.item_count) == (1319, 7473)
        problems = {sid: {i.payload["problem"] for i in s.scalars(
            select(SeedItem).where(SeedItem.seed_set_id == sid))} for sid in (test.id, train.id)}
    assert not problems[test.id] & problems[train.id]


def test_the_demo_with_a_real_model_samples_the_train_split(tmp_path: Path, monkeypatch) -> None:
    """The test split is for measuring: the demo never turns it into training data."""
    from factory.cli import demo as demo_cmd

    seen = []

    def import_seeds_and_stop(session, path, kind):
        seen.append(path)
        raise SystemExit(0)

    monkeypatch.setattr(demo_cmd, "import_seeds", import_seeds_and_stop)
    monkeypatch.setenv("FACTORY_LLM_MODEL", "Qwen/Qwen2-7B-Instruct")
    monkeypatch.setenv("FACTORY_DATABASE_URL", f"sqlite:///{tmp_path / 'f.db'}")
    from factory.config import get_settings

    get_settings.cache_clear()
    with pytest.raises(SystemExit):
        demo_cmd.demo(seeds=None, batch_size=50, max_samples=16, out_dir=tmp_path)
    assert [p.name for p in seen] == ["gsm8k_train.jsonl.gz"]


def test_same_file_twice_stores_nothing_new(sessions, tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [{"problem": "Q", "answer": "1"}])
    for expected_created in (True, False):
        with sessions.begin() as s:
            _, created = import_seeds(s, path, SeedKind.math)
        assert created is expected_created
    assert counts(sessions) == (1, 1)


BAD_FILES = {
    "broken_json": (b'{"problem": "Q", "answer": "1"}\n{"problem": "Q2", "answer": \n',
                    ":2: invalid JSON"),
    "missing_field": (b'{"problem": "Q", "answer": "1"}\n{"problem": "Q2"}\n',
                      ":2: field 'answer': Field required"),
    "wrong_type": (b'{"problem": "Q", "answer": "1"}\n{"problem": ["a"], "answer": "2"}\n',
                   ":2: field 'problem': Input should be a valid string"),
    "empty": (b"", "no seed items (empty file)"),
    "binary": (b'{"problem": "Q", "answer": "1"}\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\n',
               ":2: not UTF-8 text, a binary file?"),
    "not_object": (b'[1, 2]\n', ":1: expected a JSON object"),
    "latin1": (b'{"problem": "caf\xe9", "answer": "1"}\n', ":1: not UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_seed_file_errors_clearly_and_stores_nothing(sessions, tmp_path: Path,
                                                         case: str) -> None:
    good = write(tmp_path / "good.jsonl", [{"problem": "Q", "answer": "1"}])
    with sessions.begin() as s:
        import_seeds(s, good, SeedKind.math)
    before = counts(sessions)
    content, message = BAD_FILES[case]
    bad = tmp_path / f"{case}.jsonl"
    bad.write_bytes(content)
    with pytest.raises(SeedFileError) as err, sessions.begin() as s:
        import_seeds(s, bad, SeedKind.math)
    assert str(bad) in str(err.value) and message in str(err.value)
    assert counts(sessions) == before


def test_cli_reports_bad_file_without_traceback(sessions, tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from factory.cli.main import app
    from tests.conftest import use

    use(monkeypatch, database_url=str(sessions.kw["bind"].url))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "Q"}\n')
    result = CliRunner().invoke(app, ["seeds", "import", str(bad), "--kind", "math"])
    assert result.exit_code == 1
    assert f"{bad}:1: field 'answer'" in result.output.replace("\n", "")
    assert "Traceback" not in result.output


def test_large_file_streams_in_one_transaction(sessions, tmp_path: Path) -> None:
    path = write(tmp_path / "big.jsonl", [{"problem": f"Q{i}", "answer": str(i)}
                                          for i in range(5000)])
    with sessions.begin() as s:
        seed_set, _ = import_seeds(s, path, SeedKind.math)
    assert seed_set.item_count == 5000 and counts(sessions) == (1, 5000)


def test_last_boxed_balances_braces() -> None:
    assert last_boxed("a \\boxed{1} b \\boxed{\\frac{a}{b}}") == "\\frac{a}{b}"
    assert last_boxed("no box") is None
    assert last_boxed("\\boxed{unclosed") is None
