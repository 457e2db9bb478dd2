"""Leases on a batch's current step, renewed by a heartbeat while the step works.

A step can take minutes (a big batch on a busy server). A lease says "someone is on it": a
second delivery of the same step leaves it alone, and the sweep (:mod:`factory.sweep`) sends a
step again only once its lease has lapsed, so a long step is never done twice and a step whose
worker died is picked up once its heartbeat stops.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from db.base import utcnow
from db.models import Batch
from factory.jobs import Step

log = logging.getLogger(__name__)


def new_owner() -> str:
    return uuid.uuid4().hex


def acquire(session: Session, step: Step, owner: str, lease_s: float) -> bool:
    """Take the lease of ``step`` if the batch is still at it and nobody holds a live lease."""
    now = utcnow()
    result = session.execute(
        update(Batch)
        .where(Batch.id == step.batch_id, Batch.stage == step.stage, Batch.round == step.round,
               or_(Batch.lease_until.is_(None), Batch.lease_until < now,
                   Batch.lease_owner == owner))
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _renew(sessions: sessionmaker[Session], batch_id: int, owner: str, lease_s: float) -> None:
    with sessions.begin() as session:
        session.execute(update(Batch).where(Batch.id == batch_id, Batch.lease_owner == owner)
                        .values(lease_until=utcnow() + timedelta(seconds=lease_s))
                        .execution_options(synchronize_session=False))


def release(sessions: sessionmaker[Session], batch_id: int, owner: str) -> None:
    with sessions.begin() as session:
        session.execute(update(Batch).where(Batch.id == batch_id, Batch.lease_owner == owner)
                        .values(lease_owner=None, lease_until=None)
                        .execution_options(synchronize_session=False))


@contextmanager
def held(sessions: sessionmaker[Session], batch_id: int, owner: str, lease_s: float
         ) -> Iterator[None]:
    """Renew the lease every third of its length while the body runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(lease_s / 3):
            try:
                _renew(sessions, batch_id, owner, lease_s)
            except Exception as exc:  # the store may be restarting: keep beating
                log.warning("lease heartbeat of batch %s failed: %s", batch_id, exc)

    thread = threading.Thread(target=beat, name=f"lease-{batch_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def release_quietly(sessions: sessionmaker[Session], batch_id: int, owner: str) -> None:
    """Give the lease up after a failure, so a retry can take the step at once; if the store
    cannot be reached the lease simply lapses."""
    try:
        release(sessions, batch_id, owner)
    except Exception as exc:
        log.warning("could not release the lease of batch %s: %s", batch_id, exc)
