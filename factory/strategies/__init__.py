"""Strategies, discovered by module: every Strategy subclass defined in this package (or
registered under the ``factory.strategies`` entry point group) that sets ``name`` is available
by it. Shared bases (pass_fail.PassFailStrategy, model_judge.ModelJudged) set no name, so they
are never taken for a strategy."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from importlib.metadata import entry_points

from factory.strategies.base import Strategy


@cache
def registry() -> dict[str, type[Strategy]]:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    for ep in entry_points(group="factory.strategies"):
        ep.load()
    found: dict[str, type[Strategy]] = {}
    stack = list(Strategy.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if getattr(cls, "name", None):
            found[cls.name] = cls
    return found


def get_strategy(name: str) -> type[Strategy]:
    strategies = registry()
    if name not in strategies:
        raise KeyError(f"unknown strategy {name!r}; available: {', '.join(sorted(strategies))}")
    return strategies[name]
