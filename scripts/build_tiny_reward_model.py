"""Build the tiny reward model: a Qwen2 scalar head that scores right arithmetic answers above
wrong ones.

Runs in the vLLM environment (torch + transformers), after the tiny generator is built. The
reward model is a Qwen2ForSequenceClassification (one label) with the generator's tokenizer;
its weights are built from the generator's (scripts/tiny_reward_circuit.py): the generator's
layers, unchanged, then three layers that add up, over the reply's tokens, how far each token
written falls below the tokens the generator itself would have written there (a token no
worked answer uses costs a fixed amount). That raw score
is then given a scale and an offset trained on pairs - a problem rendered with the math
strategy's template, its worked answer ending in ``\\boxed{N}`` (the generator's own words)
against the same answer with a wrong N: half slips (off by one, by ten, the other operation,
reversed digits), half near misses, the generator's kind of mistake (factory.arithmetic_pairs)
- with the pairwise (Bradley-Terry) loss and a small pointwise term, so that a score above 0
means "probably right". Classifiers trained end to end on the same pairs within CI's CPU budget
ranked the demo's samples at chance (bench/RESULTS.md); this one ranks them as the generator's
own likelihood does.

No problem the bench or the tests score is used: every one of the first HELD_OUT held-out
problems (factory.arithmetic.held_out: the bundled seeds are its first 200) is skipped. Its
pairwise accuracy on held-out pairs, slips and near misses (overall and by operand size), is
written to build_info.json beside the weights. Cached: a model directory whose recipe hash
matches (these scripts, the arithmetic, the template, the knobs and the generator's recipe) is
left alone.

The text scored is the whole chat as the tokenizer's chat template renders it (user prompt,
assistant response, no generation prompt), which is what vLLM's ``/classify`` renders from the
same messages; the score is read at the last token, as vLLM's pooling runner reads it.

Usage: python scripts/build_tiny_reward_model.py GENERATOR_DIR OUT_DIR [--seed S]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections import defaultdict
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from tiny_reward_circuit import build, reference  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

from factory.arithmetic import Problem, held_out, problems  # noqa: E402
from factory.arithmetic_pairs import (  # noqa: E402
    held_out_near_misses,
    held_out_pairs,
    near_miss,
    slip,
    worked,
)
from factory.prompts import render  # noqa: E402

TEMPLATE = "math/solve_v1"
HELD_OUT = 400
NEAR = "near_miss_pairwise_accuracy"
MAX_ERROR = 0.1  # raw score units (a digit one logit below the generator's pick costs ~1)


def recipe_hash(args: argparse.Namespace, generator: Path) -> str:
    knobs = str({k: v for k, v in vars(args).items() if k not in ("generator", "out")})
    parts = [Path(__file__).read_bytes(), (ROOT / "scripts/tiny_reward_circuit.py").read_bytes(),
             (ROOT / "factory/arithmetic.py").read_bytes(),
             (ROOT / "factory/arithmetic_pairs.py").read_bytes(),
             (ROOT / f"factory/templates/{TEMPLATE}.j2").read_bytes(), knobs.encode(),
             (generator / "recipe.sha").read_bytes()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def chat_text(tok, p: Problem, answer: str) -> str:
    """The chat as vLLM renders it for /classify."""
    msgs = [{"role": "user", "content": render(TEMPLATE, problem=p.question)},
            {"role": "assistant", "content": answer}]
    return tok.apply_chat_template(msgs, tokenize=False)


def scores(model, tok, pairs: list[tuple[Problem, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """The right and the wrong answer's scores of each pair."""
    good, bad = [], []
    with torch.no_grad():
        for i in range(0, len(pairs), 100):
            chunk = pairs[i : i + 100]
            texts = [chat_text(tok, p, p.solution) for p, _ in chunk]
            texts += [chat_text(tok, p, worked(p, wrong)) for p, wrong in chunk]
            enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            s = model(**enc).logits.squeeze(-1)
            good.append(s[: len(chunk)])
            bad.append(s[len(chunk) :])
    return torch.cat(good), torch.cat(bad)


def evaluate(model, tok, pairs: list[tuple[Problem, int]], prefix: str = "pairwise_accuracy"
             ) -> dict[str, float]:
    """Pairwise accuracy (right scored above wrong) on held-out pairs, overall and by size,
    and how often each answer's score is on the right side of 0."""
    good, bad = scores(model, tok, pairs)
    wins: dict[str, list[bool]] = defaultdict(list)
    for (p, _), won in zip(pairs, (good > bad).tolist(), strict=True):
        wins["all"].append(won)
        wins[f"{p.digits}_digit"].append(won)
    out = {f"{prefix}_{k}" if k != "all" else prefix:
           round(sum(v) / len(v), 4) for k, v in sorted(wins.items())}
    if prefix == "pairwise_accuracy":
        out["sign_accuracy"] = round(((good > 0).float().mean().item()
                                      + (bad < 0).float().mean().item()) / 2, 4)
    return out


def calibrate(model, tok, pairs: list[tuple[Problem, int]]) -> dict[str, float]:
    """Train the score's scale and offset on pairs: pairwise loss plus a small pointwise term
    that puts right answers above 0 and wrong ones below. The offset rides on the constant
    coordinate the circuit keeps (it reads as sqrt(hidden_size) at the last layer)."""
    good, bad = scores(model, tok, pairs)
    scale = torch.ones(1, requires_grad=True)
    offset = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([scale, offset], max_iter=100)

    def loss() -> torch.Tensor:
        opt.zero_grad()
        g, b = scale * good + offset, scale * bad + offset
        value = (-F.logsigmoid(g - b).mean()
                 + 0.1 * (-F.logsigmoid(g).mean() - F.logsigmoid(-b).mean()))
        value.backward()
        return value

    opt.step(loss)
    return {"scale": scale.item(), "offset": offset.item()}


def tracked_tokens(tok, pairs: list[tuple[Problem, int]]) -> list[int]:
    """Every token of these pairs' replies, right and wrong, up to <|im_end|>: what the
    reward model compares (any other token in a reply costs it a fixed amount)."""
    seen: set[int] = set()
    for p, wrong in pairs:
        prompt = tok.apply_chat_template(
            [{"role": "user", "content": render(TEMPLATE, problem=p.question)}],
            tokenize=False, add_generation_prompt=True)
        start = len(tok(prompt, add_special_tokens=False)["input_ids"])
        for answer in (p.solution, worked(p, wrong)):
            ids = tok(chat_text(tok, p, answer), add_special_tokens=False)["input_ids"]
            seen.update(ids[start:-1])  # the newline after <|im_end|> is the template's
    return sorted(seen)


def circuit_error(model, tok, generator: Path, tracked: list[int],
                  pairs: list[tuple[Problem, int]]) -> float:
    """The built model's raw score against the same sum computed from the generator's logits:
    the check that the hand-set weights do what tiny_reward_circuit.py says."""
    texts = [chat_text(tok, p, answer) for p, wrong in pairs for answer in (p.solution,
                                                                            worked(p, wrong))]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        raw = model(**enc).logits.squeeze(-1)
    return (raw - reference(generator, tok, tracked, texts)).abs().max().item()


def training_pairs(count: int, seed: int, near_share: float) -> list[tuple[Problem, int]]:
    rng = random.Random(seed)
    exclude = frozenset(held_out(HELD_OUT))  # every problem the bench and the tests score
    return [(p, near_miss(p, rng) if rng.random() < near_share else slip(p, rng))
            for p in islice(problems(3 + 1000 * seed, exclude), count)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("generator", type=Path, help="the tiny generator's model dir")
    ap.add_argument("out", type=Path)
    ap.add_argument("--pairs", type=int, default=800, help="pairs the scale and offset are "
                    "trained on")
    ap.add_argument("--near-miss", type=float, default=0.5, help="share of wrong answers "
                    "that are near misses (the rest: slips)")
    ap.add_argument("--seed", type=int, default=0, help="which training pairs")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if not (args.generator / "recipe.sha").exists():
        raise SystemExit(f"no tiny generator in {args.generator}; build it first")
    digest = recipe_hash(args, args.generator)
    stamp = args.out / "recipe.sha"
    if stamp.exists() and stamp.read_text().strip() == digest:
        print(f"tiny reward model up to date in {args.out} (recipe {digest})")
        return

    torch.set_num_threads(args.threads)
    start = time.time()
    tok = AutoTokenizer.from_pretrained(args.generator)
    tok.padding_side = "right"  # the head reads the last non-pad token
    pairs = training_pairs(args.pairs, args.seed, args.near_miss)
    tracked = tracked_tokens(tok, pairs)
    model, at = build(args.generator, tok, tracked)
    error = circuit_error(model, tok, args.generator, tracked, held_out_pairs(HELD_OUT)[:100])
    if error > MAX_ERROR:
        raise SystemExit(f"the built reward model's raw score is {error:.3f} off the "
                         f"generator's own digit comparison (more than {MAX_ERROR})")
    fit = calibrate(model, tok, pairs)
    with torch.no_grad():
        model.score.weight[0, at.total] *= fit["scale"]
        model.score.weight[0, at.big] = fit["offset"] / model.config.hidden_size ** 0.5
    build_s = time.time() - start
    info = {"recipe": digest, "build_seconds": round(build_s, 1), "seed": args.seed,
            "params": model.num_parameters(), "initialised_from": str(args.generator),
            "held_out_pairs": HELD_OUT, "circuit_max_error": round(error, 4),
            "tracked_tokens": tok.convert_ids_to_tokens(tracked), **fit,
            **evaluate(model, tok, held_out_pairs(HELD_OUT)),
            **evaluate(model, tok, held_out_near_misses(HELD_OUT), NEAR)}
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tok.save_pretrained(args.out)
    (args.out / "build_info.json").write_text(json.dumps(info, indent=2))
    stamp.write_text(digest)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
