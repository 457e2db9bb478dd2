"""Ranking tasks on SQLite and PostgreSQL: accounts, hand-out, k, skips, undo and edit, the
pairs and SFT lines rankings become, agreement, and annotators at once (both stores)."""

import json
import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from db.models import AnnotationTask, Annotator, PreferencePair, Ranking, SftExample
from db.session import sessionmaker_for
from factory.annotation import accounts, task_queue
from factory.annotation.accounts import (
    AccountError,
    Role,
    add_annotator,
    authenticate,
    by_email,
)
from factory.annotation.consensus import Vote, agreement, best, pairs
from factory.annotation.stats import data_per_strategy, inter_annotator_agreement
from factory.export import ExportFilter, export
from tests.annotation_helpers import PASSWORD, annotation_store, responses_job
from tests.conftest import env_for


def on_screen(shown: task_queue.Shown) -> list[int]:
    """The order of the responses as the annotator sees them."""
    return [g for g, _ in shown.responses]


def test_accounts_hash_passwords_and_check_them(sessions) -> None:
    with sessions.begin() as s:
        add_annotator(s, "ann", Role.annotator, PASSWORD)
        with pytest.raises(AccountError, match="exists already"):
            add_annotator(s, "ann", Role.admin, "another password")
        with pytest.raises(AccountError, match="at least 8"):
            add_annotator(s, "bob", Role.annotator, "short")
    with sessions.begin() as s:
        stored = s.scalar(select(Annotator.password_hash))
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        assert authenticate(s, "ann", PASSWORD).name == "ann"
        assert authenticate(s, "ann", "wrong password") is None
        assert authenticate(s, "nobody", PASSWORD) is None


def test_names_differing_only_by_case_are_one_name_for_single_sign_on(sessions) -> None:
    with sessions.begin() as s:
        add_annotator(s, "Carol@Example.org", Role.annotator, PASSWORD)
        with pytest.raises(AccountError, match="'Carol@Example.org' exists already"):
            add_annotator(s, "carol@example.org", Role.admin, PASSWORD)
        assert by_email(s, " CAROL@example.ORG ").name == "Carol@Example.org"
        assert by_email(s, "nobody@example.org") is None
        # nor can a second be written past that check: the store refuses it
        with pytest.raises(IntegrityError), s.begin_nested():
            s.add(Annotator(name="carol@example.org", role="admin", password_hash="x"))
        assert by_email(s, "carol@example.org").name == "Carol@Example.org"


def test_an_add_racing_past_the_name_check_is_an_account_error(store_url, monkeypatch) -> None:
    """Two adds at once both pass the case-insensitive check; the loser's insert hits the
    unique index. It gets an AccountError, and its caller's transaction goes on."""
    sessions = sessionmaker_for(store_url)
    with sessions.begin() as s:
        add_annotator(s, "Dana", Role.annotator, PASSWORD)
    with (pytest.raises(AccountError, match="'Dana' exists already; names must differ by more"),
          sessions.begin() as s):
        add_annotator(s, "dana", Role.annotator, PASSWORD)
    monkeypatch.setattr(accounts, "_holder", lambda session, name: None)  # the check, raced
    with sessions.begin() as s:
        add_annotator(s, "erin", Role.annotator, PASSWORD)  # written before, in the same one
        with pytest.raises(AccountError, match="'dana' clashes with an account added meanwhile"
                                               "; names must differ by more than case"):
            add_annotator(s, "dana", Role.annotator, PASSWORD)
        add_annotator(s, "fay", Role.annotator, PASSWORD)  # and after
    with sessions.begin() as s:
        assert s.scalars(select(Annotator.name).order_by(Annotator.id)).all() == [
            "Dana", "erin", "fay"]


def test_an_add_is_undone_with_its_callers_transaction(store_url) -> None:
    """An add as the first write of a transaction (its savepoint would be the outermost on
    SQLite, and releasing that commits) goes when the transaction is rolled back."""
    sessions = sessionmaker_for(store_url)
    s = sessions()
    with s.begin():
        add_annotator(s, "gus", Role.annotator, PASSWORD)
        s.rollback()
    s.close()
    with sessions.begin() as s:
        assert s.scalars(select(Annotator.name)).all() == []


def test_tasks_are_made_once_per_prompt_from_distinct_responses(sessions, tmp_path) -> None:
    job_id = responses_job(sessions, tmp_path, temperatures=(0.3, 0.3, 0.7))
    with sessions.begin() as s:
        assert task_queue.create_tasks(s, job_id, k=2) == (4, 0)
        assert task_queue.create_tasks(s, job_id, k=2) == (0, 0)  # again: nothing new
        made = s.scalars(select(AnnotationTask)).all()
    # two asks at 0.3 answer alike: each task holds the two distinct responses
    assert all(len(t.generation_ids) == 2 and t.rankings_wanted == 2 for t in made)
    with sessions.begin() as s, pytest.raises(task_queue.TaskError, match="no job 99"):
        task_queue.create_tasks(s, 99, k=1)


def test_k_distinct_annotators_and_never_the_same_task_twice(store_url, tmp_path) -> None:
    sessions = sessionmaker_for(store_url)
    _, ids = annotation_store(sessions, tmp_path, k=2, count=2, people=("ann", "bob", "cy"))
    seen: dict[str, list[int]] = {}
    for name in ("ann", "bob", "cy"):
        while True:
            with sessions.begin() as s:
                shown = task_queue.next_task(s, ids[name])
                if shown is None:
                    break
                order = [g for g, _ in shown.responses]
                task_queue.submit(s, ids[name], shown.task.id, [[g] for g in order], shown=order)
                seen.setdefault(name, []).append(shown.task.id)
    assert seen["ann"] == seen["bob"] == [1, 2] and "cy" not in seen  # k = 2 reached
    with sessions() as s:
        assert set(s.scalars(select(AnnotationTask.status))) == {"done"}
        counts = s.execute(select(Ranking.task_id, func.count()).group_by(Ranking.task_id))
        assert dict(counts.all()) == {1: 2, 2: 2}


def test_a_skip_does_not_count_and_is_not_offered_again(sessions, tmp_path) -> None:
    _, ids = annotation_store(sessions, tmp_path, k=1, count=1)
    with sessions.begin() as s:
        first = task_queue.next_task(s, ids["ann"])
        task_queue.submit(s, ids["ann"], first.task.id, [], skipped=True,
                          shown=on_screen(first))
        assert task_queue.next_task(s, ids["ann"]) is None
        assert task_queue.progress(s, ids["ann"]) == (1, 0)
        again = task_queue.next_task(s, ids["bob"])
        assert again.task.id == first.task.id and again.task.status == "open"


def test_a_stale_claim_returns_the_task_to_the_queue(sessions, tmp_path) -> None:
    _, ids = annotation_store(sessions, tmp_path, k=1, count=1)
    with sessions.begin() as s:
        assert task_queue.next_task(s, ids["ann"]) is not None
        assert task_queue.next_task(s, ids["bob"]) is None  # ann holds it
        assert task_queue.next_task(s, ids["bob"], claim_minutes=0) is not None


def test_a_lapsed_claim_on_a_task_others_finished_is_dropped(sessions, tmp_path) -> None:
    _, ids = annotation_store(sessions, tmp_path, k=1, count=2)
    with sessions.begin() as s:
        held = task_queue.next_task(s, ids["ann"])
        other = task_queue.next_task(s, ids["bob"], claim_minutes=0)  # ann's claim has lapsed
        assert other.task.id == held.task.id
        task_queue.submit(s, ids["bob"], other.task.id, [[g] for g, _ in other.responses],
                          shown=on_screen(other))
        with pytest.raises(task_queue.TaskError, match="not the one on your screen"):
            task_queue.submit(s, ids["ann"], held.task.id, [[g] for g, _ in held.responses],
                              shown=on_screen(held))
    with sessions.begin() as s:
        mine = task_queue.next_task(s, ids["ann"], claim_minutes=0)
        assert mine.task.id != held.task.id  # the finished task is not shown to ann again


def test_a_live_claim_on_a_task_others_filled_is_dropped(sessions, tmp_path) -> None:
    """A claim left on a task whose k rankings are in (as a race on an unlocked store left
    one): its holder is handed the next task, not one with no ranking left to give."""
    _, ids = annotation_store(sessions, tmp_path, k=1, count=2)
    with sessions.begin() as s:
        held = task_queue.next_task(s, ids["ann"])
        task = s.get_one(AnnotationTask, held.task.id)
        s.add(Ranking(task_id=task.id, annotator_id=ids["bob"], tiers=[task.generation_ids],
                      shown_order=task.generation_ids))
    with sessions.begin() as s:
        mine = task_queue.next_task(s, ids["ann"])
        assert mine is not None and mine.task.id != held.task.id
        assert task_queue.progress(s, ids["ann"]) == (0, 1)


def test_a_ranking_is_taken_only_for_the_task_on_screen_in_its_order(sessions,
                                                                     tmp_path) -> None:
    """A key pressed twice: the second press must not judge a task nobody saw."""
    _, ids = annotation_store(sessions, tmp_path, k=2, count=3)
    with sessions.begin() as s:
        first = task_queue.next_task(s, ids["ann"])
        order = on_screen(first)
        with pytest.raises(task_queue.TaskError, match="not shown to you in that order"):
            task_queue.submit(s, ids["ann"], first.task.id, [[g] for g in order],
                              shown=order[::-1])
        task_queue.submit(s, ids["ann"], first.task.id, [[g] for g in order], shown=order)
        # the next task is not claimed yet (not drawn): a ranking of it is refused
        unseen = first.task.id + 1
        with sessions() as other:
            task = other.get_one(AnnotationTask, unseen)
            unseen_order = task_queue.shown_order(task, ids["ann"])
        with pytest.raises(task_queue.TaskError, match=f"task {unseen} is not the one on"):
            task_queue.submit(s, ids["ann"], unseen, [unseen_order], shown=unseen_order)
        # the task just ranked may be ranked again (an edit of the last ranking)
        task_queue.submit(s, ids["ann"], first.task.id, [order], shown=order)
        drawn = task_queue.next_task(s, ids["ann"])
        assert drawn.task.id == unseen
        with pytest.raises(task_queue.TaskError, match="not the one on your screen"):
            task_queue.submit(s, ids["bob"], unseen, [unseen_order], shown=unseen_order)
        task_queue.submit(s, ids["ann"], unseen, [unseen_order], shown=unseen_order)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ranking)) == 2


def test_positions_are_random_per_annotator_stable_and_stored(sessions, tmp_path) -> None:
    _, ids = annotation_store(sessions, tmp_path, k=2, count=4, people=("ann", "bob"))
    orders = {}
    with sessions.begin() as s:
        for task in s.scalars(select(AnnotationTask)):
            orders[task.id] = (task_queue.shown_order(task, ids["ann"]),
                               task_queue.shown_order(task, ids["bob"]))
            assert task_queue.shown_order(task, ids["ann"]) == orders[task.id][0]
        shown = task_queue.next_task(s, ids["ann"])
        assert [g for g, _ in shown.responses] == orders[shown.task.id][0]
        j = task_queue.submit(s, ids["ann"], shown.task.id, [[g] for g, _ in shown.responses],
                              shown=on_screen(shown))
        assert j.shown_order == orders[shown.task.id][0]
    assert any(a != b for a, b in orders.values())


def test_rankings_become_pairs_and_the_best_an_sft_line(sessions, tmp_path) -> None:
    job_id, ids = annotation_store(sessions, tmp_path, k=1, count=1)
    with sessions.begin() as s:
        shown = task_queue.next_task(s, ids["ann"])
        a, b, c = [g for g, _ in shown.responses]
        with pytest.raises(task_queue.TaskError, match="orders each of its responses once"):
            task_queue.submit(s, ids["ann"], shown.task.id, [[a], [b]], shown=on_screen(shown))
        task_queue.submit(s, ids["ann"], shown.task.id, [[a], [b, c]], comment=" clear winner ",
                          shown=on_screen(shown))
    with sessions() as s:
        got = {(p.chosen_generation_id, p.rejected_generation_id)
               for p in s.scalars(select(PreferencePair))}
        sft = s.scalars(select(SftExample)).one()
    assert got == {(a, b), (a, c)}  # b and c are tied: no pair between them
    assert sft.generation_id == a and sft.meta["comments"] == ["clear winner"]
    out = tmp_path / "dpo.jsonl"
    with sessions() as s:
        assert export(s, "dpo", out, ExportFilter(job_id=job_id)).written == 2
    line = json.loads(out.read_text().splitlines()[0])
    assert line["metadata"]["source"] == "human" and line["metadata"]["strategy"] == "respond"
    assert line["prompt"][-1]["role"] == "user" and line["chosen"][0]["role"] == "assistant"


def test_undo_and_edit_change_the_data_with_the_ranking(sessions, tmp_path) -> None:
    _, ids = annotation_store(sessions, tmp_path, k=1, count=2)
    with sessions.begin() as s:
        shown = task_queue.next_task(s, ids["ann"])
        a, b, c = [g for g, _ in shown.responses]
        task_queue.submit(s, ids["ann"], shown.task.id, [[a], [b], [c]], shown=on_screen(shown))
        assert task_queue.next_task(s, ids["ann"]).task.id != shown.task.id
    with sessions.begin() as s:
        assert task_queue.undo_last(s, ids["ann"]) == shown.task.id
        assert s.scalar(select(func.count()).select_from(PreferencePair)) == 0
        assert task_queue.next_task(s, ids["ann"]).task.id == shown.task.id  # theirs, shown next
        assert task_queue.next_task(s, ids["bob"]).task.id != shown.task.id
        task_queue.submit(s, ids["ann"], shown.task.id, [[c], [b], [a]], shown=on_screen(shown))
    with sessions.begin() as s:
        assert task_queue.edit_last(s, ids["ann"]).task.id == shown.task.id
        task_queue.submit(s, ids["ann"], shown.task.id, [[b], [a, c]], all_bad=True,
                          shown=on_screen(shown))
        assert s.scalar(select(func.count()).select_from(Ranking)) == 1
    with sessions() as s:
        got = {(p.chosen_generation_id, p.rejected_generation_id)
               for p in s.scalars(select(PreferencePair))}
        assert got == {(b, a), (b, c)}
        assert s.scalar(select(func.count()).select_from(SftExample)) == 0  # all bad: no SFT
        rows = data_per_strategy(s)
    assert {"strategy": "respond", "source": "human", "sft": 0, "pairs": 2} in rows


def test_consensus_and_agreement() -> None:
    ab, ba, tie = Vote(tiers=[[1], [2]]), Vote(tiers=[[2], [1]]), Vote(tiers=[[1, 2]])
    assert pairs([ab, ba]) == [] and best([ab, ba]) is None  # one each way: nothing
    [p] = pairs([ab, ab, ba])
    assert (p.chosen, p.rejected, p.wins, p.losses) == (1, 2, 2, 1) and best([ab, ab, ba]) == 1
    assert pairs([tie]) == [] and best([tie]) is None
    bad = Vote(tiers=[[1], [2]], all_bad=True)
    assert best([bad, bad, ab]) is None and best([ab, ab, bad]) == 1
    same = [[(1, [[10], [11], [12]]), (2, [[10], [11], [12]])],
            [(1, [[20], [21]]), (2, [[20], [21]])]]
    assert agreement(same) == pytest.approx(1.0)
    mixed = [[(1, [[10], [11], [12]]), (2, [[12], [11], [10]])],
             [(1, [[20], [21]]), (2, [[21], [20]])]]
    assert agreement(mixed) < 0
    assert agreement([[(1, [[1], [2]])]]) is None  # nobody overlaps


def test_agreement_over_the_store(sessions, tmp_path) -> None:
    _, ids = annotation_store(sessions, tmp_path, k=2, count=2)
    for name in ("ann", "bob"):
        for _ in range(2):
            with sessions.begin() as s:
                shown = task_queue.next_task(s, ids[name])
                ranked = sorted(g for g, _ in shown.responses)
                task_queue.submit(s, ids[name], shown.task.id, [[g] for g in ranked],
                                  shown=on_screen(shown))
    with sessions() as s:
        alpha, shared = inter_annotator_agreement(s)
    assert shared == 2 and alpha == pytest.approx(1.0)


@pytest.mark.services
@pytest.mark.parametrize("k, people", [(1, 4), (2, 3)])
def test_annotators_at_once_never_take_a_task_past_k(store_url, tmp_path, k, people) -> None:
    sessions = sessionmaker_for(store_url)
    job_id = responses_job(sessions, tmp_path, count=30)
    with sessions.begin() as s:
        assert task_queue.create_tasks(s, job_id, k=k) == (30, 0)
        ids = [add_annotator(s, f"p{i}", Role.annotator, PASSWORD).id for i in range(people)]
    start = threading.Barrier(people)
    judged: dict[int, list[int]] = {i: [] for i in ids}

    errors: list[BaseException] = []

    def work(annotator_id: int) -> None:
        start.wait()
        try:
            while True:
                with sessions.begin() as s:
                    shown = task_queue.next_task(s, annotator_id)
                    if shown is None:
                        return
                    task_queue.submit(s, annotator_id, shown.task.id,
                                      [[g] for g, _ in shown.responses], shown=on_screen(shown))
                judged[annotator_id].append(shown.task.id)
                time.sleep(0.02)  # reading the next task: the others get their turn
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert all(len(set(done)) == len(done) for done in judged.values())  # never twice
    everything = [t for done in judged.values() for t in done]
    assert sorted(everything) == sorted(list(range(1, 31)) * k)  # each task k times, none lost
    assert sum(bool(done) for done in judged.values()) > 1  # they really worked at once
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ranking)) == 30 * k
        assert set(s.scalars(select(AnnotationTask.status))) == {"done"}


def test_the_command_line_makes_accounts_and_tasks(sqlite_url, tmp_path) -> None:
    from tests.conftest import cli

    job_id = responses_job(sessionmaker_for(sqlite_url), tmp_path)
    env = {**env_for(sqlite_url, "", ""), "FACTORY_BROKER_URL": ""}
    made = cli(env, "annotators", "add", "ann", "--role", "admin", "--password", PASSWORD)
    assert made.returncode == 0 and "admin ann added" in made.stdout, made.stderr
    again = cli(env, "annotators", "add", "ann", "--password", PASSWORD)
    assert again.returncode == 1 and "exists already" in again.stderr
    short = cli(env, "annotators", "add", "bob", "--password", "short")
    assert short.returncode == 1 and "at least 8" in short.stderr
    tasks_made = cli(env, "annotate", "create", "--job", str(job_id), "--k", "2")
    assert "4 tasks made" in tasks_made.stdout, tasks_made.stderr
    status = cli(env, "annotate", "status")
    assert status.returncode == 0 and "respond" in status.stdout
    with sessionmaker_for(sqlite_url)() as s:
        assert {t.rankings_wanted for t in s.scalars(select(AnnotationTask))} == {2}
