"""detectable_content: number_placeholders ([like this]), postscript (P.S. / P.P.S ...)."""

from __future__ import annotations

import re

from verifiers.ifeval.registry import Kwargs, register, register_count


@register_count("detectable_content:number_placeholders", "num_placeholders",
                "The response must contain at least {num_placeholders} placeholders "
                "represented by square brackets, such as [address].", 1, 4)
def number_placeholders(response: str, num_placeholders: int) -> bool:
    return len(re.findall(r"\[.*?\]", response)) >= num_placeholders


def _postscript_norm(kw: Kwargs) -> Kwargs:
    return {"postscript_marker": str(kw["postscript_marker"]).strip()}


@register("detectable_content:postscript", ("postscript_marker",), normalize=_postscript_norm,
          describe=lambda postscript_marker: "At the end of your response, please explicitly "
                                             f"add a postscript starting with {postscript_marker}",
          sample=lambda rng, prompt: {"postscript_marker": rng.choice(("P.S.", "P.P.S"))})
def postscript(response: str, postscript_marker: str) -> bool:
    if postscript_marker == "P.P.S":
        marker = r"\s*p\.\s?p\.\s?s.*$"
    elif postscript_marker == "P.S.":
        marker = r"\s*p\.\s?s\..*$"
    else:
        marker = r"\s*" + postscript_marker.lower() + r".*$"
    try:
        found = re.findall(marker, response.lower(), flags=re.MULTILINE)
    except re.error:
        found = re.findall(r"\s*" + re.escape(postscript_marker.lower()) + r".*$",
                           response.lower(), flags=re.MULTILINE)
    return bool(found)
