"""IFEval's 25 instruction types as the factory's own checks (Zhou et al. 2023, the
google-research instruction_following_eval code's rules and kwargs), strict and loose.

``evaluate(response, instruction_id_list, kwargs)`` gives one boolean per instruction, strict
(the response as it is) and loose (IFEval's upper bound: also the response without its first
line, its last line or both, each with and without "*"). An empty response follows nothing.
A family of types is a module (keywords, language, length_constraints, detectable_content,
detectable_format, combination, startend, change_case, punctuation); registry holds the types
and IFEval's conflict rules; clashes the kwargs that contradict each other; augment draws
constraints for a prompt that a response can follow together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from verifiers.ifeval import (  # noqa: F401  (each module registers its types)
    change_case,
    combination,
    detectable_content,
    detectable_format,
    keywords,
    language,
    length_constraints,
    punctuation,
    startend,
)
from verifiers.ifeval.registry import REGISTRY, Constraint, compatible, conflicts, get

NAME = "ifeval"
VERSION = "1"

__all__ = ["NAME", "REGISTRY", "VERSION", "Constraint", "IfevalCheck", "compatible",
           "conflicts", "evaluate", "get", "loose_variants", "prepare"]


class IfevalCheck(BaseModel):
    strict: list[bool]
    loose: list[bool]

    @property
    def score(self) -> float:
        """Fraction of instructions followed (strict)."""
        return sum(self.strict) / len(self.strict) if self.strict else 1.0


def prepare(instruction_id_list: Sequence[str], kwargs: Sequence[dict[str, Any] | None]
            ) -> list[tuple[Constraint, dict[str, Any]]]:
    """Each instruction's type and checked kwargs; ValueError names the first bad one."""
    if isinstance(instruction_id_list, str) or not isinstance(instruction_id_list, Sequence):
        raise ValueError("instruction_id_list must be a list of instruction ids")
    if isinstance(kwargs, str) or not isinstance(kwargs, Sequence):
        raise ValueError("kwargs must be a list of objects, one per instruction")
    if len(kwargs) != len(instruction_id_list):
        raise ValueError(f"{len(instruction_id_list)} instructions but {len(kwargs)} kwargs")
    prepared = []
    for i, (iid, kw) in enumerate(zip(instruction_id_list, kwargs, strict=True)):
        if kw is not None and not isinstance(kw, dict):
            raise ValueError(f"kwargs[{i}] is not an object")
        c = get(iid)
        prepared.append((c, c.prepare(kw)))
    return prepared


def loose_variants(response: str) -> list[str]:
    """IFEval's loose forms of a response, the response itself first."""
    lines = response.split("\n")
    first = "\n".join(lines[1:]).strip()
    last = "\n".join(lines[:-1]).strip()
    both = "\n".join(lines[1:-1]).strip()
    return [response, response.replace("*", ""), first, last, both,
            first.replace("*", ""), last.replace("*", ""), both.replace("*", "")]


def _follows(c: Constraint, kw: dict[str, Any], response: str) -> bool:
    return bool(response.strip()) and bool(c.check(response, **kw))


def evaluate(response: str, instruction_id_list: Sequence[str],
             kwargs: Sequence[dict[str, Any] | None]) -> IfevalCheck:
    prepared = prepare(instruction_id_list, kwargs)
    variants = list(dict.fromkeys(loose_variants(response)))  # the same text once
    strict = [_follows(c, kw, response) for c, kw in prepared]
    loose = [ok or any(_follows(c, kw, v) for v in variants[1:])
             for ok, (c, kw) in zip(strict, prepared, strict=True)]
    return IfevalCheck(strict=strict, loose=loose)
