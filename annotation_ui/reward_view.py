"""The Data page's reward section: the reward model's scores beside people's rankings of the
same responses, and how far the two agree (computed in factory.annotation.reward_vs_people;
this only draws it). Responses are model text: drawn defused in scrolling boxes, never HTML."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import select

from annotation_ui.state import require_admin, sessions
from annotation_ui.text import show_untrusted, untrusted_box
from db.models import Generation, Prompt
from factory.annotation import reward_vs_people
from factory.annotation.reward_vs_people import Comparison


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _task(comparison: Comparison, task_id: int) -> None:
    """One task's prompt and responses, each with both places."""
    rows = [r for r in comparison.rows if r["task"] == task_id]
    with sessions()() as s:
        prompt = s.get_one(Prompt, rows[0]["prompt"]).messages
        texts = dict(s.execute(select(Generation.id, Generation.text)
                               .where(Generation.id.in_([r["response"] for r in rows]))).all())
    st.markdown("**Prompt**")
    with untrusted_box(f"reward-prompt-{task_id}", height=None):
        show_untrusted(prompt[-1]["content"])
    for r in rows:
        score = "not scored" if r["reward"] is None else (
            f"reward {r['reward']:.3f} (place {r['reward place']})")
        people = "not ranked" if r["human place"] is None else (
            f"people's place {r['human place']} (mean rank {r['mean human rank']:.2f} over "
            f"{r['rankings']} rankings)")
        st.caption(f"Response {r['response']}: {people} · {score}")
        with untrusted_box(f"reward-response-{r['response']}"):
            show_untrusted(texts[r["response"]])


def reward_section() -> None:
    require_admin()
    st.header("Reward model and people")
    with sessions()() as s:
        if not (jobs := reward_vs_people.reward_jobs(s)):
            st.info("No ranked responses have reward scores: rank a reward job's responses "
                    "(factory annotate create --job <reward job>) to compare.")
            return
        job = st.selectbox("Job", jobs, key="reward-job")
        comparison = reward_vs_people.reward_vs_people(s, job)
    a = comparison.agreement
    st.metric("Reward model agrees with people", _rate(a.rate),
              help="of the response pairs people ranked differently (the order most of their "
                   "rankings give), the share whose preferred response the reward model "
                   "scores higher")
    st.caption(f"{a.agree} of {a.compared} pairs agree, {a.disagree} reversed, {a.ties} scored "
               f"equal; {comparison.unscored} pairs left out (a response without a score); "
               f"{comparison.tasks} tasks ranked")
    if not comparison.rows:
        return
    st.dataframe(pd.DataFrame(comparison.rows), hide_index=True)
    task_id = st.selectbox("Show a task", sorted({r["task"] for r in comparison.rows}),
                           key="reward-task")
    _task(comparison, task_id)
