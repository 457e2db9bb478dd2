"""Find steps nobody is working on and nobody has sent lately, and claim them for sending.

A stage commits a batch's next (stage, round) and then sends the step; a worker killed between
the two, a broker that lost its queue, or a message dropped anywhere leaves a batch waiting for
a step that never comes. The store knows better than the broker: a batch not done is stranded when
its lease lapsed (the worker that took its step died: :mod:`factory.leases`), or when nobody
took it and it was not sent for ``stale_s`` seconds. Claiming marks it sent (and drops the lapsed
lease) in the same statement, so two sweepers (several workers, or a worker and
`factory job run`) never both send it. A step still queued behind a long backlog may be sent
twice; the copy that comes second finds the batch moved on, or leased, and does nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import Batch, Job
from factory.jobs import Step, step_of


def claim_stranded(session: Session, stale_s: float, job_id: int | None = None) -> list[Step]:
    """Steps of running jobs' batches idle (unleased, unsent) for ``stale_s``, marked sent."""
    now = utcnow()
    running = select(Job.id).where(Job.status == "running")
    if job_id is not None:
        running = running.where(Job.id == job_id)
    rows = session.execute(
        update(Batch)
        .where(Batch.job_id.in_(running), Batch.stage != "done", Batch.error.is_(None),
               or_(Batch.lease_until < now,  # taken by a worker whose heartbeat stopped
                   Batch.lease_until.is_(None)
                   & (func.coalesce(Batch.sent_at, Batch.updated_at)
                      < now - timedelta(seconds=stale_s))))
        .values(sent_at=now, lease_owner=None, lease_until=None)
        .returning(Batch.id, Batch.job_id, Batch.stage, Batch.round)
        .execution_options(synchronize_session=False)).all()
    if not rows:
        return []
    strategies = dict(session.execute(select(Job.id, Job.strategy)
                                      .where(Job.id.in_({r.job_id for r in rows}))).all())
    return [step_of(r.id, r.stage, r.round, strategies[r.job_id])
            for r in sorted(rows, key=lambda r: r.id)]
