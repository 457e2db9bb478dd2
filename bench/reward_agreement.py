"""Does the reward model's best-vs-worst agree with the math verifier's correct-vs-wrong?

The demo's job, as `factory demo` runs it on the tiny model (the bundled arithmetic seeds, the
math strategy with the demo's parameters), through the real vLLM tiny generator on CPU and the
math verifier; then every sample scored by the real tiny reward model through vLLM's pooling
runner (the factory's reward client). Prints, over the prompts where the verifier saw both a
correct and a wrong sample, how often the reward model's best is correct and its worst wrong
(the pair the reward strategy would make), and over every correct x wrong pair of a prompt,
how often the correct one scores higher; each with counts, with what a random scorer would
get on the same samples, and by operand size (the tiny reward model's own held-out accuracy
falls with it). ``--dump FILE`` writes every sample with its label and score as JSONL.

Starts both vLLM servers (as `factory model serve` and `--reward` do) and stops them. Run it
under the tests' lock, so it does not share the cores with a test's vLLM servers:

Usage: PYTHONPATH=. flock /tmp/pytest.lock .venv/bin/python bench/reward_agreement.py
       [--problems 200] [--max-samples 16] [--seed 0] [--dump samples.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.reward_figures import Group, report, spread  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Generation, Job, Prompt, Verdict  # noqa: E402
from db.session import sessionmaker_for  # noqa: E402
from factory import jobs, model_server  # noqa: E402
from factory.config import Settings  # noqa: E402
from factory.llm.reward_client import RewardItem, connect_reward  # noqa: E402
from factory.runner import InProcess  # noqa: E402
from factory.seeds import SeedKind, import_seeds  # noqa: E402
from factory.strategies import get_strategy  # noqa: E402

SEEDS = ROOT / "factory" / "data" / "arithmetic.jsonl"  # `factory demo`'s on the tiny model
GEN_PORT, REWARD_PORT = 8141, 8142
_OPERANDS = re.compile(r"What is (\d+) [+-] (\d+)\?")


def serve(stack: ExitStack, settings: Settings) -> tuple[str, str]:
    """Both servers, as `factory model serve` and `--reward` start them; stopped on exit."""
    for opts in (model_server.ServeOptions(model=str(settings.model_dir),
                                           served_name=settings.llm_model, port=GEN_PORT),
                 model_server.ServeOptions(model=str(settings.reward_model_dir),
                                           served_name=settings.reward_model, port=REWARD_PORT,
                                           reward=True)):
        stack.callback(model_server.stop, opts.port)
        model_server.start(settings, opts, wait_s=400)
    return f"http://127.0.0.1:{GEN_PORT}/v1", f"http://127.0.0.1:{REWARD_PORT}"


def demo_job(settings: Settings, problems: int, max_samples: int, seed: int) -> tuple[str, int]:
    """The demo's math job (factory/cli/demo.py's parameters for the tiny model), run here."""
    db = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    upgrade(db)
    seeds = Path(tempfile.mkdtemp()) / "arithmetic.jsonl"
    seeds.write_text("".join(SEEDS.read_text().splitlines(keepends=True)[:problems]))
    sessions = sessionmaker_for(db)
    with sessions.begin() as s:
        seed_set, _ = import_seeds(s, seeds, SeedKind.math)
        job = jobs.create_job(s, "math", seed_set, {"batch_size": 50, "max_samples": max_samples,
                                                    "max_tokens": 64, "seed": seed},
                              settings.llm_model)
        s.flush()
        steps = jobs.start(s, job)
        job_id = job.id
    InProcess(sessions, settings).send(steps)
    with sessions() as s:
        status = s.get_one(Job, job_id).status
    if status != "done":
        raise SystemExit(f"the math job ended {status}")
    return db, job_id


def samples(db: str, job_id: int) -> tuple[list[RewardItem], list[tuple[int, bool]]]:
    """Every verified sample in generation order: (its prompt's messages, its text) to score,
    and (prompt id, correct?); samples whose check errored are left out."""
    verifier = get_strategy("math").verifier
    with sessionmaker_for(db)() as s:
        rows = s.execute(
            select(Prompt.id, Prompt.messages, Generation.id, Generation.text, Verdict.passed)
            .join(Generation, Generation.prompt_id == Prompt.id)
            .join(Verdict, (Verdict.generation_id == Generation.id)
                  & (Verdict.verifier == verifier))
            .where(Prompt.job_id == job_id, Verdict.status != "error")
            .order_by(Prompt.id, Generation.id)).all()
    return [(m, t) for _, m, _, t, _ in rows], [(p, passed) for p, _, _, _, passed in rows]


async def score(settings: Settings, items: list[RewardItem]) -> list[float]:
    rm = connect_reward(settings)
    try:
        scores = await rm.score(items)
    finally:
        await rm.aclose()
    refused = [s for s in scores if not isinstance(s, float)]
    if refused:
        raise SystemExit(f"{len(refused)} samples refused by the reward server: {refused[0]}")
    return [s for s in scores if isinstance(s, float)]


def digits(messages: list[dict[str, str]]) -> int:
    """The larger operand's size, as factory.arithmetic.Problem.digits."""
    match = _OPERANDS.search(messages[-1]["content"])
    return max(len(match[1]), len(match[2])) if match else 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=200, help="of the bundled 200")
    ap.add_argument("--max-samples", type=int, default=16, help="the demo's default")
    ap.add_argument("--seed", type=int, default=0, help="the job's request seed")
    ap.add_argument("--dump", type=Path, default=None, help="every sample, labelled, as JSONL")
    args = ap.parse_args()
    base = Settings()
    with ExitStack() as stack:
        start = time.perf_counter()
        gen_url, reward_url = serve(stack, base)
        print(f"servers up in {time.perf_counter() - start:.0f}s", flush=True)
        settings = base.model_copy(update={"llm_base_url": gen_url,
                                           "reward_base_url": reward_url})
        start = time.perf_counter()
        db, job_id = demo_job(settings, args.problems, args.max_samples, args.seed)
        job_s = time.perf_counter() - start
        items, labels = samples(db, job_id)
        start = time.perf_counter()
        scores = asyncio.run(score(settings, items))
        score_s = time.perf_counter() - start
    by_prompt: dict[int, Group] = defaultdict(list)
    size: dict[int, int] = {}
    for (messages, _), (prompt, ok), sc in zip(items, labels, scores, strict=True):
        by_prompt[prompt].append((ok, sc))
        size[prompt] = digits(messages)
    if args.dump:
        args.dump.write_text("".join(
            json.dumps({"prompt": prompt, "digits": size[prompt], "messages": messages,
                        "text": text, "correct": ok, "score": sc}) + "\n"
            for (messages, text), (prompt, ok), sc in zip(items, labels, scores, strict=True)))
    print(json.dumps({"problems": len(by_prompt), "samples": len(labels),
                      "correct": sum(ok for _, ok in labels), "job_s": round(job_s, 1),
                      "score_s": round(score_s, 1)}))
    report("all", list(by_prompt.values()))
    spread(list(by_prompt.values()))
    for d in sorted(set(size.values())):
        report(f"{d}-digit", [g for p, g in by_prompt.items() if size[p] == d])


if __name__ == "__main__":
    main()
