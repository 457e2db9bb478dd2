"""startend: end_checker (an exact closing phrase), quotation (wrapped in double quotes)."""

from __future__ import annotations

from verifiers.ifeval.registry import Kwargs, register

END_PHRASES = ("Any other questions?", "Is there anything else I can help with?",
               "Let me know if you have additional questions.")


def _end_norm(kw: Kwargs) -> Kwargs:
    return {"end_phrase": str(kw["end_phrase"]).strip()}


@register("startend:end_checker", ("end_phrase",), normalize=_end_norm,
          describe=lambda end_phrase: f"Finish your response with this exact phrase "
                                      f"{end_phrase}. No other words should follow this "
                                      "phrase.",
          sample=lambda rng, prompt: {"end_phrase": rng.choice(END_PHRASES)})
def end_checker(response: str, end_phrase: str) -> bool:
    return response.strip().strip('"').lower().endswith(end_phrase.strip().lower())


@register("startend:quotation",
          describe=lambda: "Wrap your entire response with double quotation marks.")
def quotation(response: str) -> bool:
    value = response.strip()
    return len(value) > 1 and value[0] == '"' and value[-1] == '"'
