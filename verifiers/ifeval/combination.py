"""combination: two_responses (separated by ******), repeat_prompt (the request first, word for
word)."""

from __future__ import annotations

from verifiers.ifeval.registry import register


@register("combination:two_responses",
          describe=lambda: "Give two different responses. Responses and only responses should "
                           "be separated by 6 asterisk symbols: ******.")
def two_responses(response: str) -> bool:
    valid = []
    parts = response.split("******")
    for i, part in enumerate(parts):
        if not part.strip():
            if i not in (0, len(parts) - 1):
                return False
        else:
            valid.append(part)
    return len(valid) == 2 and valid[0].strip() != valid[1].strip()


@register("combination:repeat_prompt", ("prompt_to_repeat",),
          describe=lambda prompt_to_repeat: "First repeat the request word for word without "
                                            "change, then give your answer (1. do not say any "
                                            "words or characters before repeating the request; "
                                            "2. the request you need to repeat does not include "
                                            "this sentence)",
          sample=lambda rng, prompt: {"prompt_to_repeat": prompt})
def repeat_prompt(response: str, prompt_to_repeat: str) -> bool:
    return response.strip().lower().startswith(str(prompt_to_repeat).strip().lower())
