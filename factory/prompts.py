"""Versioned Jinja2 prompt templates.

A template is addressed as ``<family>/<name>_v<N>``; the version travels with every prompt row so
an exported line can be reproduced with the exact wording that produced it. This module imports
only Jinja2 so that model-building scripts in the vLLM environment can render the same prompts.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATE_DIR = Path(__file__).parent / "templates"


@cache
def _env() -> Environment:
    # autoescape stays off: prompts are plain text for a model, never HTML.
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def render(template_id: str, **variables: object) -> str:
    """Render ``family/name_vN`` with ``variables``; a missing variable is an error."""
    return _env().get_template(f"{template_id}.j2").render(**variables).strip()


def template_version(template_id: str) -> str:
    """The version tag of a template id, e.g. ``math/solve_v1`` -> ``v1``."""
    return template_id.rsplit("_", 1)[-1]
