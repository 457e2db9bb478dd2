"""The reward model beside people: the counting (pure), the store's reward scores and rankings
read back for a reward job's ranking tasks, and the admin Data page that shows them (AppTest)
with model text defused, never HTML."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from db.models import AnnotationTask, Generation, Prompt, Verdict
from factory.agreement import Agreement, best_vs_worst, pairwise
from factory.annotation import task_queue
from factory.annotation.accounts import Role, add_annotator
from factory.annotation.consensus import Vote
from factory.annotation.reward_vs_people import RankedTask, compare, reward_jobs, reward_vs_people
from factory.llm.reward_client import arithmetic
from factory.llm.scripted import ScriptedLLM
from factory.seeds import SeedKind
from tests.annotation_helpers import PASSWORD, cookies_in_session_state
from tests.conftest import use
from tests.helpers import run_in_process, seed_job
from tests.test_annotation_app import blocks, logged_in

# --- counting ----------------------------------------------------------------------------------


def test_pairwise_counts_agreeing_reversed_and_equal_scores() -> None:
    a = pairwise([(2.0, 1.0), (0.5, 0.7), (1.0, 1.0), (3.0, -1.0)])
    assert (a.compared, a.agree, a.disagree, a.ties, a.rate) == (4, 2, 1, 1, 0.5)
    assert pairwise([]).rate is None


def test_best_vs_worst_needs_both_kinds_and_takes_the_first_of_equals() -> None:
    groups = [
        [(True, 2.0), (False, -1.0), (True, 0.0)],  # best right, worst wrong: agrees
        [(True, 0.0), (False, 1.0)],  # reversed
        [(True, 1.0), (True, 2.0)],  # nothing to compare: left out
        [(False, 1.0), (True, 1.0), (False, 0.0)],  # the first of the equal best is wrong
    ]
    assert best_vs_worst(groups) == Agreement(compared=3, agree=1)


def vote(*tiers: list[int]) -> Vote:
    return Vote(tiers=list(tiers))


def test_compare_uses_peoples_majority_pairs_and_sets_unscored_apart() -> None:
    tasks = [
        # 1 over 2 and 3 by both; 2 against 3 is a split: no pair
        RankedTask(10, 100, [1, 2, 3], [vote([1], [2], [3]), vote([1], [3], [2])]),
        RankedTask(11, 101, [4, 5], [vote([5], [4])]),  # 5 is unscored
        RankedTask(12, 102, [6, 7], []),  # only skipped: not ranked
    ]
    scores = {1: 0.5, 2: 1.0, 3: -1.0, 4: 0.0}
    c = compare(tasks, scores)
    assert (c.agreement.compared, c.agreement.agree, c.unscored, c.tasks) == (2, 1, 1, 2)
    assert c.per_task[10] == Agreement(compared=2, agree=1) and c.per_task[11].compared == 0
    rows = {r["response"]: r for r in c.rows}
    assert set(rows) == {1, 2, 3, 4, 5}  # the unranked task has no rows
    assert [r["response"] for r in c.rows][:3] == [1, 2, 3]  # people's order within a task
    assert (rows[1]["human place"], rows[1]["mean human rank"], rows[1]["rankings"]) == (1, 1, 2)
    assert (rows[2]["human place"], rows[3]["human place"]) == (2, 2)  # a shared place
    assert [rows[g]["reward place"] for g in (2, 1, 3)] == [1, 2, 3]
    assert rows[5]["reward"] is None and rows[5]["reward place"] is None


def test_equal_reward_scores_share_a_place_and_count_as_ties() -> None:
    c = compare([RankedTask(1, 1, [1, 2], [vote([1], [2])])], {1: 0.3, 2: 0.3})
    assert c.agreement == Agreement(compared=1, agree=0, ties=1)
    assert {r["reward place"] for r in c.rows} == {1}


# --- from the store ----------------------------------------------------------------------------

QUESTIONS = ["What is 37 + 48?", "What is 91 - 19?", "What is 123 + 456?", "What is 64 + 27?",
             "What is 352 - 78?", "What is 17 + 85?"]


def right(messages: list[dict[str, str]], text: str) -> bool:
    return arithmetic(messages, text) > 0


def ranked_reward_job(sessions, tmp: Path, monkeypatch, reverse: bool = False) -> int:
    """A reward job (scripted generator and reward model), its ranking tasks, and two people
    who each put right answers above wrong ones (or the reverse), equal ones tied."""
    use(monkeypatch, reward_base_url="scripted://arithmetic")
    job_id = seed_job(sessions, tmp / "prompts.jsonl", "reward", SeedKind.prompts,
                      [{"prompt": q} for q in QUESTIONS], template="math/solve_v1",
                      temperatures=[0.7, 1.0], per_setting=2, min_margin=1)
    run_in_process(sessions, job_id, ScriptedLLM.named("arithmetic"))
    with sessions.begin() as s:
        task_queue.create_tasks(s, job_id, k=2)
        people = [add_annotator(s, n, Role.annotator, PASSWORD).id for n in ("ann", "bob")]
        add_annotator(s, "root", Role.admin, PASSWORD)
    for person in people:
        while True:
            with sessions.begin() as s:
                shown = task_queue.next_task(s, person)
                if shown is None:
                    break
                order = [g for g, _ in shown.responses]
                good = [g for g, t in shown.responses if right(shown.prompt, t) != reverse]
                tiers = [t for t in (good, [g for g in order if g not in good]) if t]
                task_queue.submit(s, person, shown.task.id, tiers, shown=order)
    return job_id


def mixed_tasks(sessions, job_id: int) -> int:
    """Tasks holding both a right and a wrong answer: each gives people's pairs."""
    with sessions() as s:
        verdicts = dict(s.execute(select(Verdict.generation_id, Verdict.passed)).all())
        return sum(len({verdicts[g] for g in t.generation_ids}) == 2 for t in
                   s.scalars(select(AnnotationTask).where(AnnotationTask.job_id == job_id)))


@pytest.mark.parametrize("reverse, rate", [(False, 1.0), (True, 0.0)])
def test_a_reward_jobs_rankings_are_compared_with_its_stored_scores(
        sessions, tmp_path: Path, monkeypatch, reverse: bool, rate: float) -> None:
    job_id = ranked_reward_job(sessions, tmp_path, monkeypatch, reverse)
    assert mixed_tasks(sessions, job_id) >= 2  # the scripted model is right only sometimes
    with sessions() as s:
        assert reward_jobs(s) == [job_id]
        c = reward_vs_people(s, job_id)
    assert c.agreement.compared >= mixed_tasks(sessions, job_id) and c.unscored == 0
    assert c.agreement.rate == rate  # the scripted reward model is a perfect checker
    assert all(r["rankings"] == 2 and r["reward"] in (2.0, -2.0) for r in c.rows)


def test_an_errored_reward_verdict_is_left_out_not_guessed(sessions, tmp_path: Path,
                                                            monkeypatch) -> None:
    job_id = ranked_reward_job(sessions, tmp_path, monkeypatch)
    with sessions() as s:
        before = reward_vs_people(s, job_id)
        pair_gen = next(r["response"] for r in before.rows if r["reward"] == -2.0)
    with sessions.begin() as s:
        s.execute(update(Verdict).where(Verdict.generation_id == pair_gen)
                  .values(status="error", score=None))
    with sessions() as s:
        after = reward_vs_people(s, job_id)
    assert after.unscored >= 1
    assert after.agreement.compared == before.agreement.compared - after.unscored
    assert next(r for r in after.rows if r["response"] == pair_gen)["reward"] is None


def test_a_job_without_reward_scores_is_not_offered(sessions, tmp_path: Path) -> None:
    from tests.annotation_helpers import annotation_store

    annotation_store(sessions, tmp_path, count=1)  # a respond job: people only
    with sessions() as s:
        assert reward_jobs(s) == []


# --- the admin page ----------------------------------------------------------------------------

HOSTILE = "<script>window.pwned = 1</script> :red[Log in again] [Log in](https://evil.example)"


def test_admin_sees_reward_scores_beside_rankings_with_model_text_defused(
        sessions, sqlite_url: str, tmp_path: Path, monkeypatch) -> None:
    from annotation_ui.defuse import defuse
    from annotation_ui.text import BOX_HEIGHT

    use(monkeypatch, database_url=sqlite_url)
    cookies_in_session_state(monkeypatch)
    job_id = ranked_reward_job(sessions, tmp_path, monkeypatch)
    with sessions() as s:
        expected = reward_vs_people(s, job_id)
        first = s.get_one(AnnotationTask, expected.rows[0]["task"])
        shown_gen = first.generation_ids[0]
    with sessions.begin() as s:
        s.execute(update(Generation).where(Generation.id == shown_gen)
                  .values(text=HOSTILE))
        s.execute(update(Prompt).where(Prompt.id == first.prompt_id)
                  .values(messages=[{"role": "user", "content": "# Session expired"}]))
    admin = logged_in("root")
    admin.switch_page("views/data.py").run()
    assert not admin.exception
    assert [h.value for h in admin.header] == ["Reward model and people"]
    [metric] = admin.metric
    assert metric.label == "Reward model agrees with people" and metric.value == "100%"
    a = expected.agreement
    assert any(c.value.startswith(f"{a.agree} of {a.compared} pairs agree") for c in admin.caption)
    table = admin.dataframe[1].value
    assert len(table) == len(expected.rows)
    assert list(table["reward"]) == [r["reward"] for r in expected.rows]
    assert list(table["human place"]) == [r["human place"] for r in expected.rows]
    # the first task is shown: prompt and responses as defused Markdown, in scrolling boxes
    values = [m.value for m in admin.markdown]
    assert defuse(HOSTILE) in values and HOSTILE not in values
    assert defuse("# Session expired") in values and "# Session expired" not in values
    assert not any(":red[" in v or "](" in v for v in values)
    heights = [b.proto.height_config.pixel_height for b in blocks(admin._tree)
               if b.proto.height_config.pixel_height]
    assert heights.count(BOX_HEIGHT) == len(first.generation_ids)


def test_the_reward_section_says_when_there_is_nothing_to_compare(
        sessions, sqlite_url: str, tmp_path: Path, monkeypatch) -> None:
    from tests.annotation_helpers import annotation_store

    use(monkeypatch, database_url=sqlite_url)
    cookies_in_session_state(monkeypatch)
    annotation_store(sessions, tmp_path, count=1)
    admin = logged_in("root")
    admin.switch_page("views/data.py").run()
    assert [h.value for h in admin.header] == ["Reward model and people"]
    assert any(i.value.startswith("No ranked responses have reward scores") for i in admin.info)
    assert not admin.metric

