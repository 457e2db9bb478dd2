"""Log-in sessions in the store: only hashes kept, one-time tickets, idle timeout, lifetime,
revocation of one session or of all a person's."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from db.models import LoginSession, LoginTicket
from db.session import sessionmaker_for
from factory.annotation import login_sessions
from factory.annotation.accounts import Role, add_annotator
from factory.annotation.login_sessions import Ended, Policy
from tests.test_lockouts import Clock

POLICY = Policy(idle=timedelta(minutes=30), lifetime=timedelta(hours=12))


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(login_sessions, "utcnow", c)
    return c


@pytest.fixture
def store(store_url):
    sessions = sessionmaker_for(store_url)
    with sessions.begin() as s:
        ids = [add_annotator(s, name, Role.annotator, "correct horse").id
               for name in ("ann", "bob")]
    return sessions, ids


def log_in(sessions, annotator_id: int) -> str:
    with sessions.begin() as s:
        ticket = login_sessions.issue_ticket(s, annotator_id, "password", "10.0.0.1")
    with sessions.begin() as s:
        sid = login_sessions.redeem(s, ticket, POLICY)
    assert sid
    return sid


def who(sessions, sid: str | None):
    with sessions.begin() as s:
        found, ended = login_sessions.find(s, sid, POLICY)
        return (found.name if found else None), ended


def test_only_hashes_are_stored_and_a_ticket_works_once(store, clock) -> None:
    sessions, (ann, _) = store
    with sessions.begin() as s:
        ticket = login_sessions.issue_ticket(s, ann, "password", "10.0.0.1")
        [kept] = s.scalars(select(LoginTicket)).all()
        assert kept.token_hash == login_sessions.digest(ticket) != ticket
    with sessions.begin() as s:
        sid = login_sessions.redeem(s, ticket, POLICY)
    with sessions.begin() as s:
        assert login_sessions.redeem(s, ticket, POLICY) is None  # used up
        [row] = s.scalars(select(LoginSession)).all()
        values = [getattr(row, c.key) for c in LoginSession.__table__.columns]
        assert sid not in values and row.token_hash == login_sessions.digest(sid)
        assert row.method == "password" and row.client == "10.0.0.1"
        assert not s.scalars(select(LoginTicket)).all()
    assert who(sessions, sid) == ("ann", None)


def test_a_stale_or_unknown_ticket_starts_nothing(store, clock) -> None:
    sessions, (ann, _) = store
    with sessions.begin() as s:
        ticket = login_sessions.issue_ticket(s, ann, "password", None)
    clock.advance(login_sessions.TICKET_S + 1)
    with sessions.begin() as s:
        assert login_sessions.redeem(s, ticket, POLICY) is None
        assert login_sessions.redeem(s, "made-up", POLICY) is None
        assert login_sessions.redeem(s, "x" * 10_000, POLICY) is None
        assert not s.scalars(select(LoginSession)).all()


def test_forged_cookies_stand_for_nobody(store, clock) -> None:
    sessions, (ann, _) = store
    sid = log_in(sessions, ann)
    assert who(sessions, sid[:-1] + ("A" if sid[-1] != "A" else "B")) == (None, Ended.unknown)
    assert who(sessions, login_sessions.digest(sid)) == (None, Ended.unknown)  # the hash itself
    assert who(sessions, "") == (None, Ended.unknown)
    assert who(sessions, None) == (None, Ended.unknown)


def test_use_keeps_a_session_alive_until_idle_or_its_lifetime_ends(store, clock) -> None:
    sessions, (ann, _) = store
    sid = log_in(sessions, ann)
    clock.advance(29 * 60)
    assert who(sessions, sid) == ("ann", None)  # used: the idle clock starts again
    clock.advance(29 * 60)
    assert who(sessions, sid) == ("ann", None)
    clock.advance(30 * 60 + 1)
    assert who(sessions, sid) == (None, Ended.idle)

    busy = log_in(sessions, ann)
    for _ in range(12 * 3 - 1):  # a click every 20 minutes for 12 hours
        clock.advance(20 * 60)
        assert who(sessions, busy) == ("ann", None)
    clock.advance(20 * 60)
    assert who(sessions, busy) == (None, Ended.expired)


def test_log_out_ends_one_session_everywhere_ends_all(store, clock) -> None:
    sessions, (ann, bob) = store
    laptop, phone, bobs = log_in(sessions, ann), log_in(sessions, ann), log_in(sessions, bob)
    with sessions.begin() as s:
        assert login_sessions.end(s, laptop)
        assert not login_sessions.end(s, laptop)  # once
    assert who(sessions, laptop) == (None, Ended.revoked)
    assert who(sessions, phone) == ("ann", None)
    with sessions.begin() as s:
        assert [(r["annotator"], r["session"]) for r in login_sessions.live(s, POLICY)] == [
            ("bob", 3), ("ann", 2)]  # newest first; the ended one is gone
    laptop_again = log_in(sessions, ann)
    with sessions.begin() as s:
        assert login_sessions.end_all(s, ann) == 2
    assert who(sessions, phone) == (None, Ended.revoked)
    assert who(sessions, laptop_again) == (None, Ended.revoked)
    assert who(sessions, bobs) == ("bob", None)
    with sessions.begin() as s:
        assert [r["annotator"] for r in login_sessions.live(s, POLICY)] == ["bob"]


def test_ending_all_sessions_also_cancels_tickets_not_yet_traded(store, clock) -> None:
    """A new password (or log-out everywhere, or an admin) must not leave a ticket handed out
    before it redeemable afterwards; another person's ticket is untouched."""
    sessions, (ann, bob) = store
    with sessions.begin() as s:
        stale = login_sessions.issue_ticket(s, ann, "password", None)
        bobs = login_sessions.issue_ticket(s, bob, "password", None)
    with sessions.begin() as s:
        login_sessions.end_all(s, ann)
    clock.advance(5)
    with sessions.begin() as s:
        assert login_sessions.redeem(s, stale, POLICY) is None
        assert login_sessions.redeem(s, bobs, POLICY)


def test_a_shorter_lifetime_set_later_ends_sessions_already_running(store, clock) -> None:
    """The limit is the one in force, counted from when the session began: lowering
    FACTORY_ANNOTATION_SESSION_HOURS shortens sessions started under the old value."""
    sessions, (ann, _) = store
    sid = log_in(sessions, ann)  # under a 12-hour lifetime
    shorter = Policy(idle=timedelta(hours=2), lifetime=timedelta(hours=1))
    clock.advance(59 * 60)
    with sessions.begin() as s:
        assert login_sessions.find(s, sid, shorter)[1] is None
        [row] = login_sessions.live(s, shorter)
        assert row["ends"] == row["started"] + timedelta(hours=1)
    clock.advance(2 * 60)
    with sessions.begin() as s:
        assert login_sessions.find(s, sid, shorter) == (None, Ended.expired)
        assert login_sessions.live(s, shorter) == []
    assert who(sessions, sid) == ("ann", None)  # still within the old 12 hours


def test_a_log_in_purges_sessions_ended_beyond_retention_and_stale_tickets(store,
                                                                          clock) -> None:
    """Revoked or idle sessions that ended more than RETENTION ago go when someone logs in;
    one ended more recently stays (its revocation still known), and so does the new one."""
    sessions, (ann, bob) = store
    revoked, idle = log_in(sessions, ann), log_in(sessions, bob)  # idle: ends in 30 minutes
    with sessions.begin() as s:
        login_sessions.end(s, revoked)
    clock.advance(24 * 3600)
    recent = log_in(sessions, ann)
    with sessions.begin() as s:
        login_sessions.end(s, recent)
        login_sessions.issue_ticket(s, bob, "password", None)  # never traded
    clock.advance(login_sessions.RETENTION.total_seconds() - 23 * 3600)
    with sessions.begin() as s:
        assert len(s.scalars(select(LoginSession)).all()) == 3
    new = log_in(sessions, ann)
    with sessions.begin() as s:
        kept = set(s.scalars(select(LoginSession.token_hash)))
        assert kept == {login_sessions.digest(recent), login_sessions.digest(new)}
        assert not s.scalars(select(LoginTicket)).all()
    assert who(sessions, recent) == (None, Ended.revoked)
    assert who(sessions, idle) == (None, Ended.unknown)
