"""Build the tiny reward model: a Qwen2 scalar head that scores right arithmetic answers above
wrong ones.

Runs in the vLLM environment (torch + transformers), after the tiny generator is built: the
reward model has the generator's architecture (Qwen2ForSequenceClassification, one label) and
tokenizer, starts from its weights, and has two more decoder layers on top (added as
identities): the generator's two layers work out the sum, the new ones compare it with the
answer read. It is trained on pairs - a problem rendered with the math strategy's template,
its worked answer ending in ``\\boxed{N}`` (the generator's own words) against the same answer
with a wrong N: half of them slips (off by one, by ten, the other operation, reversed digits),
half near misses, the generator's own kind of mistake (a few units off, one digit changed, a
carry dropped, two digits swapped; factory.arithmetic_pairs) - with the pairwise
(Bradley-Terry) loss, a small pointwise term that anchors the scale (a score above 0 means
"probably right") and the generator's own LM loss on the right answers, read after its layers,
so they keep their sums.
No problem the bench or the tests score is trained on: every one of the first HELD_OUT
held-out problems (factory.arithmetic.held_out: the bundled seeds are its first 200) is skipped,
one-digit ones included. Its pairwise accuracy on held-out pairs, slips and near misses
(overall and by operand size), is written to build_info.json beside the weights. Training on
near misses alone (several a problem), with the generator's layers frozen, with the
generator's own likelihood as a target, or with a previous-token head built in did not do
better on the demo's samples within this CPU budget (bench/RESULTS.md). Cached: a model
directory whose recipe hash matches (this script, the arithmetic, the template, the knobs and
the generator's recipe) is left alone.

The text scored is the whole chat as the tokenizer's chat template renders it (user prompt,
assistant response, no generation prompt), which is what vLLM's ``/classify`` renders from the
same messages; the score is read at the last token, as vLLM's pooling runner reads it.

Usage: python scripts/build_tiny_reward_model.py GENERATOR_DIR OUT_DIR [--steps N] [--seed S]
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
from transformers import AutoConfig, AutoTokenizer, Qwen2ForSequenceClassification  # noqa: E402

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


def recipe_args(args: argparse.Namespace) -> bytes:
    """The knobs that change the weights (not where they are read from or written to)."""
    return str({k: v for k, v in vars(args).items() if k not in ("generator", "out")}).encode()


def recipe_hash(args: argparse.Namespace, generator: Path) -> str:
    parts = [Path(__file__).read_bytes(), (ROOT / "factory/arithmetic.py").read_bytes(),
             (ROOT / "factory/arithmetic_pairs.py").read_bytes(),
             (ROOT / f"factory/templates/{TEMPLATE}.j2").read_bytes(), recipe_args(args),
             (generator / "recipe.sha").read_bytes()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def chat_text(tok, p: Problem, answer: str | None) -> str:
    """The chat as vLLM renders it for /classify; without an answer, the prompt part."""
    msgs = [{"role": "user", "content": render(TEMPLATE, problem=p.question)}]
    if answer is None:
        return tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    msgs.append({"role": "assistant", "content": answer})
    return tok.apply_chat_template(msgs, tokenize=False)


def pair_texts(tok, pairs: list[tuple[Problem, int]]) -> tuple[list[str], list[str]]:
    good = [chat_text(tok, p, p.solution) for p, _ in pairs]
    bad = [chat_text(tok, p, worked(p, wrong)) for p, wrong in pairs]
    return good, bad


def pad(tok, texts: list[str]) -> dict[str, torch.Tensor]:
    return tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)


def scores(model, tok, texts: list[str]) -> torch.Tensor:
    return model(**pad(tok, texts)).logits.squeeze(-1)


def evaluate(model, tok, pairs: list[tuple[Problem, int]], prefix: str = "pairwise_accuracy"
             ) -> dict[str, float]:
    """Pairwise accuracy (right scored above wrong) on held-out pairs, overall and by size,
    and how often each answer's score is on the right side of 0."""
    model.eval()
    wins: dict[str, list[bool]] = defaultdict(list)
    sign = []
    with torch.no_grad():
        for i in range(0, len(pairs), 100):
            chunk = pairs[i : i + 100]
            good, bad = pair_texts(tok, chunk)
            s = scores(model, tok, good + bad)
            g, b = s[: len(chunk)], s[len(chunk) :]
            for (p, _), sg, sb in zip(chunk, g.tolist(), b.tolist(), strict=True):
                wins["all"].append(sg > sb)
                wins[f"{p.digits}_digit"].append(sg > sb)
                sign += [sg > 0, sb < 0]
    model.train()
    out = {f"{prefix}_{k}" if k != "all" else prefix:
           round(sum(v) / len(v), 4) for k, v in sorted(wins.items())}
    if prefix == "pairwise_accuracy":
        out["sign_accuracy"] = round(sum(sign) / len(sign), 4)
    return out


def reward_model(generator: Path, tok, extra_layers: int) -> Qwen2ForSequenceClassification:
    """The generator's Qwen2 with a one-label score head and ``extra_layers`` more decoder
    layers on top, added as identities (their output projections zero) for the comparison
    the generator never had to make: is the answer it reads the one it would have written."""
    config = AutoConfig.from_pretrained(generator)
    depth = config.num_hidden_layers
    config.num_hidden_layers = depth + extra_layers
    config.layer_types = ["full_attention"] * config.num_hidden_layers
    config.num_labels = 1
    config.pad_token_id = tok.pad_token_id
    config.id2label, config.label2id = {0: "reward"}, {"reward": 0}
    model = Qwen2ForSequenceClassification(config)
    base = Qwen2ForSequenceClassification.from_pretrained(generator, num_labels=1,
                                                           pad_token_id=tok.pad_token_id)
    missing = model.load_state_dict(base.state_dict(), strict=False).missing_keys
    assert all(k.startswith("model.layers.") and int(k.split(".")[2]) >= depth
               for k in missing if k != "score.weight"), missing
    with torch.no_grad():
        for layer in model.model.layers[depth:]:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
    return model


def lm_loss(model, hidden: torch.Tensor, enc, starts: list[int]) -> torch.Tensor:
    """Next-token loss on the answers of the first ``len(starts)`` sequences (the right
    ones; ``starts``: where each answer begins), read from the generator's layers through the
    tied embeddings, as the generator was trained."""
    rows = len(starts)
    h = model.model.norm(hidden[:rows, :-1])
    logits = h @ model.model.embed_tokens.weight.T
    target = enc["input_ids"][:rows, 1:].masked_fill(enc["attention_mask"][:rows, 1:] == 0, -100)
    for i, start in enumerate(starts):
        target[i, : start - 1] = -100
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                           ignore_index=-100)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("generator", type=Path, help="the tiny generator's model dir")
    ap.add_argument("out", type=Path)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=16, help="problems per step")
    ap.add_argument("--negatives", type=int, default=1, help="wrong answers per problem")
    ap.add_argument("--near-miss", type=float, default=0.5, help="share of wrong answers "
                    "that are near misses (the rest: slips)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--pointwise", type=float, default=0.1, help="weight of the 0-anchor term")
    ap.add_argument("--seed", type=int, default=0, help="head initialisation and data order")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lm-weight", type=float, default=0.5, help="weight of the LM loss that "
                    "keeps the generator's layers' arithmetic")
    ap.add_argument("--extra-layers", type=int, default=2, help="decoder layers added on top")
    args = ap.parse_args()
    if not (args.generator / "recipe.sha").exists():
        raise SystemExit(f"no tiny generator in {args.generator}; build it first")
    digest = recipe_hash(args, args.generator)
    stamp = args.out / "recipe.sha"
    if stamp.exists() and stamp.read_text().strip() == digest:
        print(f"tiny reward model up to date in {args.out} (recipe {digest})")
        return

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(args.generator)
    tok.padding_side = "right"  # the head reads the last non-pad token
    model = reward_model(args.generator, tok, args.extra_layers)
    depth = model.config.num_hidden_layers - args.extra_layers
    held, near = held_out_pairs(HELD_OUT), held_out_near_misses(HELD_OUT)
    exclude = frozenset(held_out(HELD_OUT))  # every problem the bench and the tests score
    before = evaluate(model, tok, held) | evaluate(model, tok, near, NEAR)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = min(50, args.steps // 4)
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [
        torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / max(1, warm), total_iters=warm),
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, args.steps - warm)),
    ], milestones=[warm])
    stream = problems(3 + 1000 * args.seed, exclude)
    start = time.time()
    for step in range(args.steps):
        chunk = list(islice(stream, args.batch_size))
        good = [chat_text(tok, p, p.solution) for p in chunk]
        bad = [chat_text(tok, p, worked(p, near_miss(p, rng) if rng.random() < args.near_miss
                                        else slip(p, rng)))
               for p in chunk for _ in range(args.negatives)]
        enc = pad(tok, good + bad)
        out = model(**enc, output_hidden_states=bool(args.lm_weight))
        s = out.logits.squeeze(-1)
        g, b = s[: len(chunk)], s[len(chunk) :].view(len(chunk), args.negatives)
        loss = -F.logsigmoid(g[:, None] - b).mean()
        if args.lm_weight:  # the generator's layers keep doing sums: its LM loss, right answers
            starts = [len(ids) for ids in tok([chat_text(tok, p, None) for p in chunk],
                                              add_special_tokens=False)["input_ids"]]
            loss = loss + args.lm_weight * lm_loss(model, out.hidden_states[depth], enc, starts)
        if args.pointwise:
            loss = loss + args.pointwise * (-F.logsigmoid(g).mean() - F.logsigmoid(-b).mean())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == args.steps - 1:
            acc = (g[:, None] > b).float().mean().item()
            print(f"step {step:5d} loss {loss.item():.4f} batch pairwise {acc:.2f} "
                  f"{time.time() - start:6.1f}s", flush=True)
    train_s = time.time() - start
    after = evaluate(model, tok, held) | evaluate(model, tok, near, NEAR)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tok.save_pretrained(args.out)
    info = {"recipe": digest, "train_seconds": round(train_s, 1), "steps": args.steps,
            "seed": args.seed, "params": model.num_parameters(),
            "initialised_from": str(args.generator), "held_out_pairs": len(held),
            **after, "pairwise_accuracy_before_training": before["pairwise_accuracy"],
            f"{NEAR}_before_training": before[NEAR]}
    (args.out / "build_info.json").write_text(json.dumps(info, indent=2))
    stamp.write_text(digest)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
