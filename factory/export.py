"""JSONL export that trainers load as-is: TRL's conversational SFT and preference formats.

Rows stream from the store (constant memory apart from a 16-byte digest, a line number and a
score per distinct line, to keep the best-scored of identical lines); lines that match a
benchmark are left out and near-duplicates removed (factory/cleaning, both on by default); a
manifest beside the file records counts, filters, what cleaning dropped, models, versions and
the file's sha256, so every exported file can be traced and reproduced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from db.models import Generation, Job, PreferencePair, Prompt, SftExample, Verdict
from factory.cleaning.export_pass import Cleaner, CleaningOptions

Kind = Literal["sft", "dpo"]


@dataclass
class ExportFilter:
    job_id: int | None = None
    strategy: str | None = None
    min_score: float | None = None
    system: str | None = None


@dataclass
class ExportResult:
    path: Path
    manifest: Path
    written: int = 0
    duplicates: int = 0
    models: set[str] = field(default_factory=set)
    jobs: set[int] = field(default_factory=set)
    cleaning: dict[str, Any] = field(default_factory=dict)


def _query(kind: Kind, f: ExportFilter) -> Select[Any]:
    table = SftExample if kind == "sft" else PreferencePair
    gen_id = SftExample.generation_id if kind == "sft" else PreferencePair.chosen_generation_id
    q = (select(table, Job.strategy, Job.model, Job.id, Prompt.template_id,
                Prompt.template_version, Prompt.seed_item_id, Generation.sampling,
                Generation.seed)
         .join(Job, Job.id == table.job_id)
         .outerjoin(Prompt, Prompt.id == table.prompt_id)
         .outerjoin(Generation, Generation.id == gen_id)
         .order_by(table.id))
    if f.job_id is not None:
        q = q.where(table.job_id == f.job_id)
    if f.strategy is not None:
        q = q.where(Job.strategy == f.strategy)
    if f.min_score is not None:
        q = q.where(table.score >= f.min_score)
    return q


def _verifiers(session: Session, generation_id: int | None) -> list[dict[str, Any]]:
    if generation_id is None:
        return []
    rows = session.execute(select(Verdict.verifier, Verdict.verifier_version, Verdict.score)
                           .where(Verdict.generation_id == generation_id))
    return [{"name": n, "version": v, "score": s} for n, v, s in rows]


def _lines(session: Session, kind: Kind, f: ExportFilter
           ) -> Iterator[tuple[dict[str, Any], str, int]]:
    system = [{"role": "system", "content": f.system}] if f.system else []
    for row, strategy, model, job_id, template, tversion, seed_item, sampling, seed in \
            session.execute(_query(kind, f)).yield_per(500):
        gen_id = row.generation_id if kind == "sft" else row.chosen_generation_id
        meta = {"strategy": strategy, "job": job_id, "model": model, "template": template,
                "template_version": tversion, "seed_item": seed_item, "score": row.score,
                "verifiers": _verifiers(session, gen_id),
                "sampling": None if sampling is None else {**sampling, "seed": seed},
                **row.meta}
        if kind == "sft":
            line = {"messages": system + row.messages}
        else:
            line = {"prompt": system + row.prompt, "chosen": row.chosen, "rejected": row.rejected}
        yield {**line, "metadata": meta}, model, job_id


def export(session: Session, kind: Kind, out: Path, f: ExportFilter,
           cleaning: CleaningOptions | None = None) -> ExportResult:
    out.parent.mkdir(parents=True, exist_ok=True)
    cleaner = Cleaner(cleaning or CleaningOptions())
    result = ExportResult(path=out, manifest=out.with_name(out.name + ".manifest.json"))
    digest = hashlib.sha256()
    tmp = out.with_name(out.name + ".partial")
    with tmp.open("w", encoding="utf-8") as fh:
        for line, model, job_id in _lines(session, kind, f):
            if not cleaner.admit(line):
                continue
            text = json.dumps(line, ensure_ascii=False) + "\n"
            fh.write(text)
            digest.update(text.encode("utf-8"))
            result.written += 1
            result.models.add(model)
            result.jobs.add(job_id)
    sha256 = digest.hexdigest()
    result.duplicates = cleaner.copies.dropped
    if (rewritten := cleaner.finish(tmp)) is not None:
        result.written, sha256 = rewritten.written, rewritten.sha256
        result.models, result.jobs = rewritten.models, rewritten.jobs
    tmp.replace(out)
    result.cleaning = cleaner.manifest()
    manifest = {
        "file": out.name, "format": "trl-conversational-" + ("sft" if kind == "sft" else
                                                             "preference"),
        "count": result.written, "duplicates_dropped": result.duplicates,
        "duplicates": cleaner.copies_record,
        "sha256": sha256, "models": sorted(result.models),
        "filters": {"job": f.job_id, "strategy": f.strategy, "min_score": f.min_score,
                    "system": f.system},
        "cleaning": result.cleaning,
        "created_at": datetime.now(UTC).isoformat(),
        "factory_version": _version(),
        "jobs": {str(j.id): {"strategy": j.strategy, "model": j.model, "params": j.params,
                             "seed_set": j.seed_set_id,
                             "check_errors_left_out": _check_errors(session, j.id)}
                 for j in session.scalars(select(Job).where(Job.id.in_(result.jobs)))},
    }
    result.manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    return result


def _check_errors(session: Session, job_id: int) -> int:
    """Samples whose check failed (not the sample): never in a file, counted here."""
    return session.scalar(select(func.count()).select_from(Verdict).join(Generation)
                          .where(Generation.job_id == job_id, Verdict.status == "error")) or 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("instruction-factory")
    except PackageNotFoundError:
        return "unknown"
