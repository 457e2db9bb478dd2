"""language: response_language (langdetect's verdict, as IFEval; undetectable text passes)."""

from __future__ import annotations

from verifiers.ifeval import text
from verifiers.ifeval.registry import Kwargs, register

# IFEval's languages (ISO 639-1 code -> name)
LANGUAGES = {
    "en": "English", "es": "Spanish", "pt": "Portuguese", "ar": "Arabic", "hi": "Hindi",
    "fr": "French", "ru": "Russian", "de": "German", "ja": "Japanese", "it": "Italian",
    "bn": "Bengali", "uk": "Ukrainian", "th": "Thai", "ur": "Urdu", "ta": "Tamil", "te": "Telugu",
    "bg": "Bulgarian", "ko": "Korean", "pl": "Polish", "he": "Hebrew", "fa": "Persian",
    "vi": "Vietnamese", "ne": "Nepali", "sw": "Swahili", "kn": "Kannada", "mr": "Marathi",
    "gu": "Gujarati", "pa": "Punjabi", "ml": "Malayalam", "fi": "Finnish",
}


def _norm(kw: Kwargs) -> Kwargs:
    if kw["language"] not in LANGUAGES:
        raise ValueError(f"language must be one of IFEval's codes, not {kw['language']!r}")
    return kw


@register("language:response_language", ("language",), normalize=_norm,
          describe=lambda language: f"Your ENTIRE response should be in "
                                    f"{LANGUAGES[language]} language, no other language is "
                                    "allowed.",
          sample=lambda rng, prompt: {"language": rng.choice(sorted(LANGUAGES))})
def response_language(response: str, language: str) -> bool:
    found = text.language(response)
    return found is None or found == language

