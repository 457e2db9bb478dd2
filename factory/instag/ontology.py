"""Raw tags of many instructions -> an ontology of intention tags (InsTag's normalisation).

The steps, in order:

1. rules: each tag's canonical spelling (:func:`factory.instag.tags.clean_tag`);
2. synonyms: tags whose embeddings are at least ``similarity`` apart merge into the most frequent
   of them (greedy, most frequent first, so a merged group never chains away from its head);
3. frequency: tags on fewer than ``min_count`` instructions are dropped; merging comes first so
   spellings of one intention pool their counts before the cut;
4. association: two tags that nearly always come together (each on at least ``association`` of
   the other's instructions, and on at least ``association_support`` instructions together, so
   two one-off tags of one instruction are not "always together") become one, named after the
   more frequent.

Every step is deterministic: ties break on the tag's text, and the embedder is a fixed model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
from pydantic import BaseModel, Field

from factory.instag.embeddings import Embedder
from factory.instag.tags import clean_tag


class OntologySettings(BaseModel):
    min_count: int = Field(2, ge=1, description="drop tags on fewer instructions than this")
    similarity: float = Field(0.8, ge=0, le=1, description="cosine to merge; 0 = rules only")
    association: float = Field(0.9, gt=0, le=1, description="co-occurrence share to merge")
    association_support: int = Field(3, ge=2, description="instructions a merged pair shares")
    synonyms: dict[str, str] = Field(default_factory=dict, description="extra whole-tag rules")


class Variant(BaseModel):
    tag: str
    count: int
    via: str  # rule | synonym | association


class OntologyTag(BaseModel):
    tag: str
    count: int
    variants: list[Variant] = Field(default_factory=list)


class Ontology(BaseModel):
    tags: list[OntologyTag]
    assigned: list[list[str]]  # each instruction's normalised tags, in input order
    dropped: dict[str, int]  # rare tags cut by the frequency filter, with their counts
    raw_tags: int


def build(raw: Sequence[Sequence[str]], settings: OntologySettings,
          embedder: Embedder | None = None) -> Ontology:
    """The ontology of ``raw`` (each instruction's raw tags); ``embedder`` is needed only when
    ``settings.similarity`` > 0."""
    canon: dict[str, str] = {}  # raw spelling -> canonical
    via: dict[str, list[Variant]] = {}
    per_instruction: list[set[str]] = []
    spellings: Counter[str] = Counter()
    for tags in raw:
        found = set()
        for t in tags:
            if (c := canon.get(t)) is None:
                c = canon[t] = clean_tag(t, settings.synonyms)
            if c:
                found.add(c)
                spellings[(t, c)] += 1
        per_instruction.append(found)
    counts = Counter(t for tags in per_instruction for t in tags)
    head = _merge_synonyms(counts, settings.similarity, embedder)
    merged = [{head[t] for t in tags} for tags in per_instruction]
    counts = Counter(t for tags in merged for t in tags)
    dropped = {t: n for t, n in counts.items() if n < settings.min_count}
    merged = [{t for t in tags if t not in dropped} for tags in merged]
    joined = _associate(merged, settings.association, settings.association_support)
    final = [sorted({joined[t] for t in tags}) for tags in merged]
    counts = Counter(t for tags in final for t in tags)
    for (spelling, c), n in sorted(spellings.items()):
        if spelling != c:
            via.setdefault(c, []).append(Variant(tag=spelling, count=n, via="rule"))
    for t, h in sorted(head.items()):
        if t != h and h not in dropped:
            via.setdefault(h, []).append(Variant(tag=t, count=_count(per_instruction, t),
                                                 via="synonym"))
    for t, h in sorted(joined.items()):
        if t != h:
            via.setdefault(h, []).append(Variant(tag=t, count=_count(merged, t), via="association"))
    tags = [OntologyTag(tag=t, count=n, variants=_variants_of(t, head, joined, via))
            for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return Ontology(tags=tags, assigned=final, dropped=dict(sorted(dropped.items())),
                    raw_tags=sum(len(t) for t in raw))


def _count(instructions: list[set[str]], tag: str) -> int:
    return sum(tag in tags for tags in instructions)


def _variants_of(tag: str, head: Mapping[str, str], joined: Mapping[str, str],
                 via: Mapping[str, list[Variant]]) -> list[Variant]:
    """Every spelling folded into ``tag``, through whichever steps it took."""
    members = {tag} | {t for t, h in joined.items() if h == tag}
    members |= {t for t, h in head.items() if h in members}
    return [v for m in sorted(members) for v in via.get(m, [])]


def _merge_synonyms(counts: Counter[str], similarity: float, embedder: Embedder | None
                    ) -> dict[str, str]:
    order = sorted(counts, key=lambda t: (-counts[t], t))
    if similarity <= 0 or len(order) < 2:
        return {t: t for t in order}
    if embedder is None:
        raise ValueError("merging synonyms by similarity needs an embedder")
    vectors = embedder.encode(order)
    head: dict[str, str] = {}
    heads: list[int] = []
    for i, t in enumerate(order):
        if heads:
            sims = vectors[heads] @ vectors[i]
            best = int(np.argmax(sims))
            if sims[best] >= similarity:
                head[t] = order[heads[best]]
                continue
        heads.append(i)
        head[t] = t
    return head


def _associate(instructions: list[set[str]], share: float, support: int) -> dict[str, str]:
    """Tags folded into a more frequent one they (almost) always come with."""
    counts = Counter(t for tags in instructions for t in tags)
    together: Counter[tuple[str, str]] = Counter()
    for tags in instructions:
        together.update(combinations(sorted(tags), 2))
    rank = {t: (-n, t) for t, n in counts.items()}
    joined = {t: t for t in counts}
    for (a, b), n in sorted(together.items()):
        if n < support or n < share * counts[a] or n < share * counts[b]:
            continue
        keep, fold = sorted((a, b), key=rank.__getitem__)
        keep, fold = _root(joined, keep), _root(joined, fold)
        if keep != fold:
            keep, fold = sorted((keep, fold), key=rank.__getitem__)
            joined[fold] = keep
    return {t: _root(joined, t) for t in joined}


def _root(joined: dict[str, str], tag: str) -> str:
    while joined[tag] != tag:
        tag = joined[tag]
    return tag
