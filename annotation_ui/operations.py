"""Admin page: the factory live - queues, workers, throughput, acceptance and errors per
strategy (what `factory status` prints), refreshed every few seconds while the session that
drew it is still an admin's."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from annotation_ui.state import require_admin, sessions, settings, still_admin
from factory import ops

REFRESH_S = 5


@st.fragment(run_every=REFRESH_S)
def _live(window_s: float) -> None:
    if not still_admin():  # these redraws skip app.py's check: a session ended, the app reruns
        st.rerun(scope="app")
    broker = settings().broker_url
    if broker:
        from workers.inspect import broker_view

        try:
            view = broker_view(broker)
        except Exception as exc:  # noqa: BLE001 - shown to the operator, not raised
            st.error(f"broker unreachable: {exc}")
        else:
            cols = st.columns(len(view.queues) + 2)
            for col, (queue, n) in zip(cols, view.queues.items(), strict=False):
                col.metric(f"waiting: {queue}", n)
            cols[-2].metric("taken, not acked", view.unacked)
            cols[-1].metric("workers alive", len(view.workers))
            st.dataframe(pd.DataFrame([w.model_dump() for w in view.workers]), hide_index=True)
    else:
        st.info("No broker: tasks run in-process.")
    with sessions()() as s:
        rows = ops.strategies(s, window_s)
        total = ops.throughput(s, window_s)
    left, right = st.columns(2)
    left.metric(f"samples/s (last {window_s:g}s)", f"{total.samples_per_s:.2f}")
    right.metric("tokens/s", f"{total.tokens_per_s:.1f}")
    st.dataframe(pd.DataFrame([{
        "strategy": r.strategy, "jobs": ", ".join(f"{n} {k}" for k, n in sorted(r.jobs.items())),
        "samples": r.samples, "accepted": r.acceptance, "check errors": r.check_errors,
        "samples/s": r.recent.samples_per_s,
        "tokens/s": r.recent.tokens_per_s, "failed batches": r.failed_batches,
        "last error": r.last_error} for r in rows]), hide_index=True)


def page() -> None:
    require_admin()
    st.title("Operations")
    window = st.select_slider("Rates over the last", options=[60, 300, 900, 3600], value=60,
                              format_func=lambda s: f"{s // 60} min")
    _live(float(window))
