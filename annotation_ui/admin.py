"""Admin pages: task progress, rankings per annotator, agreement, data per strategy."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from annotation_ui.quality import show_annotators
from annotation_ui.state import require_admin, sessions
from factory.annotation import lockouts, stats


def progress_page() -> None:
    require_admin()
    st.title("Progress")
    with sessions()() as s:
        progress = stats.task_progress(s)
        people = stats.per_annotator(s)
        alpha, shared = stats.inter_annotator_agreement(s)
    st.subheader("Tasks per job")
    st.dataframe(pd.DataFrame(progress), hide_index=True)
    st.subheader("Rankings per annotator")
    st.dataframe(pd.DataFrame(people), hide_index=True)
    st.subheader("Agreement")
    st.metric("Krippendorff's alpha (ordinal)", "n/a" if alpha is None else f"{alpha:.3f}",
              help="over tasks judged by two or more annotators")
    st.caption(f"{shared} tasks judged by two or more annotators")
    show_annotators()


def data_page() -> None:
    require_admin()
    st.title("Data produced")
    with sessions()() as s:
        rows = stats.data_per_strategy(s)
    if not rows:
        st.info("No data yet.")
        return
    frame = pd.DataFrame(rows)
    st.dataframe(frame, hide_index=True)
    chart = frame.assign(series=frame["source"]).pivot_table(
        index="strategy", columns="series", values=["sft", "pairs"], aggfunc="sum", fill_value=0)
    chart.columns = [f"{kind} ({source})" for kind, source in chart.columns]
    st.bar_chart(chart)


def lockouts_page() -> None:
    require_admin()
    st.title("Log-in lockouts")
    st.caption(f"An account name is locked after {lockouts.FREE[lockouts.ACCOUNT]} failed "
               f"log-ins in a row, a client address after {lockouts.FREE[lockouts.CLIENT]}; "
               "each further failure doubles the wait. Clearing forgets the failures.")
    with sessions()() as s:
        rows = lockouts.throttled(s)
    if not rows:
        st.info("No failed log-ins on record.")
        return
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    labels = {r["id"]: f"{r['kind']} {r['key']}" + (" (locked)" if r["locked"] else "")
              for r in rows}
    chosen = st.multiselect("Clear", list(labels), format_func=labels.get, key="clear-ids")
    if st.button("Clear the chosen", key="clear", disabled=not chosen):
        with sessions().begin() as s:
            lockouts.clear(s, chosen)
        st.rerun()
