"""The annotator's page: one task at a time, two responses side by side or more as a ranked
list, with ties, "all bad", skip, a comment, undo and edit of the last ranking."""

from __future__ import annotations

import streamlit as st

from annotation_ui.layout import action_bar
from annotation_ui.state import User, in_session, require_user, sessions, settings
from annotation_ui.text import BOX_HEIGHT, show_untrusted, untrusted_box
from factory.annotation import task_queue
from factory.annotation.consensus import Tiers

GUIDELINES = """
- Judge which response serves the instruction best: correct, complete, honest, safe, and
  written the way the instruction asks. Length is not quality.
- **Tie** when neither is better; **all bad** when none is acceptable (you can still order
  them). **Skip** if you cannot judge this task; someone else will.
- Keys for two responses: **A** or **B** (better), **T** tie, **X** both bad, **S** skip.
  For more, give each a rank (they start unranked), then **Ctrl+Enter** submits.
- Undo or edit your last ranking with the buttons at the top.
"""


@in_session
def _submit(user: User, task_id: int, shown: list[int], tiers: Tiers, choice: str,
            all_bad: bool = False, skipped: bool = False) -> None:
    """Save what was chosen for the task on screen (``shown``: its responses in the order
    drawn); the flash names the task and the choice, or why nothing was saved."""
    comment = st.session_state.get(f"comment-{task_id}")
    try:
        with sessions().begin() as s:
            task_queue.submit(s, user.id, task_id, tiers, shown=shown, all_bad=all_bad,
                              skipped=skipped, comment=comment)
    except task_queue.TaskError as exc:
        st.session_state["flash"] = ("error", str(exc))
        return
    st.session_state.pop("editing", None)
    st.session_state["flash"] = ("success", f"Task {task_id}: skipped." if skipped
                                 else f"Task {task_id}: saved “{choice}”.")


@in_session
def _submit_ranks(user: User, task_id: int, shown: list[int], keys: dict[int, str],
                  all_bad: bool = False) -> None:
    """The ranks chosen in the select boxes (read when the button is pressed) as tiers."""
    ranks = {g: st.session_state.get(key) for g, key in keys.items()}
    if None in ranks.values():
        st.session_state["flash"] = ("error", f"Task {task_id}: give every response a rank "
                                     "first; nothing saved.")
        return
    tiers = [[g for g, r in ranks.items() if r == value] for value in sorted(set(ranks.values()))]
    choice = ", ".join(f"response {shown.index(g) + 1}: rank {r}" for g, r in ranks.items())
    _submit(user, task_id, shown, tiers, choice + (" (all bad)" if all_bad else ""),
            all_bad=all_bad)


@in_session
def _undo(user: User) -> None:
    with sessions().begin() as s:
        undone = task_queue.undo_last(s, user.id)
    st.session_state.pop("editing", None)
    st.session_state["flash"] = ("info", f"Took back your ranking of task {undone}."
                                 if undone else "Nothing to undo.")


@in_session
def _edit(user: User) -> None:
    with sessions()() as s:
        last = task_queue.last_ranking(s, user.id)
    if last is not None:
        st.session_state["editing"] = True
        st.session_state[f"comment-{last.task_id}"] = last.comment or ""


def _pairwise(user: User, shown: task_queue.Shown) -> None:
    (a, text_a), (b, text_b) = shown.responses
    left, right = st.columns(2)
    for col, label, text in ((left, "A", text_a), (right, "B", text_b)):
        with col:
            st.subheader(f"Response {label}")
            with untrusted_box(f"response-{label}"):
                show_untrusted(text)
    tid, order = shown.task.id, [a, b]
    # keys carry the task: a press meant for a task that has left the screen finds no button
    with action_bar():
        st.button("A is better", key=f"a-{tid}", shortcut="A", on_click=_submit,
                  args=(user, tid, order, [[a], [b]], "A is better"), type="primary")
        st.button("B is better", key=f"b-{tid}", shortcut="B", on_click=_submit,
                  args=(user, tid, order, [[b], [a]], "B is better"), type="primary")
        st.button("Tie", key=f"tie-{tid}", shortcut="T", on_click=_submit,
                  args=(user, tid, order, [[a, b]], "tie"))
        st.button("Both bad", key=f"bad-{tid}", shortcut="X", on_click=_submit,
                  args=(user, tid, order, [[a, b]], "both bad"), kwargs={"all_bad": True})
        st.button("Skip", key=f"skip-{tid}", shortcut="S", on_click=_submit,
                  args=(user, tid, order, [], "skip"), kwargs={"skipped": True})


def _ranked(user: User, shown: task_queue.Shown) -> None:
    n = len(shown.responses)
    st.caption("Give each response a rank, 1 = best; equal ranks are ties. Submit is enabled "
               "once every response has one (Ctrl+Enter).")
    keys = {}
    for i, (gen_id, text) in enumerate(shown.responses):
        with st.container(border=True):
            st.subheader(f"Response {i + 1}")
            with untrusted_box(f"response-{i + 1}"):
                show_untrusted(text)
            keys[gen_id] = f"rank-{shown.task.id}-{i}"
            # unranked to start with: an untouched form must not pass for a judgment
            st.selectbox(f"Rank of response {i + 1}", range(1, n + 1), index=None,
                         placeholder="rank", key=keys[gen_id])
    tid, order = shown.task.id, [g for g, _ in shown.responses]
    incomplete = any(st.session_state.get(key) is None for key in keys.values())
    with action_bar():
        st.button("Submit ranking", key=f"rank-{tid}", shortcut="Ctrl+Enter",
                  on_click=_submit_ranks, args=(user, tid, order, keys), type="primary",
                  disabled=incomplete)
        st.button("All bad", key=f"bad-{tid}", on_click=_submit_ranks,
                  args=(user, tid, order, keys), kwargs={"all_bad": True}, disabled=incomplete)
        st.button("Skip", key=f"skip-{tid}", shortcut="S", on_click=_submit,
                  args=(user, tid, order, [], "skip"), kwargs={"skipped": True})


def page() -> None:
    user = require_user()
    cfg = settings()
    with sessions().begin() as s:
        if st.session_state.get("editing"):
            shown = task_queue.edit_last(s, user.id)
        else:
            shown = task_queue.next_task(s, user.id, cfg.annotation_claim_minutes)
        done, left = task_queue.progress(s, user.id, cfg.annotation_claim_minutes)
        has_last = task_queue.last_ranking(s, user.id) is not None
    st.title("Rank the responses")
    st.caption(f"done {done} · left {left}")
    with st.expander("Guidelines"):
        st.markdown(GUIDELINES)
    with st.container(horizontal=True):  # one row on a phone too
        st.button("Undo last", key="undo", shortcut="U", on_click=_undo, args=(user,),
                  disabled=not has_last)
        st.button("Edit last", key="edit", shortcut="E", on_click=_edit, args=(user,),
                  disabled=not has_last)
    if flash := st.session_state.pop("flash", None):
        getattr(st, flash[0])(flash[1])
    if shown is None:
        st.info("No task is waiting for you. Thank you!")
        return
    st.markdown(f"**Task {shown.task.id}**" + (" (editing your ranking)"
                                                if st.session_state.get("editing") else ""))
    for i, message in enumerate(shown.prompt):
        st.caption(message["role"])
        with untrusted_box(f"prompt-{i}", height=None if len(message["content"]) < 600
                           else BOX_HEIGHT // 2):
            show_untrusted(message["content"])
    if len(shown.responses) == 2:
        _pairwise(user, shown)
    else:
        _ranked(user, shown)
    st.text_input("Comment (optional)", key=f"comment-{shown.task.id}")
