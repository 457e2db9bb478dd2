"""A store with a `respond` job whose prompts have three distinct responses, and accounts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from db.base import utcnow
from db.models import AnnotationClaim
from factory.annotation import task_queue
from factory.annotation.accounts import Role, add_annotator
from factory.llm import SamplingParams
from factory.llm.scripted import ScriptedLLM
from factory.seeds import SeedKind
from tests.helpers import run_in_process, seed_job

PASSWORD = "correct horse"
INSTRUCTIONS = ["Name a prime number.", "Describe the sea.", "Say hello in <b>bold</b>.",
                "Count to three."]


def responder(messages: list[dict[str, str]], params: SamplingParams, index: int) -> str:
    """A different answer per temperature; one of them tries to run a script."""
    if params.temperature > 0.9:
        return "<script>window.pwned = 1</script> a hot answer"
    return f"answer at temperature {params.temperature:g} to: {messages[-1]['content']}"


def responses_job(sessions: sessionmaker[Session], tmp: Path, count: int = 4,
                  temperatures: tuple[float, ...] = (0.3, 0.7, 1.0)) -> int:
    prompts = INSTRUCTIONS + [f"Write instruction number {i}." for i in range(4, count)]
    job_id = seed_job(sessions, tmp / "instructions.jsonl", "respond", SeedKind.prompts,
                      [{"prompt": p} for p in prompts[:count]],
                      temperatures=list(temperatures))
    run_in_process(sessions, job_id, ScriptedLLM(responder))
    return job_id


def annotation_store(sessions: sessionmaker[Session], tmp: Path, k: int = 1, count: int = 4,
                     temperatures: tuple[float, ...] = (0.3, 0.7, 1.0),
                     people: tuple[str, ...] = ("ann", "bob")) -> tuple[int, dict[str, int]]:
    """A job with tasks made (k rankings each) and accounts: admin 'root' plus ``people``."""
    job_id = responses_job(sessions, tmp, count, temperatures)
    with sessions.begin() as s:
        task_queue.create_tasks(s, job_id, k=k)
        ids = {name: add_annotator(s, name, Role.annotator, PASSWORD).id for name in people}
        ids["root"] = add_annotator(s, "root", Role.admin, PASSWORD).id
    return job_id, ids


HONEST, CARELESS, ADVERSARIAL = ("ann", "bob", "eve"), "cat", "dan"
TEAM = (*HONEST, CARELESS, ADVERSARIAL)


def choose(who: str, shown: list[int], good: int) -> list[list[int]]:
    """The tiers each kind of annotator gives a pair: the careless one always takes the one
    shown first (A), the adversarial one the worse, the honest ones the better."""
    bad = next(g for g in shown if g != good)
    if who == CARELESS:
        return [[shown[0]], [shown[1]]]
    return [[bad], [good]] if who == ADVERSARIAL else [[good], [bad]]


def rank_everything(sessions: sessionmaker[Session], annotator_id: int, who: str,
                    took_s: float = 0.0) -> None:
    """Rank every task the annotator is handed as ``who`` would (pairs only; the better
    response is the plain one, not the one holding a script), each shown ``took_s`` seconds
    before it is ranked and drawn again in between (as a rerun of the page does)."""
    while True:
        with sessions.begin() as s:
            if task_queue.next_task(s, annotator_id) is None:
                return
            s.execute(update(AnnotationClaim).where(AnnotationClaim.annotator_id == annotator_id)
                      .values(shown_at=utcnow() - timedelta(seconds=took_s)))
        with sessions.begin() as s:
            shown = task_queue.next_task(s, annotator_id)
            order = [g for g, _ in shown.responses]
            good = next(g for g, text in shown.responses if text.startswith("answer"))
            task_queue.submit(s, annotator_id, shown.task.id, choose(who, order, good),
                              shown=order)


JAR = "test-cookie-jar"


def cookies_in_session_state(monkeypatch) -> None:
    """AppTest has no browser: each AppTest keeps its session cookie in its own session
    state, and the hand-off to the session routes does what POST /session/start and
    /session/end do (tests/test_session_routes.py and the browser test try those)."""
    import streamlit as st

    from annotation_ui import state
    from factory.annotation import login_sessions

    def hand_off(path: str, fields: dict[str, str]) -> None:
        if path == "/session/start":
            with state.sessions().begin() as s:
                st.session_state[JAR] = login_sessions.redeem(
                    s, fields["ticket"], login_sessions.Policy.of(state.settings()))
        else:
            st.session_state.pop(JAR, None)
        st.rerun()

    monkeypatch.setattr(state, "session_cookie", lambda: st.session_state.get(JAR))
    monkeypatch.setattr(state, "hand_off", hand_off)
