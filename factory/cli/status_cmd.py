"""`factory status`: queues, workers, throughput, acceptance and errors, once or live."""

from __future__ import annotations

import time

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from factory import ops
from factory.cli.common import console, sessions, settings


def _broker() -> Group | Text:
    url = settings().broker_url
    if not url:
        return Text("no broker: tasks run in-process (FACTORY_BROKER_URL unset)")
    from workers.inspect import broker_view

    try:
        view = broker_view(url)
    except Exception as exc:  # noqa: BLE001 - any broker failure is shown, not raised
        return Text(f"broker {settings().masked()['broker_url']} unreachable: {exc}", "red")
    queues = Table("queue", "waiting", title=f"queues ({view.unacked} taken, not yet acked)")
    for name, n in view.queues.items():
        queues.add_row(name, str(n))
    workers = Table("worker", "queues", "running", title=f"workers ({len(view.workers)} alive)")
    for w in view.workers:
        workers.add_row(w.name, ", ".join(w.queues), str(w.active))
    return Group(queues, workers)


def _store(window_s: float) -> Table:
    table = Table("strategy", "jobs", "samples", "accepted", "check errors", "samples/s",
                  "tokens/s", "failed batches", "last error",
                  title=f"strategies (rates over the last {window_s:g}s)")
    with sessions()() as s:
        rows = ops.strategies(s, window_s)
        total = ops.throughput(s, window_s)
    for r in rows:
        jobs = ", ".join(f"{n} {status}" for status, n in sorted(r.jobs.items()))
        accepted = "-" if r.acceptance is None else f"{r.acceptance:.1%}"
        table.add_row(r.strategy, jobs, str(r.samples), accepted, str(r.check_errors),
                      f"{r.recent.samples_per_s:.2f}",
                      f"{r.recent.tokens_per_s:.0f}", str(r.failed_batches),
                      (r.last_error or "")[:80])
    table.caption = (f"all strategies: {total.samples_per_s:.2f} samples/s, "
                     f"{total.tokens_per_s:.1f} tokens/s")
    return table


def status(window: float = typer.Option(60, help="seconds of history for rates"),
           watch: bool = typer.Option(False, help="refresh until Ctrl-C"),
           interval: float = typer.Option(2.0, help="seconds between refreshes")) -> None:
    """Queue depths, worker liveness, throughput, acceptance rates and errors per strategy."""
    def view() -> Group:
        return Group(_broker(), _store(window))

    if not watch:
        console.print(view())
        return
    with Live(view(), console=console, refresh_per_second=4) as live:
        try:
            while True:
                time.sleep(interval)
                live.update(view())
        except KeyboardInterrupt:
            pass
