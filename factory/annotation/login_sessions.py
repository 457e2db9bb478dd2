"""Log-in sessions: a random id in the browser's cookie, only its SHA-256 in the store.

The app checks who someone is (a password, through the back-off in lockouts.py, or the
identity provider) inside Streamlit, whose Python cannot set an HttpOnly cookie. So a check
that passes ends in a *ticket*: a one-time secret, good for ``TICKET_S`` seconds, that the
page posts to the app's own server (annotation_ui/server.py), which trades it for a new
session and sets the cookie. A session ends when unused for the idle timeout, at the end of
its lifetime however busy, or when revoked: log-out (that session, in every tab), log-out
everywhere and admins (all of a person's sessions and unspent tickets), a new password.
Ended sessions are kept ``RETENTION`` (a record of who logged in from where, should an account
be misused), then deleted when someone next logs in, so the table does not grow forever.

Ids and tickets are 256 random bits, so a plain SHA-256 is enough to keep a copy of the
store from being replayed as a cookie; nothing here needs a slow hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from db.base import as_utc, utcnow
from db.models import Annotator, LoginSession, LoginTicket
from factory.config import Settings

TICKET_S = 60
TOUCH_S = 30  # last_seen is written at most this often (a quarter of a short idle timeout)
MAX_TOKEN = 100  # longer cookies are not ours: refused before hashing
RETENTION = timedelta(days=30)  # how long an ended session's row is kept


class Ended(StrEnum):
    """Why a cookie does not stand for a session (the login page may say so)."""

    unknown = "unknown"
    idle = "idle"
    expired = "expired"
    revoked = "revoked"


@dataclass(frozen=True)
class Policy:
    idle: timedelta
    lifetime: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(timedelta(minutes=settings.annotation_session_idle_minutes),
                   timedelta(hours=settings.annotation_session_hours))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_ticket(session: Session, annotator_id: int, method: str, client: str | None) -> str:
    """A ticket for this annotator, to be traded for a session within TICKET_S seconds."""
    now = utcnow()
    _drop_stale_tickets(session)
    ticket = secrets.token_urlsafe(32)
    session.add(LoginTicket(annotator_id=annotator_id, token_hash=digest(ticket), method=method,
                            client=client and client[:200],
                            expires_at=now + timedelta(seconds=TICKET_S)))
    session.flush()
    return ticket


def redeem(session: Session, ticket: str, policy: Policy) -> str | None:
    """A new session id for a valid ticket, which is used up (once, even under races); None
    for an unknown, used or stale ticket."""
    if not ticket or len(ticket) > MAX_TOKEN:
        return None
    row = session.execute(delete(LoginTicket).where(LoginTicket.token_hash == digest(ticket))
                          .returning(LoginTicket.annotator_id, LoginTicket.method,
                                     LoginTicket.client, LoginTicket.expires_at)).first()
    now = utcnow()
    if row is None or as_utc(row.expires_at) <= now:
        return None
    purge(session, policy)
    sid = secrets.token_urlsafe(32)
    session.add(LoginSession(annotator_id=row.annotator_id, token_hash=digest(sid),
                             method=row.method, client=row.client, created_at=now,
                             last_seen_at=now, expires_at=now + policy.lifetime))
    session.flush()
    return sid


def purge(session: Session, policy: Policy) -> None:
    """Delete the sessions that ended (revoked, expired, idle, past the lifetime in force) more
    than RETENTION ago, and tickets past their time (a used one is deleted as it is used)."""
    cutoff = utcnow() - RETENTION
    session.execute(delete(LoginSession).where(or_(
        LoginSession.revoked_at < cutoff, LoginSession.expires_at < cutoff,
        LoginSession.created_at < cutoff - policy.lifetime,
        LoginSession.last_seen_at < cutoff - policy.idle)))
    _drop_stale_tickets(session)


def _drop_stale_tickets(session: Session) -> None:
    session.execute(delete(LoginTicket).where(LoginTicket.expires_at < utcnow()))


def find(session: Session, sid: str | None, policy: Policy,
         touch: bool = True) -> tuple[Annotator | None, Ended | None]:
    """The annotator this cookie stands for (its use noted, for the idle timeout, unless
    ``touch`` is false: a page redrawn on a timer is not someone using it), or None and why
    not."""
    if not sid or len(sid) > MAX_TOKEN:
        return None, Ended.unknown
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == digest(sid)))
    if row is None:
        return None, Ended.unknown
    now = utcnow()
    if row.revoked_at is not None:
        return None, Ended.revoked
    if min(as_utc(row.expires_at), as_utc(row.created_at) + policy.lifetime) <= now:
        return None, Ended.expired  # the lifetime as set now, if shorter than when it began
    seen = as_utc(row.last_seen_at)
    if seen + policy.idle <= now:
        return None, Ended.idle
    if touch and (now - seen).total_seconds() >= min(TOUCH_S, policy.idle.total_seconds() / 4):
        row.last_seen_at = now
    return session.get(Annotator, row.annotator_id), None


def end(session: Session, sid: str | None) -> bool:
    """Revoke the session this cookie stands for (every tab that shares it)."""
    if not sid or len(sid) > MAX_TOKEN:
        return False
    return bool(session.execute(update(LoginSession).where(
        LoginSession.token_hash == digest(sid), LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())).rowcount)


def end_all(session: Session, annotator_id: int) -> int:
    """Revoke every session of this person (all tabs, all devices), and cancel the tickets
    handed out but not yet traded, so none starts a session afterwards (a ticket checked
    against the old password, say); returns how many sessions."""
    session.execute(delete(LoginTicket).where(LoginTicket.annotator_id == annotator_id))
    return session.execute(update(LoginSession).where(
        LoginSession.annotator_id == annotator_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())).rowcount


def live(session: Session, policy: Policy) -> list[dict[str, object]]:
    """Sessions not yet ended, newest first (for admins)."""
    now = utcnow()
    rows = session.execute(select(LoginSession, Annotator.name).join(Annotator).where(
        LoginSession.revoked_at.is_(None), LoginSession.expires_at > now,
        LoginSession.created_at > now - policy.lifetime,
        LoginSession.last_seen_at > now - policy.idle).order_by(LoginSession.id.desc()))
    return [{"session": r.id, "annotator": name, "annotator_id": r.annotator_id,
             "method": r.method, "client": r.client, "started": as_utc(r.created_at),
             "last seen": as_utc(r.last_seen_at),
             "ends": min(as_utc(r.expires_at), as_utc(r.created_at) + policy.lifetime)}
            for r, name in rows]

