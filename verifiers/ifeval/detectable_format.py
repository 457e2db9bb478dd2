"""detectable_format: number_bullet_lists, constrained_response, number_highlighted_sections,
multiple_sections, json_format, title."""

from __future__ import annotations

import json
import re

from verifiers.ifeval.registry import Kwargs, need_int, register, register_count

CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


@register_count("detectable_format:number_bullet_lists", "num_bullets",
                "Your answer must contain exactly {num_bullets} bullet points. Use the markdown "
                "bullet points such as:\n* This is point 1. \n* This is point 2", 2, 5)
def number_bullet_lists(response: str, num_bullets: int) -> bool:
    stars = re.findall(r"^\s*\*[^\*].*$", response, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", response, flags=re.MULTILINE)
    return len(stars) + len(dashes) == num_bullets


@register("detectable_format:constrained_response",
          describe=lambda: "Answer with one of the following options: "
                           + str(CONSTRAINED_OPTIONS))
def constrained_response(response: str) -> bool:
    response = response.strip()
    return any(option in response for option in CONSTRAINED_OPTIONS)


@register_count("detectable_format:number_highlighted_sections", "num_highlights",
                "Highlight at least {num_highlights} sections in your answer with markdown, "
                "i.e. *highlighted section*.", 1, 3)
def number_highlighted_sections(response: str, num_highlights: int) -> bool:
    # IFEval's current rule: *one* and **two** asterisks both count (a **bold** span counts
    # twice, as there)
    single = [h for h in re.findall(r"\*[^\n\*]*\*", response) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", response)
              if h.removeprefix("**").removesuffix("**").strip()]
    return len(single) + len(double) >= num_highlights


def _sections_norm(kw: Kwargs) -> Kwargs:
    need_int(kw, "num_sections")
    return {**kw, "section_spliter": str(kw["section_spliter"]).strip()}


@register("detectable_format:multiple_sections", ("section_spliter", "num_sections"),
          normalize=_sections_norm,
          describe=lambda section_spliter, num_sections:
          f"Your response must have {num_sections} sections. Mark the beginning of each "
          f"section with {section_spliter} X, such as:\n{section_spliter} 1\n"
          f"[content of section 1]\n{section_spliter} 2\n[content of section 2]",
          sample=lambda rng, prompt: {"section_spliter": rng.choice(("Section", "SECTION")),
                                      "num_sections": rng.randint(2, 4)})
def multiple_sections(response: str, section_spliter: str, num_sections: int) -> bool:
    try:
        splitter = re.compile(r"\s?" + section_spliter + r"\s?\d+\s?")
    except re.error:
        splitter = re.compile(r"\s?" + re.escape(section_spliter) + r"\s?\d+\s?")
    return len(splitter.split(response)) - 1 >= num_sections


@register("detectable_format:json_format",
          describe=lambda: "Entire output should be wrapped in JSON format. You can use "
                           "markdown ticks such as ```.")
def json_format(response: str) -> bool:
    value = (response.strip().removeprefix("```json").removeprefix("```Json")
             .removeprefix("```JSON").removeprefix("```").removesuffix("```").strip())
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


@register("detectable_format:title",
          describe=lambda: "Your answer must contain a title, wrapped in double angular "
                           "brackets, such as <<poem of joy>>.")
def title(response: str) -> bool:
    return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", response))
