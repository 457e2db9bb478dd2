"""`factory instag`: tag ontologies, complexity-first selection, evolved instructions."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import select

from db.models import TagOntology
from factory.cli.common import clean_errors, console, sessions
from factory.instag import store
from factory.instag.embeddings import EmbeddingUnavailable, MiniLM
from factory.instag.ontology import OntologySettings
from factory.seeds import SeedFileError

app = typer.Typer(no_args_is_help=True,
                  help="InsTag: tag ontologies, instruction selection, evolved instructions.")
ERRORS = (store.InstagError, EmbeddingUnavailable, SeedFileError)


@app.command("build")
def build(job: int = typer.Option(..., help="a finished instag (tagging) job"),
          min_count: int = typer.Option(2, help="drop tags on fewer instructions"),
          similarity: float = typer.Option(0.8, help="cosine to merge synonyms; 0: rules only"),
          association: float = typer.Option(0.9, help="co-occurrence share to merge two tags"),
          support: int = typer.Option(3, help="instructions two tags share to be merged"),
          synonym: list[str] = typer.Option([], help="extra rule VARIANT=TAG, repeatable")) -> None:
    """Normalise a tagging job's raw tags into an ontology (stored; see `show`)."""
    with clean_errors(*ERRORS, ValueError):
        bad = [s for s in synonym if "=" not in s]
        if bad:
            raise ValueError(f"--synonym takes VARIANT=TAG, got {bad[0]!r}")
        rules = dict(s.split("=", 1) for s in synonym)
        settings = OntologySettings(min_count=min_count, similarity=similarity,
                                    association=association, association_support=support,
                                    synonyms=rules)
        with console.status("building the ontology"), sessions().begin() as session:
            row = store.build_ontology(session, job, settings,
                                       MiniLM() if similarity > 0 else None)
            session.flush()
            tags = store.ontology_tags(session, row.id)
            console.print(f"ontology [bold]{row.id}[/]: {row.instructions} instructions, "
                          f"{row.raw_tags} raw tags -> {len(tags)} tags "
                          f"({len(row.dropped)} rare tags dropped)")


@app.command("list")
def list_() -> None:
    """List ontologies."""
    table = Table("id", "job", "instructions", "raw tags", "dropped", "settings")
    with sessions()() as session:
        for o in session.scalars(select(TagOntology).order_by(TagOntology.id)):
            table.add_row(str(o.id), str(o.job_id), str(o.instructions), str(o.raw_tags),
                          str(len(o.dropped)), str(o.settings))
    console.print(table)


@app.command("show")
def show(ontology: int, top: int = typer.Option(30, help="most frequent tags shown")) -> None:
    """The ontology's tags, most frequent first, with the variants merged into them."""
    with clean_errors(*ERRORS), sessions()() as session:
        tags = store.ontology_tags(session, ontology)
    table = Table("tag", "count", "merged variants", title=f"ontology {ontology}: "
                  f"{len(tags)} tags")
    for t in tags[:top]:
        variants = ", ".join(f"{v['tag']} ({v['via']})" for v in t.variants)
        table.add_row(t.tag, str(t.count), variants)
    console.print(table)


@app.command("export")
def export(ontology: int, out: Path = typer.Option(Path("export/ontology.jsonl"))) -> None:
    """Write the ontology as JSONL: one tag per line with its count and variants."""
    with clean_errors(*ERRORS), sessions()() as session:
        n = store.export_ontology(session, ontology, out)
    console.print(f"{n} tags -> {out}")


@app.command("select")
def select_(ontology: int = typer.Option(...),
            n: int = typer.Option(..., "-n", "--count", min=1, help="instructions to select"),
            name: str | None = None) -> None:
    """Select N instructions (complexity first, greedy tag coverage) as a seed set.

    Prints the selection's tag coverage against random samples of the same size."""
    with clean_errors(*ERRORS), sessions().begin() as session:
        sel = store.select_instructions(session, ontology, n, name)
        cov, base = sel.coverage, sel.baseline
        verb = "made" if sel.created else "already made"
        console.print(f"seed set [bold]{sel.seed_set.id}[/] {verb}: {cov.selected} instructions")
    console.print(f"tag coverage: selection {cov.tags_covered}/{cov.tags_total} "
                  f"({cov.share:.1%}); random {base.mean:.1%} mean over {base.draws} draws "
                  f"({base.low:.1%}-{base.high:.1%})")


@app.command("evolved")
def evolved(job: int = typer.Option(..., help="a finished evolve job"),
            name: str | None = None) -> None:
    """Store an evolve job's surviving instructions as a prompt seed set."""
    with clean_errors(*ERRORS), sessions().begin() as session:
        seed_set, created = store.evolved_seed_set(session, job, name)
        verb = "made" if created else "already made"
        console.print(f"seed set [bold]{seed_set.id}[/] {verb}: {seed_set.item_count} "
                      "evolved instructions")
