"""`factory demo`: the main job. Math rejection sampling from seeds to SFT and DPO files.

On the embedded default it serves the tiny demo model with vLLM (building it if needed) and
samples the bundled arithmetic seeds; with another model (FACTORY_LLM_BASE_URL and
FACTORY_LLM_MODEL pointing at a real Qwen2 server) it samples GSM8K's train split instead: the
test split is what the trained model will be measured on, so it never becomes training data.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import func, select

from db.migrate import upgrade
from db.models import Generation, Prompt
from factory import model_server
from factory.cli.common import clean_errors, console, fail, sessions, settings
from factory.cli.export_cmd import _run as export_run
from factory.cli.job_cmd import create, drive
from factory.cli.model_cmd import build_tiny
from factory.config import Settings
from factory.jobs import Progress
from factory.seeds import SeedFileError, SeedKind, import_seeds

DATA = Path(__file__).resolve().parent.parent / "data"
LOCAL_URL = Settings.model_fields["llm_base_url"].default
TINY = Settings.model_fields["llm_model"].default


def _ensure_server(stack: ExitStack) -> None:
    s = settings()
    if s.llm_base_url.startswith("scripted://") or model_server.healthy(s.llm_base_url):
        return
    if s.llm_base_url != LOCAL_URL:
        raise fail(f"model server {s.llm_base_url} is not answering")
    build_tiny(reward=False)
    opts = model_server.ServeOptions(model=str(s.model_dir), served_name=s.llm_model,
                                     port=s.vllm_port)
    with clean_errors(model_server.ModelServerError), \
            console.status("starting vLLM on the tiny model (about a minute)"):
        model_server.start(s, opts)
    stack.callback(model_server.stop, opts.port)


def demo(seeds: Path | None = typer.Option(None, help="math seeds JSONL (default: bundled)"),
         batch_size: int = typer.Option(50, help="problems per batch"),
         max_samples: int = 16, out_dir: Path = Path("export")) -> None:
    """Run math rejection sampling end to end and export SFT and DPO files."""
    s = settings()
    start = time.monotonic()
    upgrade(s.database_url)
    # The tiny demo model (or the scripted stand-in) does arithmetic; a real model gets GSM8K.
    tiny = s.llm_model == TINY or s.llm_base_url.startswith("scripted://")
    seed_file = seeds or DATA / ("arithmetic.jsonl" if tiny else "gsm8k_train.jsonl.gz")
    with clean_errors(SeedFileError), sessions().begin() as session:
        seed_set, _ = import_seeds(session, seed_file, SeedKind.math)
        seed_set_id = seed_set.id
    params = {"batch_size": batch_size, "max_samples": max_samples,
              "max_tokens": 64 if tiny else 1024}
    with ExitStack() as stack:
        _ensure_server(stack)
        job_id = create("math", seed_set_id, params, name=f"demo-{seed_file.stem}")
        progress = drive(job_id)
    export_run("sft", out_dir / "sft.jsonl", job_id, None, None, None)
    export_run("dpo", out_dir / "dpo.jsonl", job_id, None, None, None)
    _summary(job_id, progress, time.monotonic() - start)


def _summary(job_id: int, progress: Progress, wall: float) -> None:
    with sessions()() as session:
        ptok, ctok = session.execute(
            select(func.sum(Generation.prompt_tokens), func.sum(Generation.completion_tokens))
            .where(Generation.job_id == job_id)).one()
        passed = session.scalar(select(func.sum(Prompt.passed)).where(Prompt.job_id == job_id))
        flags = dict(session.execute(select(Prompt.flag, func.count()).where(
            Prompt.job_id == job_id).group_by(Prompt.flag)).all())
    samples = progress.generations
    table = Table("", "", title=f"job {job_id}: math rejection sampling", show_header=False)
    rows = {
        "problems": progress.prompts,
        "samples": samples,
        "correct rate": f"{(passed or 0) / samples:.1%}" if samples else "-",
        "SFT examples": progress.sft,
        "DPO pairs": progress.pairs,
        "too easy / too hard": f"{flags.get('too_easy', 0)} / {flags.get('too_hard', 0)}",
        "tokens (prompt + completion)": f"{(ptok or 0) + (ctok or 0):,}",
        "wall time": f"{wall:.1f}s",
    }
    for key, value in rows.items():
        table.add_row(key, str(value))
    console.print(table)
