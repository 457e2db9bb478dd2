"""Ontologies, selections and evolved instructions in the store.

A tagging job's first passing tag list per instruction is the raw input of an ontology; the
ontology, its tags with their merged variants, and each instruction's normalised tags are rows.
Selections and evolved instructions become prompt seed sets, so every strategy can take them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    Generation,
    InstructionTags,
    Job,
    OntologyTag,
    Prompt,
    SeedItem,
    SeedSet,
    TagOntology,
    Verdict,
)
from factory.instag import ontology as onto
from factory.instag.embeddings import Embedder
from factory.instag.selection import (
    Baseline,
    Coverage,
    TaggedInstruction,
    complexity_first,
    coverage,
    random_baseline,
)
from factory.instag.tags import tag_names
from factory.seeds import SeedKind, derive_seed_set


class InstagError(ValueError):
    """An ontology, selection or evolution that cannot be made; the message says why."""


def _job(session: Session, job_id: int, strategy: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise InstagError(f"no job {job_id}")
    if job.strategy != strategy:
        raise InstagError(f"job {job_id} is a {job.strategy!r} job, not {strategy!r}")
    if job.status != "done":
        raise InstagError(f"job {job_id} is {job.status}; run it to the end first "
                          f"(factory job run {job_id})")
    return job


def _passing(session: Session, job_id: int) -> Iterator[tuple[Prompt, Generation, Verdict]]:
    """Each passing sample of a job with its prompt, prompts in order, samples by index."""
    yield from session.execute(
        select(Prompt, Generation, Verdict)
        .join(Generation, Generation.prompt_id == Prompt.id)
        .join(Verdict, Verdict.generation_id == Generation.id)
        .where(Prompt.job_id == job_id, Verdict.passed.is_(True))
        .order_by(Prompt.id, Generation.round, Generation.sample_index))


def build_ontology(session: Session, job_id: int, settings: onto.OntologySettings,
                   embedder: Embedder | None) -> TagOntology:
    """The ontology of a tagging job's instructions, stored; instructions with no valid tag
    list are left out."""
    _job(session, job_id, "instag")
    first: dict[int, tuple[Prompt, list[str]]] = {}
    for prompt, _, verdict in _passing(session, job_id):
        first.setdefault(prompt.id, (prompt, tag_names(verdict.details["tags"])))
    if not first:
        raise InstagError(f"job {job_id} has no instruction with a valid tag list")
    prompts = list(first.values())
    built = onto.build([tags for _, tags in prompts], settings, embedder)
    row = TagOntology(job_id=job_id, settings=settings.model_dump(),
                      embedder=embedder.name if embedder and settings.similarity > 0 else None,
                      instructions=len(prompts), raw_tags=built.raw_tags, dropped=built.dropped)
    session.add(row)
    session.flush()
    session.add_all(OntologyTag(ontology_id=row.id, tag=t.tag, count=t.count,
                                variants=[v.model_dump() for v in t.variants])
                    for t in built.tags)
    session.add_all(InstructionTags(ontology_id=row.id, prompt_id=p.id, seed_item_id=p.seed_item_id,
                                    tags=tags, complexity=len(tags))
                    for (p, _), tags in zip(prompts, built.assigned, strict=True))
    return row


def ontology(session: Session, ontology_id: int) -> TagOntology:
    found = session.get(TagOntology, ontology_id)
    if found is None:
        raise InstagError(f"no ontology {ontology_id}")
    return found


def ontology_tags(session: Session, ontology_id: int) -> list[OntologyTag]:
    ontology(session, ontology_id)
    return list(session.scalars(select(OntologyTag).where(OntologyTag.ontology_id == ontology_id)
                                .order_by(OntologyTag.count.desc(), OntologyTag.tag)))


def export_ontology(session: Session, ontology_id: int, out: Path) -> int:
    """The ontology as JSONL, one tag per line: tag, count, merged variants."""
    tags = ontology_tags(session, ontology_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for t in tags:
            fh.write(json.dumps({"tag": t.tag, "count": t.count, "variants": t.variants},
                                ensure_ascii=False) + "\n")
    return len(tags)


@dataclass(frozen=True)
class Selection:
    seed_set: SeedSet
    created: bool
    coverage: Coverage
    baseline: Baseline


def select_instructions(session: Session, ontology_id: int, n: int,
                        name: str | None = None) -> Selection:
    """N instructions, complexity first with greedy tag coverage, stored as a prompt seed set;
    with the coverage of the same number of instructions drawn at random."""
    ontology(session, ontology_id)
    rows = session.execute(select(InstructionTags, SeedItem.payload)
                           .join(SeedItem, SeedItem.id == InstructionTags.seed_item_id)
                           .where(InstructionTags.ontology_id == ontology_id)
                           .order_by(InstructionTags.id)).all()
    pool = [TaggedInstruction(id=it.id, tags=frozenset(it.tags)) for it, _ in rows]
    by_id = {it.id: (it, payload) for it, payload in rows}
    all_tags = {t.tag for t in ontology_tags(session, ontology_id)}
    chosen = complexity_first(pool, n)
    records = [_selected(ontology_id, *by_id[c.id]) for c in chosen]
    seed_set, created = derive_seed_set(
        session, name or f"selected-{ontology_id}-{n}", SeedKind.prompts,
        f"ontology {ontology_id}: complexity-first selection of {n}", records)
    return Selection(seed_set, created, coverage(chosen, all_tags),
                     random_baseline(pool, len(chosen), all_tags))


def _selected(ontology_id: int, it: InstructionTags, payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "tags": it.tags, "complexity": it.complexity,
            "selected_from": {"ontology": ontology_id, "seed_item": it.seed_item_id}}


def evolved_seed_set(session: Session, job_id: int, name: str | None = None
                     ) -> tuple[SeedSet, bool]:
    """An evolution job's surviving instructions as a prompt seed set, each with its parent,
    generation number, operation and tags."""
    _job(session, job_id, "evolve")
    records = []
    for prompt, gen, verdict in _passing(session, job_id):
        d = verdict.details
        records.append({
            "prompt": gen.text.strip(), "tags": d["normalised_tags"], "category":
            prompt.reference.get("category"), "generation": d["generation"],
            "operation": d["operation"], "parent": {
                "text": d["parent"], "generation_id": d["parent_generation_id"],
                "seed_item": prompt.seed_item_id},
            "evolved_from": {"job": job_id, "generation_id": gen.id}})
    if not records:
        raise InstagError(f"job {job_id} has no surviving evolution")
    return derive_seed_set(session, name or f"evolved-{job_id}", SeedKind.prompts,
                           f"job {job_id}: evolved instructions", records)
