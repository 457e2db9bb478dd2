"""Build the tiny Qwen2-architecture demo model: tokenizer, training, save, round-trip check.

Runs in the vLLM environment (torch + transformers). The model answers arithmetic problems
rendered with the math strategy's own prompt template, ending in ``\\boxed{N}``. Cached: a
model directory whose recipe hash matches is left alone.

Usage: python scripts/build_tiny_model.py OUT_DIR [--steps N] [--seed S]

``--seed`` changes the weights' initialisation and the training data's order. The tests must
pass whatever the seed (a fresh machine trains its own model, which differs anyway), so CI can be
run on models from several seeds: ``FACTORY_MODEL_SEED=3 FACTORY_MODEL_DIR=... scripts/test.sh``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers  # noqa: E402
from transformers import (  # noqa: E402
    AutoTokenizer,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from factory.arithmetic import held_out, problems  # noqa: E402
from factory.prompts import render  # noqa: E402

TEMPLATE = "math/solve_v1"
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>' + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
HELD_OUT = 400


def recipe_hash(args: argparse.Namespace) -> str:
    parts = [Path(__file__).read_bytes(), (ROOT / "factory/arithmetic.py").read_bytes(),
             (ROOT / f"factory/templates/{TEMPLATE}.j2").read_bytes(), str(vars(args)).encode()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def chat(question: str, answer: str | None = None) -> list[dict[str, str]]:
    msgs = [{"role": "user", "content": render(TEMPLATE, problem=question)}]
    if answer is not None:
        msgs.append({"role": "assistant", "content": answer})
    return msgs


def train_tokenizer(corpus: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE in Qwen2's own scheme, so transformers' Qwen2 loading keeps it intact."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def encode(tok, question: str, answer: str) -> tuple[list[int], int]:
    """Token ids of the whole chat and the length of its prompt part (not trained on)."""
    prompt = tok.apply_chat_template(chat(question), tokenize=False, add_generation_prompt=True)
    full = prompt + answer + "<|im_end|>"
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    f_ids = tok(full, add_special_tokens=False)["input_ids"]
    assert f_ids[: len(p_ids)] == p_ids, "prompt tokens must prefix the chat tokens"
    return f_ids, len(p_ids)


def batches(tok, exclude, batch_size: int, seed: int):
    """Padded (ids, labels) batches; tokenised a chunk at a time in Rust, not per example."""
    stream = problems(seed, exclude)
    pad = tok.pad_token_id
    while True:
        chunk = list(islice(stream, batch_size * 50))
        prompts = [tok.apply_chat_template(chat(p.question), tokenize=False,
                                           add_generation_prompt=True) for p in chunk]
        fulls = [q + p.solution + "<|im_end|>" for q, p in zip(prompts, chunk, strict=True)]
        p_ids = tok(prompts, add_special_tokens=False)["input_ids"]
        f_ids = tok(fulls, add_special_tokens=False)["input_ids"]
        for start in range(0, len(chunk), batch_size):
            rows = list(zip(f_ids[start : start + batch_size], p_ids[start : start + batch_size],
                            strict=True))
            width = max(len(f) for f, _ in rows)
            ids = torch.full((len(rows), width), pad)
            labels = torch.full((len(rows), width), -100)
            for i, (full, prompt) in enumerate(rows):
                ids[i, : len(full)] = torch.tensor(full)
                labels[i, len(prompt) : len(full)] = torch.tensor(full[len(prompt) :])
            yield ids, labels


def evaluate(model, tok, held: list, temperature: float = 0.7) -> float:
    model.eval()
    tok.padding_side = "left"
    correct = 0
    with torch.no_grad():
        for i in range(0, len(held), 100):
            chunk = held[i : i + 100]
            prompts = [tok.apply_chat_template(chat(p.question), tokenize=False,
                                               add_generation_prompt=True) for p in chunk]
            enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            out = model.generate(**enc, do_sample=True, temperature=temperature, max_new_tokens=40,
                                 pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
            texts = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            correct += sum(f"\\boxed{{{p.answer}}}" in t for p, t in zip(chunk, texts, strict=True))
    model.train()
    return correct / len(held)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--vocab-size", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0, help="initialisation and data order")
    args = ap.parse_args()
    digest = recipe_hash(args)
    stamp = args.out / "recipe.sha"
    if stamp.exists() and stamp.read_text().strip() == digest:
        print(f"tiny model up to date in {args.out} (recipe {digest})")
        return

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(2)
    held = held_out(HELD_OUT)
    exclude = frozenset(p for p in held if p.digits > 1)
    sample = list(islice(problems(1 + 1000 * args.seed, exclude), 3000))
    corpus = [render(TEMPLATE, problem=p.question) + "\n" + p.solution for p in sample]
    tok = train_tokenizer(corpus, args.vocab_size)
    args.out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(args.out)
    loaded = AutoTokenizer.from_pretrained(args.out)
    for p in sample[:200]:
        a, b = encode(tok, p.question, p.solution), encode(loaded, p.question, p.solution)
        if a != b:
            raise SystemExit(f"tokenizer round trip changed ids for {p.question!r}: {a} != {b}")
    tok = loaded

    config = Qwen2Config(
        vocab_size=len(tok), hidden_size=128, intermediate_size=384, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=64, max_position_embeddings=4096,
        rope_theta=10000.0, tie_word_embeddings=True, eos_token_id=tok.eos_token_id,
        bos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, torch_dtype="float32",
    )
    model = Qwen2ForCausalLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = 100

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, args.steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    start = time.time()
    data = batches(tok, exclude, args.batch_size, seed=2 + 1000 * args.seed)
    for step in range(args.steps):
        ids, labels = next(data)
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        if step % 250 == 0 or step == args.steps - 1:
            print(f"step {step:5d} loss {loss.item():.4f} {time.time() - start:6.1f}s", flush=True)
    acc = evaluate(model, tok, held)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(args.out, safe_serialization=True)
    info = {"recipe": digest, "train_seconds": round(time.time() - start, 1),
            "held_out_accuracy_t0.7_hf": acc, "steps": args.steps, "seed": args.seed,
            "params": model.num_parameters()}
    (args.out / "build_info.json").write_text(json.dumps(info, indent=2))
    stamp.write_text(digest)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
