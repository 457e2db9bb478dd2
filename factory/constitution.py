"""Constitution files: the principles constitutional feedback writes for and against.

A constitution (YAML or JSON) declares the prompt categories it knows and a list of principles,
each with an id, the principle, optional guidance for following and for violating it, and the
categories it applies to (all when omitted). Every problem is reported with the file and the
principle it concerns, so a typo in a category is an error, not a principle silently unused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT = Path(__file__).parent / "data" / "constitution.yaml"


class ConstitutionError(ValueError):
    """A constitution file that cannot be used; the message names the file and the problem."""


class Principle(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    principle: str = Field(min_length=1)
    follow: str | None = None
    violate: str | None = None
    categories: list[str] | None = None

    def applies_to(self, category: str | None) -> bool:
        return category is None or self.categories is None or category in self.categories


class Constitution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "constitution"
    categories: list[str] = Field(default_factory=list)
    principles: list[Principle] = Field(min_length=1)


def load_constitution(path: str | Path | None = None) -> Constitution:
    """Read and check a constitution file (the shipped default when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ConstitutionError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConstitutionError(f"{path}: not valid YAML{where}: {problem}") from exc
    if not isinstance(raw, dict):
        raise ConstitutionError(f"{path}: expected a mapping with 'principles', "
                                f"got {type(raw).__name__}")
    return check(raw, str(path))


def check(raw: dict[str, Any], source: str) -> Constitution:
    try:
        constitution = Constitution.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"]
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == "principles" and isinstance(loc[1], int):
            entry = raw["principles"][loc[1]]
            pid = entry.get("id") if isinstance(entry, dict) else None
            where = f"principle {loc[1] + 1}" + (f" ({pid!r})" if pid else "")
            if len(loc) > 2:
                where += f", field {'.'.join(str(p) for p in loc[2:])!r}"
        raise ConstitutionError(f"{source}: {where}: {err['msg']}") from exc
    seen: dict[str, int] = {}
    known = set(constitution.categories)
    for i, p in enumerate(constitution.principles, 1):
        if p.id in seen:
            raise ConstitutionError(f"{source}: duplicate principle id {p.id!r} "
                                    f"(principles {seen[p.id]} and {i})")
        seen[p.id] = i
        for category in p.categories or []:
            if category not in known:
                raise ConstitutionError(
                    f"{source}: principle {p.id!r}: unknown category {category!r}; "
                    f"the constitution declares {sorted(known) or 'no categories'}")
    return constitution
