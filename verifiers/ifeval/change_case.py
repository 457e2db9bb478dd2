"""change_case: capital_word_frequency, english_capital, english_lowercase (the last two also
ask langdetect for English, as IFEval; undetectable text passes that half)."""

from __future__ import annotations

from verifiers.ifeval import text
from verifiers.ifeval.registry import checked, compare, register


@register("change_case:capital_word_frequency", ("capital_frequency", "capital_relation"),
          normalize=checked("capital_frequency", relation="capital_relation"),
          describe=lambda capital_frequency, capital_relation:
          "In your response, words with all capital letters should appear "
          f"{capital_relation} {capital_frequency} times.",
          sample=lambda rng, prompt: {"capital_frequency": rng.randint(2, 6),
                                      "capital_relation": rng.choice(("less than",
                                                                      "at least"))})
def capital_word_frequency(response: str, capital_frequency: int,
                           capital_relation: str) -> bool:
    capitals = sum(1 for w in text.word_tokens(response) if w.isupper())
    return compare(capitals, capital_relation, capital_frequency)


def _english(response: str) -> bool:
    found = text.language(response)
    return found is None or found == "en"


@register("change_case:english_capital",
          describe=lambda: "Your entire response should be in English, and in all capital "
                           "letters.")
def english_capital(response: str) -> bool:
    return response.isupper() and _english(response)


@register("change_case:english_lowercase",
          describe=lambda: "Your entire response should be in English, and in all lowercase "
                           "letters. No capital letters are allowed.")
def english_lowercase(response: str) -> bool:
    return response.islower() and _english(response)
