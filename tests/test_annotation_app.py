"""The annotation app through Streamlit's AppTest: login, rank, tie, skip, undo, edit, the
ranked list, permissions, and the admin pages."""

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from db.models import Ranking
from tests.annotation_helpers import (
    ADVERSARIAL,
    CARELESS,
    PASSWORD,
    TEAM,
    annotation_store,
    cookies_in_session_state,
    rank_everything,
)
from tests.conftest import use
from tests.helpers import ROOT

APP = str(ROOT / "annotation_ui" / "app.py")


@pytest.fixture
def store(sessions, sqlite_url, monkeypatch, tmp_path: Path):
    use(monkeypatch, database_url=sqlite_url)
    cookies_in_session_state(monkeypatch)
    return sessions


def logged_in(name: str, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert [t.value for t in at.title] == ["Annotation: log in"]
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def press(at: AppTest, choice: str) -> AppTest:
    """Press a choice button of the task on screen (its key is the choice and the task)."""
    [button] = [b for b in at.button if b.key and b.key.rsplit("-", 1)[0] == choice]
    return button.click().run()


def rankings(sessions) -> list[Ranking]:
    with sessions() as s:
        return list(s.scalars(select(Ranking).order_by(Ranking.id)))


def shown_ids(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith(("answer", "<script>"))]


def test_nothing_before_login_and_a_wrong_password_is_refused(store, tmp_path) -> None:
    annotation_store(store, tmp_path, count=1, temperatures=(0.3, 1.0))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not [b for b in at.button if b.key and b.key.startswith("a-")]
    assert all("answer" not in m.value for m in at.markdown)
    with pytest.raises(ValueError):
        at.switch_page("views/annotate.py")  # not a page until someone logs in
    at = logged_in("ann", "not the password")
    assert [e.value for e in at.error] == ["Wrong name or password."]
    assert [t.value for t in at.title] == ["Annotation: log in"]


def test_rank_a_pair_tie_skip_and_undo(store, tmp_path) -> None:
    _, ids = annotation_store(store, tmp_path, count=3, temperatures=(0.3, 1.0))
    at = logged_in("ann")
    assert [t.value for t in at.title] == ["Rank the responses"]
    assert "done 0 · left 3" in [c.value for c in at.caption]
    # the response that holds a script is handed to Markdown as text (HTML is escaped there)
    assert any(m.value.startswith("<script>") for m in at.markdown)
    on_screen = [b.key for b in at.button if b.key and b.key.startswith("a-")]
    press(at, "a")
    # the flash names the task and the choice; the buttons now carry the next task's id, so
    # a second press meant for the first task cannot land on one not drawn yet
    [saved] = [m.value for m in at.success]
    first_id = int(on_screen[0].split("-")[1])
    assert saved == f"Task {first_id}: saved “A is better”."
    assert [b.key for b in at.button if b.key and b.key.startswith("a-")] != on_screen
    press(at, "tie")
    press(at, "skip")
    assert [m.value for m in at.success] == [f"Task {rankings(store)[-1].task_id}: skipped."]
    assert "done 3 · left 0" in [c.value for c in at.caption]
    assert [i.value for i in at.info] == ["No task is waiting for you. Thank you!"]
    first, tie, skip = rankings(store)
    assert len(first.tiers) == 2 and first.tiers[0] == [first.shown_order[0]]
    assert len(tie.tiers) == 1 and sorted(tie.tiers[0]) == sorted(tie.shown_order)
    assert skip.skipped and skip.tiers == []
    at.button(key="undo").click().run()
    assert len(rankings(store)) == 2
    assert [m.value for m in at.markdown if m.value.startswith("**Task")] == [
        f"**Task {skip.task_id}**"]  # the undone task is back, shown first
    press(at, "b")
    last = rankings(store)[-1]
    assert last.task_id == skip.task_id and last.tiers[0] == [last.shown_order[1]]


def test_edit_the_last_ranking_and_leave_a_comment(store, tmp_path) -> None:
    annotation_store(store, tmp_path, count=2, temperatures=(0.3, 1.0))
    at = logged_in("ann")
    at.text_input(key="comment-1").input("A is clearer").run()
    press(at, "a")
    at.button(key="edit").click().run()
    assert any("(editing your ranking)" in m.value for m in at.markdown)
    press(at, "bad")
    [j] = rankings(store)
    assert j.task_id == 1 and j.all_bad and j.comment == "A is clearer"


def test_more_than_two_responses_are_ranked_as_a_list(store, tmp_path) -> None:
    annotation_store(store, tmp_path, count=1)
    at = logged_in("ann")
    assert len(at.selectbox) == 3
    # unranked to start with, and no submitting until every response has a rank
    assert [box.value for box in at.selectbox] == [None, None, None]
    assert at.button(key="rank-1").disabled and at.button(key="bad-1").disabled
    at.selectbox[0].select(2).run()
    at.selectbox[1].select(2).run()
    assert at.button(key="rank-1").disabled
    at.selectbox[2].select(1).run()
    assert not at.button(key="rank-1").disabled
    press(at, "rank")
    [j] = rankings(store)
    order = j.shown_order
    assert j.tiers == [[order[2]], [order[0], order[1]]]  # a tie in second place


def test_annotators_cannot_reach_admin_pages(store, tmp_path) -> None:
    annotation_store(store, tmp_path, count=1)
    at = logged_in("ann")
    with pytest.raises(ValueError):
        at.switch_page("views/progress.py")
    for page in ("views/data.py", "views/operations.py", "views/lockouts.py"):
        with pytest.raises(ValueError):
            at.switch_page(page)
    direct = AppTest.from_file(str(ROOT / "annotation_ui" / "views" / "progress.py"))
    direct.session_state["user"] = at.session_state["user"]
    direct.run()
    assert [e.value for e in direct.error] == ["This page is for admins."]
    assert not direct.dataframe


def test_admin_sees_progress_agreement_and_data(store, tmp_path) -> None:
    annotation_store(store, tmp_path, k=2, count=2, temperatures=(0.3, 1.0))
    for name in ("ann", "bob"):  # both prefer the plain answer, wherever it is shown
        at = logged_in(name)
        first = shown_ids(at)[0]
        press(at, "a" if first.startswith("answer") else "b")
    admin = logged_in("root")
    admin.switch_page("views/progress.py").run()
    assert [t.value for t in admin.title] == ["Progress"]
    tasks_table = admin.dataframe[0].value
    assert tasks_table.iloc[0]["tasks"] == 2 and tasks_table.iloc[0]["rankings"] == 2
    people = admin.dataframe[1].value.set_index("annotator")
    assert people.loc["ann", "rankings"] == 1 and people.loc["root", "rankings"] == 0
    assert admin.metric[0].label == "Krippendorff's alpha (ordinal)"
    assert admin.metric[0].value == "1.000"  # they agree
    admin.switch_page("views/data.py").run()
    data = admin.dataframe[0].value
    human = data[(data["strategy"] == "respond") & (data["source"] == "human")]
    assert len(human) == 1 and human.iloc[0]["pairs"] >= 1
    admin.switch_page("views/operations.py").run()
    assert [i.value for i in admin.info] == ["No broker: tasks run in-process."]
    ops_table = admin.dataframe[0].value.set_index("strategy")
    assert ops_table.loc["respond", "samples"] == 4
    # nobody has judged the responses by machine: acceptance is not 100%, it is not measured
    assert pd.isna(ops_table.loc["respond", "accepted"])


def test_progress_shows_each_annotator_worst_first(store, tmp_path) -> None:
    """Agreement with the others, time per judgment and position bias: the adversarial
    annotator tops the first table, the careless one (always A, fast) the other two."""
    _, ids = annotation_store(store, tmp_path, k=len(TEAM), count=3, temperatures=(0.3, 1.0),
                              people=TEAM)
    for who in TEAM:
        rank_everything(store, ids[who], who, took_s=3 if who == CARELESS else 40)
    admin = logged_in("root")
    admin.switch_page("views/progress.py").run()
    assert [h.value for h in admin.subheader][-3:] == [
        "Agreement per annotator", "Time per judgment", "Position bias"]
    agreed, timed, bias = (admin.dataframe[i].value for i in (2, 3, 4))
    assert agreed.iloc[0]["annotator"] == ADVERSARIAL and agreed.iloc[0]["agreement"] == 0
    assert agreed.iloc[0]["oppose"] == agreed.iloc[0]["compared"] == 3
    assert (agreed.set_index("annotator")["oppose"].drop([ADVERSARIAL, CARELESS]) == 0).all()
    assert timed.iloc[0]["annotator"] == CARELESS and len(timed) == len(TEAM)
    assert list(bias["annotator"][:1]) == ["(everyone)"]
    assert bias.set_index("annotator").loc[CARELESS, "first share"] == 1.0
    assert bias.iloc[0]["first wins"] + bias.iloc[0]["second wins"] == 3 * len(TEAM)


def blocks(node):
    """Every layout block under ``node`` (containers, columns)."""
    for child in getattr(node, "children", {}).values():
        if child.type == "flex_container":
            yield child
        yield from blocks(child)


HOSTILE = ("# Session expired\n:red[Log in again] :blue-badge[Submit] :material/lock:\n"
           "[Log in](https://evil.example) ![x](https://evil.example/p.png)\n"
           "invoice\u202egpj.exe\n" + "filler line\n\n" * 400 + "the end")


def test_hostile_model_text_is_defused_in_a_scrolling_box(store, tmp_path) -> None:
    from annotation_ui.defuse import defuse
    from annotation_ui.text import BOX_HEIGHT
    from db.models import Generation

    annotation_store(store, tmp_path, count=1, temperatures=(0.3, 1.0))
    with store.begin() as s:
        s.execute(update(Generation).where(Generation.text.startswith("<script>"))
                  .values(text=HOSTILE))
    at = logged_in("ann")
    values = [m.value for m in at.markdown]
    assert defuse(HOSTILE) in values and HOSTILE not in values
    assert not any(":red[" in v or "](" in v or "\u202e" in v for v in values)
    boxes = [b for b in blocks(at._tree) if b.proto.height_config.pixel_height]
    assert {b.proto.height_config.pixel_height for b in boxes} == {BOX_HEIGHT}
    assert len(boxes) == 2  # each response in its own box


def test_password_guessing_backs_off_and_admins_clear_it(store, tmp_path) -> None:
    from factory.annotation import lockouts

    annotation_store(store, tmp_path, count=1, temperatures=(0.3, 1.0))
    for _ in range(lockouts.FREE[lockouts.ACCOUNT] + 1):
        at = logged_in("ann", "a wrong guess")
        assert [e.value for e in at.error] == ["Wrong name or password."]
    at = logged_in("ann")  # the right password, while the account is locked
    [refused] = [e.value for e in at.error]
    assert refused.startswith("Too many failed log-ins for this account. Try again at ")
    assert [t.value for t in at.title] == ["Annotation: log in"]
    admin = logged_in("root")
    admin.switch_page("views/lockouts.py").run()
    table = admin.dataframe[0].value
    assert list(table["key"]) == ["ann"] and bool(table["locked"].iloc[0])
    admin.multiselect(key="clear-ids").select(int(table["id"].iloc[0])).run()
    admin.button(key="clear").click().run()
    assert [i.value for i in admin.info] == ["No failed log-ins on record."]
    assert [t.value for t in logged_in("ann").title] == ["Rank the responses"]


def test_progress_before_any_ranking_says_so_instead_of_empty_tables(store, tmp_path) -> None:
    annotation_store(store, tmp_path, count=1, temperatures=(0.3, 1.0))
    admin = logged_in("root")
    admin.switch_page("views/progress.py").run()
    captions = [c.value for c in admin.caption]
    for empty in ("No task has rankings from two annotators yet.", "No timed rankings yet.",
                  "No rankings yet."):
        assert empty in captions
    assert [h.value for h in admin.subheader][-1] == "Position bias"
    assert len(admin.dataframe) == 2  # tasks and annotators; none of the three per-annotator
