"""Tables. Every write a task makes is keyed by a unique constraint, so a re-run is harmless.

Provenance runs through foreign keys: an SFT example or pair names its job (strategy, model,
parameters), its prompt (seed item, template version) and its generations (sampling parameters,
seed); verdicts name their verifier and its version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, StoredText, utcnow


class SeedSet(Base):
    __tablename__ = "seed_sets"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(StoredText)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    item_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SeedItem(Base):
    __tablename__ = "seed_items"
    __table_args__ = (UniqueConstraint("seed_set_id", "ordinal"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    seed_set_id: Mapped[int] = mapped_column(ForeignKey("seed_sets.id", ondelete="CASCADE"))
    ordinal: Mapped[int]
    line_no: Mapped[int]
    payload: Mapped[dict[str, Any]]


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    strategy: Mapped[str] = mapped_column(String(50))
    seed_set_id: Mapped[int] = mapped_column(ForeignKey("seed_sets.id"))
    params: Mapped[dict[str, Any]]
    model: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="created")
    error: Mapped[str | None] = mapped_column(StoredText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Batch(Base):
    """A slice of a job's seed items moving through stages: generate -> judge -> ... -> done."""

    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("job_id", "index"), Index(None, "job_id", "stage"))
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    index: Mapped[int]
    first_ordinal: Mapped[int]
    last_ordinal: Mapped[int]
    stage: Mapped[str] = mapped_column(String(20), default="generate")
    round: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(StoredText)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # A worker running the current step holds a lease it renews while it works, so a sweep
    # never sends a step that is still being worked on; sent_at is when the step was last
    # sent, so a step whose message was lost (or never sent) is found and sent again.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class Prompt(Base):
    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("job_id", "seed_item_id", "prompt_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    seed_item_id: Mapped[int] = mapped_column(ForeignKey("seed_items.id"))
    # tells apart the prompts one seed item becomes (say a principle id); "" when it is one
    prompt_key: Mapped[str] = mapped_column(String(100), default="")
    template_id: Mapped[str] = mapped_column(String(100))
    template_version: Mapped[str] = mapped_column(String(20))
    messages: Mapped[list[Any]]
    reference: Mapped[dict[str, Any]]
    samples: Mapped[int] = mapped_column(default=0)
    passed: Mapped[int] = mapped_column(default=0)
    pass_rate: Mapped[float | None]
    flag: Mapped[str | None] = mapped_column(String(20))
    # A request for this prompt that cannot succeed (the server refused it, or its reply was
    # malformed): the prompt is set aside with the reason, and the rest of its batch goes on.
    error: Mapped[str | None] = mapped_column(StoredText)
    error_round: Mapped[int | None]


class Generation(Base):
    __tablename__ = "generations"
    __table_args__ = (UniqueConstraint("prompt_id", "sample_index"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    sample_index: Mapped[int]
    round: Mapped[int]
    # which of its prompt's asks this sample answers (Ask.name: "follow", "profile", ...)
    ask: Mapped[str] = mapped_column(String(32), default="", server_default="")
    text: Mapped[str] = mapped_column(StoredText)
    model: Mapped[str] = mapped_column(String(200))
    sampling: Mapped[dict[str, Any]]
    seed: Mapped[int | None]
    prompt_tokens: Mapped[int | None]
    completion_tokens: Mapped[int | None]
    latency_s: Mapped[float]
    finish_reason: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Verdict(Base):
    __tablename__ = "verdicts"
    __table_args__ = (UniqueConstraint("generation_id", "verifier"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    verifier: Mapped[str] = mapped_column(String(50))
    verifier_version: Mapped[str] = mapped_column(String(20))
    passed: Mapped[bool]
    # passed | failed | error (the check failed, not the sample) | pending (people judge it)
    status: Mapped[str] = mapped_column(String(10), default="failed", server_default="failed")
    score: Mapped[float | None]
    details: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SftExample(Base):
    __tablename__ = "sft_examples"
    __table_args__ = (UniqueConstraint("job_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    prompt_id: Mapped[int | None] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    generation_id: Mapped[int | None] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE")
    )
    messages: Mapped[list[Any]]
    score: Mapped[float | None]
    meta: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PreferencePair(Base):
    __tablename__ = "preference_pairs"
    __table_args__ = (UniqueConstraint("job_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    prompt_id: Mapped[int | None] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    chosen_generation_id: Mapped[int | None] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE")
    )
    rejected_generation_id: Mapped[int | None] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE")
    )
    prompt: Mapped[list[Any]]
    chosen: Mapped[list[Any]]
    rejected: Mapped[list[Any]]
    score: Mapped[float | None]
    meta: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Annotator(Base):
    __tablename__ = "annotators"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Names differing only by case are one account (an identity provider's email names it, in any
# case): accounts.add_annotator refuses them with a message, this holds under races too.
Index("ix_annotators_lower_name", func.lower(Annotator.name), unique=True)


class AnnotationTask(Base):
    __tablename__ = "annotation_tasks"
    __table_args__ = (UniqueConstraint("prompt_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    generation_ids: Mapped[list[Any]]
    rankings_wanted: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Ranking(Base):
    """One annotator's ranking of a task's responses: ``tiers`` of generation ids, best first,
    ties sharing a tier (empty when skipped), in the ``shown_order`` they saw them."""

    __tablename__ = "rankings"
    __table_args__ = (UniqueConstraint("task_id", "annotator_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("annotation_tasks.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id"))
    shown_order: Mapped[list[Any]]
    tiers: Mapped[list[Any]]
    all_bad: Mapped[bool] = mapped_column(default=False)
    skipped: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str | None] = mapped_column(StoredText)
    # from the task appearing (its claim's shown_at) to this ranking's first save; kept on
    # edits, None when not known (rankings older than the column)
    seconds: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(onupdate=utcnow)


class TagOntology(Base):
    """The normalised tags of a tagging job's instructions (InsTag), built with ``settings``."""

    __tablename__ = "tag_ontologies"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    settings: Mapped[dict[str, Any]]
    embedder: Mapped[str | None] = mapped_column(String(100))
    instructions: Mapped[int]
    raw_tags: Mapped[int]
    dropped: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OntologyTag(Base):
    __tablename__ = "ontology_tags"
    __table_args__ = (UniqueConstraint("ontology_id", "tag"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ontology_id: Mapped[int] = mapped_column(ForeignKey("tag_ontologies.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(200))
    count: Mapped[int]
    variants: Mapped[list[Any]]


class InstructionTags(Base):
    """One instruction's normalised tags in an ontology; complexity is how many there are."""

    __tablename__ = "instruction_tags"
    __table_args__ = (UniqueConstraint("ontology_id", "prompt_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ontology_id: Mapped[int] = mapped_column(ForeignKey("tag_ontologies.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    seed_item_id: Mapped[int] = mapped_column(ForeignKey("seed_items.id"))
    tags: Mapped[list[Any]]
    complexity: Mapped[int]


class AnnotationClaim(Base):
    """An annotator working on a task: it counts toward the task's k until judged or stale.
    ``claimed_at`` is renewed each time the task is drawn again (the claim is alive);
    ``shown_at`` stays when it first appeared, to time the judgment."""

    __tablename__ = "annotation_claims"
    __table_args__ = (UniqueConstraint("task_id", "annotator_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("annotation_tasks.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    shown_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginThrottle(Base):
    """Failed log-ins of one account name or one client address, and until when that key is
    locked out (factory.annotation.lockouts)."""

    __tablename__ = "login_throttles"
    __table_args__ = (UniqueConstraint("kind", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "account" or "client"
    key: Mapped[str] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]


class LoginSession(Base):
    """A browser's log-in (factory.annotation.login_sessions). The cookie holds a random id;
    only its SHA-256 is kept, so a copy of the store cannot be replayed as a cookie."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"),
                                              index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    method: Mapped[str] = mapped_column(String(20))  # "password" or "oidc"
    client: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LoginTicket(Base):
    """A one-time, short-lived ticket the app hands the browser after checking who it is; the
    browser trades it for a session cookie (POST /session/start). Only its hash is kept."""

    __tablename__ = "login_tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    method: Mapped[str] = mapped_column(String(20))
    client: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime]
