"""punctuation: no_comma."""

from __future__ import annotations

from verifiers.ifeval.registry import register


@register("punctuation:no_comma",
          describe=lambda: "In your entire response, refrain from the use of any commas.")
def no_comma(response: str) -> bool:
    return "," not in response
