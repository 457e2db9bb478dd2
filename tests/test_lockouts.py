"""Back-off after failed log-ins, per account name and per client, kept in the store."""

from datetime import timedelta

import pytest

from db.base import utcnow
from db.session import sessionmaker_for
from factory.annotation import lockouts
from factory.annotation.accounts import Role, add_annotator

PASSWORD = "correct horse"


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(lockouts, "utcnow", c)
    return c


def attempt(sessions, name: str, password: str, client: str | None = "10.0.0.1"):
    """One log-in in its own transaction, as the app makes it: the user, None or LockedOut."""
    try:
        with sessions.begin() as s:
            found = lockouts.log_in(s, name, password, client)
            return found and found.name
    except lockouts.LockedOut as locked:
        return locked


def test_the_wait_doubles_past_the_free_failures_up_to_a_cap() -> None:
    free = lockouts.FREE[lockouts.ACCOUNT]
    assert [lockouts.lock_s("account", n) for n in range(free - 1, free + 4)] == \
        [0, 0, 30, 60, 120]
    assert lockouts.lock_s("account", 100) == lockouts.CAP_S


def test_guessing_a_password_locks_the_account_and_says_until_when(store_url, clock) -> None:
    sessions = sessionmaker_for(store_url)
    with sessions.begin() as s:
        add_annotator(s, "ann", Role.annotator, PASSWORD)
    for _ in range(lockouts.FREE[lockouts.ACCOUNT]):
        assert attempt(sessions, "ann", "wrong guess") is None
    assert attempt(sessions, "ann", PASSWORD) == "ann"  # within the free failures: fine
    for _ in range(lockouts.FREE[lockouts.ACCOUNT] + 1):
        assert attempt(sessions, "ann", "wrong guess") is None
    locked = attempt(sessions, "ANN ", PASSWORD, client="10.9.9.9")  # the right one, too late
    assert isinstance(locked, lockouts.LockedOut) and locked.kind == "account"
    assert locked.until == clock.now + timedelta(seconds=30)
    assert locked.message(clock.now) == (
        f"Too many failed log-ins for this account. Try again at {locked.until:%H:%M:%S} UTC "
        "(in 30 s).")
    clock.advance(31)
    assert attempt(sessions, "ann", "wrong again") is None  # allowed, and the wait doubles
    assert attempt(sessions, "ann", PASSWORD).until == clock.now + timedelta(seconds=60)
    clock.advance(61)
    assert attempt(sessions, "ann", PASSWORD) == "ann"
    with sessions() as s:  # a success forgets the account's failures
        assert [r["kind"] for r in lockouts.throttled(s)] == ["client"]


def test_a_name_that_does_not_exist_is_locked_the_same(sessions, clock) -> None:
    for _ in range(lockouts.FREE[lockouts.ACCOUNT] + 1):
        assert attempt(sessions, "nobody", "guess") is None
    assert isinstance(attempt(sessions, "nobody", "guess"), lockouts.LockedOut)


def test_one_client_trying_many_names_is_locked_others_are_not(sessions, clock) -> None:
    with sessions.begin() as s:
        add_annotator(s, "ann", Role.annotator, PASSWORD)
    for i in range(lockouts.FREE[lockouts.CLIENT] + 1):
        assert attempt(sessions, f"name{i}", "guess", client="10.6.6.6") is None
    locked = attempt(sessions, "ann", PASSWORD, client="10.6.6.6")
    assert isinstance(locked, lockouts.LockedOut) and locked.kind == "client"
    assert "this computer" in locked.message(clock.now)
    assert attempt(sessions, "ann", PASSWORD, client="10.0.0.2") == "ann"
    clock.advance(lockouts.WINDOW_S + 60)  # long after: the client starts afresh
    assert attempt(sessions, "name0", "guess", client="10.6.6.6") is None
    with sessions() as s:
        row = next(r for r in lockouts.throttled(s) if r["key"] == "10.6.6.6")
        assert row["failures"] == 1 and not row["locked"]


def test_admins_see_lockouts_and_clear_them(sessions, clock) -> None:
    with sessions.begin() as s:
        add_annotator(s, "ann", Role.annotator, PASSWORD)
    for _ in range(lockouts.FREE[lockouts.ACCOUNT] + 1):
        attempt(sessions, "ann", "guess")
    with sessions() as s:
        rows = lockouts.throttled(s)
    assert [(r["kind"], r["key"], r["failures"], r["locked"]) for r in rows] == [
        ("account", "ann", 6, True), ("client", "10.0.0.1", 6, False)]
    with sessions.begin() as s:
        assert lockouts.clear(s, [rows[0]["id"]]) == 1
    assert attempt(sessions, "ann", PASSWORD) == "ann"
