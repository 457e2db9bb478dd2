"""The broker's view for operators: how many tasks wait in each queue, how many are taken but
not yet acknowledged, and which workers answer (and on which queues)."""

from __future__ import annotations

from pydantic import BaseModel

from factory.jobs import QUEUES

# kombu's Redis transport keeps a queue's priority levels in lists named queue + sep + level.
PRIORITY_SEP = "\x06\x16"


class Worker(BaseModel):
    name: str
    queues: list[str]
    active: int


class BrokerView(BaseModel):
    queues: dict[str, int]
    unacked: int
    workers: list[Worker]


def queue_depths(broker_url: str) -> tuple[dict[str, int], int]:
    import redis

    client = redis.Redis.from_url(broker_url, socket_timeout=3)
    depths = {}
    for queue in QUEUES:
        keys = [queue, *(k.decode() for k in client.scan_iter(f"{queue}{PRIORITY_SEP}*"))]
        depths[queue] = sum(int(client.llen(k)) for k in keys)
    return depths, int(client.hlen("unacked"))


def broker_view(broker_url: str, timeout_s: float = 1.0) -> BrokerView:
    from workers.app import app

    depths, unacked = queue_depths(broker_url)
    inspect = app.control.inspect(timeout=timeout_s)
    queues = inspect.active_queues() or {}
    active = inspect.active() or {}
    workers = [Worker(name=name, queues=sorted(q["name"] for q in qs),
                      active=len(active.get(name, [])))
               for name, qs in sorted(queues.items())]
    return BrokerView(queues=depths, unacked=unacked, workers=workers)


def missing_consumers(queues: list[str], timeout_s: float = 2.0,
                      broker_url: str | None = None) -> list[str]:
    """The queues no live worker consumes (Celery's control broadcast tells), on the
    configured broker or on ``broker_url`` (a bench asks about the workers it started)."""
    from workers.app import app

    if broker_url is None:
        found = app.control.inspect(timeout=timeout_s).active_queues() or {}
    else:  # an app of its own: a connection passed to inspect() does not carry the replies
        from celery import Celery

        with Celery(broker=broker_url) as other:
            found = other.control.inspect(timeout=timeout_s).active_queues() or {}
    consumed = {q["name"] for qs in found.values() for q in qs}
    return [q for q in queues if q not in consumed]
