"""``scripted://autoif``: a stand-in that answers AutoIF's three asks the same way every time,
so a job through real workers and the real sandbox has a known outcome.

It writes one word-limit instruction per query, then verification functions (four honest ones
and one that always says True, which the cross-validation must drop) with test cases of both
kinds, then short responses that follow the instruction and long ones that do not. A query
containing ``GARBAGE`` gets functions that answer ``1`` instead of a bool, which must all be
dropped.
"""

from __future__ import annotations

import json

from factory.llm.base import SamplingParams

INSTRUCTION = "Answer in fewer than 10 words."
FUNCTIONS = [
    "def evaluate(response):\n    return len(response.split()) < 10\n",
    "def evaluate(response):\n    return len(response.split()) <= 9\n",
    "def evaluate(response):\n    words = response.split()\n    return len(words) < 10\n",
    "import re\ndef evaluate(response):\n    return len(re.findall(r'\\S+', response)) < 10\n",
    "def evaluate(response):\n    return True\n",
]
CASES = [[{"response": "Short.", "expected": True},
          {"response": "far " * 20, "expected": False}],
         [{"response": "Also quite short.", "expected": True},
          {"response": "long " * 12, "expected": False}]]
SHORT = "A walk by the river, then home."
LONG = "We walk along the river for a long time and then we come back home for tea."


def verifier_text(i: int, broken: bool = False) -> str:
    if broken:
        return json.dumps({"function": "def evaluate(response):\n    return 1\n",
                           "cases": CASES[0]})
    return json.dumps({"function": FUNCTIONS[i % len(FUNCTIONS)], "cases": CASES[i % 2]})


def autoif(messages: list[dict[str, str]], params: SamplingParams, index: int) -> str:
    content = messages[-1]["content"]
    broken = "GARBAGE" in content
    if '{"instruction":' in content:
        return json.dumps({"instruction": "GARBAGE in." if broken else INSTRUCTION})
    if '{"function":' in content:
        return verifier_text(index, broken)
    return (SHORT, LONG)[index % 2] + (" again" * (index // 2))
