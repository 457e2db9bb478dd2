"""The workers' own sweep: every worker's main process looks for stranded steps now and then
and sends them again, so a job finishes with nobody watching it (no `factory job run` loop)
after a worker died between a stage's commit and its send, or a broker lost its queue.

Which steps are stranded, and the claim that keeps two sweepers from sending one twice, are
the domain's (:func:`factory.sweep.claim_stranded`); this only runs it on a timer.
"""

from __future__ import annotations

import logging
import threading

from db.session import sessionmaker_for
from factory.config import Settings
from factory.sweep import claim_stranded

log = logging.getLogger(__name__)


def sweep_once(settings: Settings) -> int:
    from workers.tasks import send

    # Its own unpooled engine: the pool forks children later, who must not inherit a connection.
    sessions = sessionmaker_for(settings.database_url, pooled=False)
    with sessions.begin() as session:
        steps = claim_stranded(session, settings.stale_batch_s)
    if steps:
        send(steps)
        log.warning("sweep: sent %d stranded step(s) again: %s", len(steps),
                    ", ".join(f"batch {s.batch_id} {s.stage} r{s.round}" for s in steps[:10]))
    return len(steps)


def start(settings: Settings) -> threading.Event:
    """Sweep every ``sweep_interval_s`` in a daemon thread until the returned event is set."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(settings.sweep_interval_s):
            try:
                sweep_once(settings)
            except Exception as exc:  # the store or broker may be restarting: try next time
                log.warning("sweep failed: %s", exc)

    threading.Thread(target=loop, name="factory-sweep", daemon=True).start()
    return stop
