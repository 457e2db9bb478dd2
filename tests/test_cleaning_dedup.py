"""Near-duplicate removal: exact (normalised) and MinHash/LSH near-copies, best score kept,
prompt templates not mistaken for duplication; and both cleanings in `factory export`."""

import hashlib
import json
from pathlib import Path

from factory.cleaning.copies import Copies, score_of
from factory.cleaning.dedup import DedupOptions, bands, find_duplicates
from factory.cleaning.export_pass import CleaningOptions, line_key
from factory.export import ExportFilter, export
from tests.helpers import make_job
from tests.test_export import job_with_data

BASE = ("A farmer has 12 cows and each cow gives 8 liters of milk a day. He sells the milk at "
        "3 dollars a liter at the market every morning. How much money does he make in a week?")
OTHER = ("Maria reads 20 pages of her novel on weekdays and twice as many on weekends. The "
         "novel has 450 pages. How many weeks will it take her to finish the whole book?")


def run(texts_scores, **kw):
    return find_duplicates(lambda: iter(texts_scores), DedupOptions(**kw))


def test_exact_duplicates_after_normalising_keep_the_best_score() -> None:
    r = run([(BASE, 0.5), (BASE.upper().replace(",", "").replace("?", " ?"), 0.9), (OTHER, 1)])
    assert r.dropped == {0: 1} and r.exact == 1 and r.near == 0


def test_near_copies_found_best_scored_kept_distinct_lines_left() -> None:
    near = BASE.replace("cows", "goats", 1)
    r = run([(BASE, None), (OTHER, 1.0), (near, 2.0), (BASE.replace("week", "fortnight"), 1.0)])
    assert r.dropped == {0: 2, 3: 2} and r.near == 2 and r.lines == 4
    assert run([(BASE, 1.0), (near, 2.0)], threshold=0.99).dropped == {}


def test_a_shared_prompt_template_is_not_duplication() -> None:
    template = ("Solve the following math problem step by step. Put your final answer in "
                "\\boxed{{}}.\n\nWhat is {a} + {b}?")
    lines = [(template.format(a=a, b=b) + f" {a} + {b} = {a + b}.", 1.0)
             for a, b in zip(range(3, 33), range(190, 220), strict=True)]
    assert run(lines).dropped == {}
    # the same lines twice are still found
    assert len(run(lines + lines).dropped) == len(lines)


def test_bands_reach_the_recall_at_the_threshold() -> None:
    for perm, t in ((64, 0.7), (128, 0.8), (64, 0.5)):
        b = bands(perm, t)
        assert perm % b == 0 and 1 - (1 - t ** (perm // b)) ** b >= 0.97


def plant(sessions, job_id: int, rows: list[tuple[list, float | None]],
          tags: list[str] | None = None) -> None:
    """SFT rows in this order (``tags`` go into each line's metadata as ``tag``)."""
    from db.models import SftExample

    with sessions() as s:
        for n, (messages, score) in enumerate(rows):
            s.add(SftExample(job_id=job_id, key=f"planted-{n}", messages=messages,
                             score=score, meta={"tag": tags[n]} if tags else {}))
        s.commit()


def chat(q: str, a: str) -> list[dict]:
    return [{"role": "user", "content": q}, {"role": "assistant", "content": a}]


def test_export_drops_benchmark_lines_and_near_copies_and_says_so(sessions,
                                                                  tmp_path: Path) -> None:
    job_id = job_with_data(sessions, tmp_path)
    with open(Path(__file__).resolve().parent.parent / "factory/data/gsm8k_test.jsonl") as fh:
        leaked = json.loads(fh.readline())["question"]
    plant(sessions, job_id, [
        (chat("Please solve: " + leaked, "Let me think step by step."), 1.0),
        (chat(BASE, "He makes 12 * 8 * 3 * 7 = 2016 dollars."), 0.4),
        (chat(BASE.replace("cows", "goats"), "He makes 12 * 8 * 3 * 7 = 2016 dollars."), 0.9),
    ])
    with sessions() as s:
        plain = export(s, "sft", tmp_path / "plain.jsonl", ExportFilter(job_id=job_id),
                       CleaningOptions(decontaminate=False, dedup=False))
        clean = export(s, "sft", tmp_path / "clean.jsonl", ExportFilter(job_id=job_id))
    manifest = json.loads(clean.manifest.read_text())
    cleaning = manifest["cleaning"]
    decon, dedup = cleaning["decontamination"], cleaning["near_duplicates"]
    assert decon["enabled"] and decon["rule"]["min_lcs"] == 13
    assert decon["benchmarks"] == ["gsm8k-test", "humaneval", "ifeval"]
    dropped = decon["dropped_per_benchmark"]["gsm8k-test"]
    assert dropped["count"] == 1 and dropped["lines"][0]["item_id"] == "test/0"
    assert dedup["enabled"] and dedup["threshold"] == 0.7 and dedup["shingle"] == 2
    assert dedup["near_dropped"] >= 1
    goats = [d for d in dedup["dropped"] if d["seed_item"] is None]
    assert len(goats) == 1  # the cow line (score 0.4) went; the goat line (0.9) stayed
    text = clean.path.read_text()
    assert "goats" in text and "12 cows" not in text and "Please solve" not in text
    assert manifest["sha256"] == hashlib.sha256(clean.path.read_bytes()).hexdigest()
    assert manifest["count"] == clean.written == len(text.splitlines())
    assert clean.written == plain.written - 1 - dedup["exact_dropped"] - dedup["near_dropped"]
    off = json.loads(plain.manifest.read_text())["cleaning"]
    assert off == {"decontamination": {"enabled": False}, "near_duplicates": {"enabled": False}}


def test_identical_lines_keep_the_best_copy_with_or_without_cleaning(sessions,
                                                                    tmp_path: Path) -> None:
    job_id = make_job(sessions, tmp_path, count=1)
    same, cows = chat(OTHER, "She needs 3 weeks."), chat(BASE, "He makes 2016 dollars.")
    goats = chat(BASE.replace("cows", "goats"), "He makes 2016 dollars.")
    plant(sessions, job_id,
          [(same, 0.2), (same, 0.9), (same, 0.9), (same, None),  # best: the first 0.9
           (cows, 0.1), (goats, 0.5), (cows, 0.8)],  # the later cow copy beats the goats
          tags=["low", "best", "tie", "none", "cow-low", "goat", "cow-best"])
    for name, options in (("clean", CleaningOptions(decontaminate=False)),
                          ("plain", CleaningOptions(decontaminate=False, dedup=False))):
        with sessions() as s:
            r = export(s, "sft", tmp_path / f"{name}.jsonl", ExportFilter(job_id=job_id),
                       options)
        lines = [json.loads(x) for x in r.path.read_text().splitlines()]
        tags = [line["metadata"]["tag"] for line in lines]
        assert tags == (["best", "cow-best"] if name == "clean" else ["best", "goat", "cow-best"])
        manifest = json.loads(r.manifest.read_text())
        assert manifest["duplicates_dropped"] == r.duplicates == 4
        assert manifest["count"] == r.written == len(lines)
        assert manifest["sha256"] == hashlib.sha256(r.path.read_bytes()).hexdigest()
        record = manifest["duplicates"]
        assert [(d["score"], d["kept"]["score"]) for d in record] == [
            (0.2, 0.9), (0.9, 0.9), (None, 0.9), (0.1, 0.8)]
        assert all(d["kept"]["job"] == job_id for d in record)
        keys = {line_key(line) for line in lines}
        assert {d["key"] for d in record} <= keys  # a copy of each dropped line is in the file
        dedup = manifest["cleaning"]["near_duplicates"]
        if name == "clean":
            assert dedup["near_dropped"] == 1 and dedup["exact_dropped"] == 0
            assert [d["kept"] for d in dedup["dropped"]] == [line_key(lines[1])]


def test_a_nan_score_ranks_below_every_real_one_among_copies() -> None:
    """NaN never wins nor loses a comparison: unmapped, a NaN first copy would be kept."""
    copies = Copies()
    for index, score in enumerate([float("nan"), -5.0, 0.5, None]):
        copies.add(b"same", index, score_of({"metadata": {"score": score}}))
    assert [copies.keeps(b"same", i) for i in range(4)] == [False, False, True, False]
