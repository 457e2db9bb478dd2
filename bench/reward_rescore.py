"""Re-score the samples `bench/reward_agreement.py --dump` wrote, offline, to compare reward
model recipes on the very same samples without starting vLLM.

A reward model directory is scored as vLLM's pooling runner scores it (the chat rendered by
its own template, the head read at the last token); ``--likelihood`` scores each sample by
the generator's own log-likelihood of the reply instead: the reference a reward model built
from the generator could reach. Prints best-vs-worst and pairwise agreement with the math
verifier's labels, overall and by operand size, as bench/reward_agreement.py prints them.

Runs in the vLLM environment (torch + transformers):
Usage: PYTHONPATH=. .venv-vllm/bin/python bench/reward_rescore.py DUMP MODEL_DIR [--likelihood]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from transformers import AutoTokenizer, Qwen2ForCausalLM, Qwen2ForSequenceClassification  # noqa: E402

from bench.reward_figures import Group, report  # noqa: E402

CHUNK = 200


def chats(tok, rows: list[dict]) -> tuple[list[str], list[int]]:
    """Each sample's whole chat, and how many tokens its prompt part takes."""
    full = [tok.apply_chat_template([*r["messages"], {"role": "assistant", "content": r["text"]}],
                                    tokenize=False) for r in rows]
    prompts = [tok.apply_chat_template(r["messages"], tokenize=False, add_generation_prompt=True)
               for r in rows]
    return full, [len(ids) for ids in tok(prompts, add_special_tokens=False)["input_ids"]]


def reward_scores(model_dir: Path, rows: list[dict]) -> list[float]:
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "right"  # the head reads the last non-pad token, as vLLM's LAST pooling
    model = Qwen2ForSequenceClassification.from_pretrained(model_dir).eval()
    texts, _ = chats(tok, rows)
    out: list[float] = []
    for i in range(0, len(texts), CHUNK):
        enc = tok(texts[i : i + CHUNK], return_tensors="pt", padding=True, add_special_tokens=False)
        out += model(**enc).logits.squeeze(-1).tolist()
    return out


def likelihoods(model_dir: Path, rows: list[dict]) -> list[float]:
    """The generator's log-likelihood of each reply and its end-of-turn token (not of the
    newline the chat template adds after it, which the generator never learnt)."""
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "right"
    model = Qwen2ForCausalLM.from_pretrained(model_dir).eval()
    texts, starts = chats(tok, rows)
    out: list[float] = []
    for i in range(0, len(texts), CHUNK):
        enc = tok(texts[i : i + CHUNK], return_tensors="pt", padding=True, add_special_tokens=False)
        logp = model(**enc).logits[:, :-1].log_softmax(-1)
        ll = logp.gather(-1, enc["input_ids"][:, 1:, None]).squeeze(-1)
        for j, start in enumerate(starts[i : i + CHUNK]):
            last = int(enc["attention_mask"][j].sum()) - 2  # the end-of-turn token
            out.append(ll[j, start - 1 : last].sum().item())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dump", type=Path, help="bench/reward_agreement.py --dump's file")
    ap.add_argument("model", type=Path, help="a reward model dir (or, with --likelihood, "
                    "the generator's)")
    ap.add_argument("--likelihood", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    rows = [json.loads(line) for line in args.dump.read_text().splitlines()]
    with torch.no_grad():
        scores = (likelihoods if args.likelihood else reward_scores)(args.model, rows)
    groups: dict[int, Group] = defaultdict(list)
    size: dict[int, int] = {}
    for row, score in zip(rows, scores, strict=True):
        groups[row["prompt"]].append((row["correct"], score))
        size[row["prompt"]] = row["digits"]
    report("all", list(groups.values()))
    for digits in sorted(set(size.values())):
        report(f"{digits}-digit", [g for p, g in groups.items() if size[p] == digits])


if __name__ == "__main__":
    main()
