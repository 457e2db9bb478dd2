"""Passage splitting: deterministic, word-safe, inside the window, indifferent to line endings,
Gutenberg-aware, and streaming a big book in constant memory."""

import random
import tracemalloc
from pathlib import Path

import pytest

from factory.passages import Window, count_tokens, split
from factory.seeds import SeedFileError, SeedKind, import_seeds, read_seeds
from tests.helpers import ROOT

ALICE = ROOT / "factory" / "data" / "alice_in_wonderland.txt"
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven",
         "wizards", "quietly", "hex"]


def prose(seed: int, paragraphs: int, blank_lines: bool = True) -> str:
    rng = random.Random(seed)
    pars = []
    for _ in range(paragraphs):
        sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 25))) + "."
                     for _ in range(rng.randint(1, 12))]
        pars.append(" ".join(sentences).capitalize())
    return ("\n\n" if blank_lines else "\n").join(pars) + "\n"


def passages(text: str, window: Window) -> list[str]:
    return [p.text for p in split(text.splitlines(keepends=True), window)]


def words_in_order(parts: list[str], source: str) -> bool:
    """Every passage is a run of whole words of the source, and runs follow each other."""
    flat = " " + " ".join(source.split()) + " "
    at = 0
    for part in parts:
        run = " " + " ".join(part.split()) + " "
        found = flat.find(run, at)
        if found < 0:
            return False
        at = found + len(run) - 1
    return True


@pytest.mark.parametrize("blank_lines", [True, False])
def test_passages_stay_in_the_window_and_never_cut_a_word(blank_lines: bool) -> None:
    text = prose(1, 80, blank_lines)
    window = Window(40, 120)
    parts = passages(text, window)
    assert len(parts) > 5
    assert all(40 <= count_tokens(p) <= 120 for p in parts)
    assert words_in_order(parts, text)
    assert parts == passages(text, window)  # deterministic


def test_a_file_that_is_one_long_line_is_cut_between_words() -> None:
    text = " ".join(WORDS * 200)  # no sentence ends, no blank lines
    parts = passages(text, Window(50, 100))
    assert all(50 <= count_tokens(p) <= 100 for p in parts)
    assert words_in_order(parts, text)
    assert sum(count_tokens(p) for p in parts) >= count_tokens(text) - 100


def test_crlf_and_bom_give_the_same_passages(tmp_path: Path) -> None:
    text = prose(2, 30)
    lf, crlf = tmp_path / "lf.txt", tmp_path / "crlf.txt"
    lf.write_bytes(text.encode())
    crlf.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    a = [r for _, r in read_seeds(lf, SeedKind.text, Window(30, 90))]
    b = [r for _, r in read_seeds(crlf, SeedKind.text, Window(30, 90))]
    assert [r["text"] for r in a] == [r["text"] for r in b] and a
    assert not any("\r" in r["text"] or "\ufeff" in r["text"] for r in b)


def test_verse_keeps_its_line_breaks_and_scenes_start_passages() -> None:
    verse = "\n".join(f"Line {i} of the song, it rhymes with {WORDS[i % 10]}" for i in range(12))
    text = f"ACT I\n\n{verse}\n\nACT II\n\n{verse}\n"
    parts = passages(text, Window(20, 400))
    assert len(parts) == 2 and all(p.startswith("ACT I") for p in parts)
    assert parts[0].count("\n") >= 12


def test_gutenberg_header_and_licence_are_stripped_and_source_kept(tmp_path: Path) -> None:
    book = tmp_path / "book.txt"
    book.write_text("The Project Gutenberg eBook of Tales\n\nTitle: Tales\n\nAuthor: A. Writer\n\n"
                    "*** START OF THE PROJECT GUTENBERG EBOOK TALES ***\n\n" + prose(3, 20)
                    + "\n*** END OF THE PROJECT GUTENBERG EBOOK TALES ***\n\n"
                    + "Section 1. General Terms of Use and Redistributing Project Gutenberg\n" * 50)
    records = [r for _, r in read_seeds(book, SeedKind.text, Window(30, 200))]
    assert records and all(r["title"] == "Tales" and r["author"] == "A. Writer" for r in records)
    joined = "\n".join(r["text"] for r in records)
    assert "Gutenberg" not in joined and "Title:" not in joined
    assert [r["position"]["index"] for r in records] == list(range(len(records)))


def test_alice_imports_as_passages_with_their_position(sessions) -> None:
    with sessions.begin() as s:
        seed_set, created = import_seeds(s, ALICE, SeedKind.text, window=Window(64, 512))
        assert created and seed_set.item_count > 50
    records = [r for _, r in read_seeds(ALICE, SeedKind.text)]
    assert records[0]["text"].startswith("CHAPTER I.\nDown the Rabbit-Hole\nAlice was")
    assert records[-1]["text"].endswith("THE END")
    firsts = [r["position"]["first_line"] for r in records]
    assert firsts == sorted(firsts)


def test_text_too_short_for_any_passage_is_a_clear_error(sessions, tmp_path: Path) -> None:
    short = tmp_path / "short.txt"
    short.write_text("Just a few words.\n")
    with pytest.raises(SeedFileError, match="no passage of at least 64 tokens"), \
            sessions.begin() as s:
        import_seeds(s, short, SeedKind.text)


def test_a_five_megabyte_book_streams_in_constant_memory(tmp_path: Path) -> None:
    def peak_for(paragraphs: int) -> tuple[int, int]:
        book = tmp_path / f"book{paragraphs}.txt"
        with book.open("w") as f:
            for i in range(0, paragraphs, 100):
                f.write(prose(i, 100))
        tracemalloc.start()
        count = sum(1 for _ in read_seeds(book, SeedKind.text))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert count > 0
        return book.stat().st_size, peak

    small_size, small_peak = peak_for(2000)
    big_size, big_peak = peak_for(10000)
    assert big_size > 5_000_000 and big_size > 4 * small_size
    assert big_peak < 1_000_000 and big_peak < 2 * small_peak
