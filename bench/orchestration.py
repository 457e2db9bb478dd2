"""Orchestration overhead: the whole math strategy (prompting, storing, checking, pairing)
driven by an instant scripted model. Prints samples/s; the target is >= 1000 samples/s.

Usage: .venv/bin/python bench/orchestration.py [--problems N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from db.migrate import upgrade  # noqa: E402
from db.models import Generation, Job  # noqa: E402
from db.session import sessionmaker_for  # noqa: E402
from factory import jobs  # noqa: E402
from factory.arithmetic import problems  # noqa: E402
from factory.config import Settings  # noqa: E402
from factory.runner import InProcess  # noqa: E402
from factory.seeds import SeedKind, import_seeds  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=200)
    ap.add_argument("--database-url")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    sessions = sessionmaker_for(url)
    seeds = tmp / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"problem": p.question, "answer": str(p.answer)}) + "\n"
                             for p in islice(problems(99), args.problems)))
    with sessions.begin() as s:
        seed_set, _ = import_seeds(s, seeds, SeedKind.math)
        job = jobs.create_job(s, "math", seed_set, {"batch_size": args.batch_size}, "scripted")
        s.flush()
        job_id = job.id
    start = time.perf_counter()
    with sessions.begin() as s:
        steps = jobs.start(s, s.get_one(Job, job_id))
    InProcess(sessions, Settings(llm_base_url="scripted://arithmetic")).send(steps)
    elapsed = time.perf_counter() - start
    with sessions() as s:
        samples = s.scalar(select(func.count()).select_from(Generation)
                           .where(Generation.job_id == job_id))
        p = jobs.progress(s, s.get_one(Job, job_id))
    print(f"store: {url.split(':')[0]}  problems: {args.problems}  samples: {samples}  "
          f"sft: {p.sft}  pairs: {p.pairs}  wall: {elapsed:.2f}s  "
          f"throughput: {samples / elapsed:.0f} samples/s")


if __name__ == "__main__":
    main()
