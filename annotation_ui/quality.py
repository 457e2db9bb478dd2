"""The Progress page's look at each annotator (factory.annotation.quality computes it):
agreement with the others' consensus, time per judgment, position bias. Worst first, so a
careless or adversarial annotator is at the top of a table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from annotation_ui.state import sessions
from factory.annotation import stats

_SHARE = st.column_config.NumberColumn(format="percent")
_SECONDS = st.column_config.NumberColumn(format="%.1f")


def _table(rows: list[dict], empty: str, **columns: st.column_config.Column) -> None:
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, column_config=columns)
    else:
        st.caption(empty)


def show_annotators() -> None:
    with sessions()() as s:
        tables = stats.annotator_quality(s)
    st.subheader("Agreement per annotator")
    st.caption("Each annotator against the consensus of the others on the tasks they share: "
               "of the response pairs the others order one way, how many this annotator "
               "orders the same way, the other way, or ties. Chance is about half; far "
               "below it is someone answering against everyone.")
    _table(tables.agreement, "No task has rankings from two annotators yet.",
           agreement=_SHARE)
    st.subheader("Time per judgment")
    st.caption("Seconds from a task appearing to its ranking being saved (skips left out): "
               "the median and the middle half (25th to 75th percentile). Very fast and "
               "steady can mean not reading.")
    _table(tables.time, "No timed rankings yet.",
           **{"median s": _SECONDS, "p25 s": _SECONDS, "p75 s": _SECONDS})
    st.subheader("Position bias")
    st.caption("How often the response shown first (A) beats the one shown second (B). "
               "Positions are shuffled, so about half is expected; p is the chance of a lean "
               "at least this strong if position did not matter (exact binomial test).")
    _table(tables.position, "No rankings yet.",
           **{"first share": _SHARE,
              "p (no bias)": st.column_config.NumberColumn(format="%.2g")})
