"""Back-off after failed log-ins, per account name and per client address, in the store.

Each key (the name typed, whether or not such an account exists, so names cannot be probed;
and the client's address) has a count of failures. Past ``free`` failures, each further one
locks the key for ``BASE_S`` seconds, doubling with each failure up to ``CAP_S``. While either
key is locked, a log-in is refused before the password is checked, with the time it may be
tried again. A success clears the account's count; a client's count restarts when its last
failure is ``WINDOW_S`` old. Admins see every throttled key and can clear it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.base import as_utc, utcnow
from db.models import Annotator, LoginThrottle
from db.session import insert_ignore, write_lock
from factory.annotation.accounts import authenticate

ACCOUNT, CLIENT = "account", "client"
FREE = {ACCOUNT: 5, CLIENT: 20}  # failures allowed before any lockout
BASE_S = 30.0
CAP_S = 15 * 60.0
WINDOW_S = 60 * 60.0


class LockedOut(Exception):
    """Log-ins for this key are refused until ``until``."""

    def __init__(self, kind: str, until: datetime) -> None:
        super().__init__(kind, until)
        self.kind, self.until = kind, until

    def message(self, now: datetime | None = None) -> str:
        wait = max(1, round((self.until - (now or utcnow())).total_seconds()))
        what = "this account" if self.kind == ACCOUNT else "this computer"
        return (f"Too many failed log-ins for {what}. Try again at "
                f"{self.until:%H:%M:%S} UTC (in {wait} s).")


def _keys(name: str, client: str | None) -> list[tuple[str, str]]:
    keys = [(ACCOUNT, name.strip().lower()[:200])]
    if client:
        keys.append((CLIENT, client[:200]))
    return keys


def log_in(session: Session, name: str, password: str, client: str | None) -> Annotator | None:
    """The annotator, or None for a wrong name or password (counted); raises LockedOut, before
    the password is looked at, while the name or the client is locked."""
    check(session, name, client)
    found = authenticate(session, name, password)
    if found is None:
        failed(session, name, client)
    else:
        succeeded(session, name)
    return found


def check(session: Session, name: str, client: str | None) -> None:
    """Raise LockedOut if the account name or the client is locked now."""
    now = utcnow()
    for kind, key in _keys(name, client):
        row = session.scalar(select(LoginThrottle).where(LoginThrottle.kind == kind,
                                                         LoginThrottle.key == key))
        until = as_utc(row.locked_until) if row else None
        if until is not None and until > now:
            raise LockedOut(kind, until)


def lock_s(kind: str, failures: int) -> float:
    """Seconds locked after the ``failures``-th failure in a row (0: not locked)."""
    over = failures - FREE[kind]
    return 0.0 if over <= 0 else min(CAP_S, BASE_S * 2 ** (over - 1))


def failed(session: Session, name: str, client: str | None) -> None:
    """Count a failed log-in against the account name and the client."""
    write_lock(session)
    now = utcnow()
    keys = _keys(name, client)
    insert_ignore(session, LoginThrottle,
                  [{"kind": kind, "key": key, "failures": 0, "last_failure_at": now}
                   for kind, key in keys])
    for kind, key in keys:
        row = session.scalars(select(LoginThrottle).where(
            LoginThrottle.kind == kind, LoginThrottle.key == key)
            .with_for_update().execution_options(populate_existing=True)).one()
        if (now - as_utc(row.last_failure_at)).total_seconds() > WINDOW_S:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        wait = lock_s(kind, row.failures)
        row.locked_until = now + timedelta(seconds=wait) if wait else None
    session.flush()


def succeeded(session: Session, name: str) -> None:
    """A right password: the account name's failures are forgotten."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.kind == ACCOUNT,
                                                LoginThrottle.key == name.strip().lower()))


def throttled(session: Session) -> list[dict[str, object]]:
    """Every key with failures on record, locked ones first (for admins)."""
    now = utcnow()
    rows = session.scalars(select(LoginThrottle).order_by(LoginThrottle.id))
    out = [{"id": r.id, "kind": r.kind, "key": r.key, "failures": r.failures,
            "last failure": as_utc(r.last_failure_at),
            "locked until": as_utc(r.locked_until),
            "locked": bool(r.locked_until and as_utc(r.locked_until) > now)} for r in rows]
    return sorted(out, key=lambda r: not r["locked"])


def clear(session: Session, ids: list[int]) -> int:
    """Forget these keys' failures (ends their lockouts); returns how many were cleared."""
    return session.execute(delete(LoginThrottle).where(LoginThrottle.id.in_(ids))).rowcount
