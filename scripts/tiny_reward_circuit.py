"""The tiny reward model's weights, built from the tiny generator's: a wider Qwen2 whose first
layers are the generator's, unchanged, and whose three added layers read, at every token of the
reply, how far the token written falls below the tokens the generator itself predicted there.

Why built and not learnt: the generator already knows which answers are right (its own
likelihood ranks the demo's samples at about 0.7), but a classifier trained on pairs within
CI's CPU budget never learnt to look that knowledge up (bench/RESULTS.md: eight recipes, all
at chance). The lookup is simple to write down, so it is written down:

- Tracked tokens: those of the answers it judges (digits, `` =``, ``boxed``, ``<|im_end|>``
  ...; the build lists them from worked answers). Any other token in a reply costs
  ``UNKNOWN``, so a reply cannot score well by saying nothing the generator could be wrong
  about ("I don't know.", prose, an empty reply). The role name after the reply's
  ``<|im_start|>`` costs the same in every chat (the calibrated offset absorbs it); the
  newline the template puts after ``<|im_end|>`` costs nothing.
- Width: the generator's ``H`` coordinates, then ``H`` scratch ones. The generator's layers read
  and write only their own ``H`` (their norms rescaled by sqrt(2), as a norm over 2H zeros-padded
  coordinates is sqrt(2) smaller), so their outputs are the generator's. The embedding marks
  tracked tokens and ``<|im_start|>`` in scratch coordinates with a code too small (``TAG``) to
  move the generator's norms.
- Layer A: one head attends to the previous position (a content-free query and key whose
  rotary angles agree only one position apart) and copies the generator's logits there of the
  tracked tokens, centred, and whether it was ``<|im_start|>``; a value bias writes a constant
  ``BIG`` that dominates every later norm, so the scratch coordinates read linearly. Its MLP,
  for the tracked token ``w`` written, adds up ``silu(BETA * (logit[e] - logit[w])) / BETA``
  over the other tracked tokens ``e`` (SwiGLU's product gates it by the token): a smooth sum of
  how far ``w`` falls below each token the generator preferred; an untracked token adds
  ``UNKNOWN``.
- Layer B: one head averages that flag over the ``<|im_start|>`` tokens so far - 1 in the
  prompt, 1/2 once the reply has begun - and its MLP keeps the reply's terms only.
- Layer C: one head sums those terms over the chat (the ``<|im_start|>`` tokens soak up the
  attention, so the rest carry weight ~1/(2e^SINK), undone by the output projection); the score
  head reads the sum (its scale and offset are trained afterwards, on pairs). It judges
  one-turn chats, as the math strategy's are: in a longer one, "the reply" is everything after
  the second ``<|im_start|>``, and the sum is scaled by 2 / (its ``<|im_start|>`` count).
  Chat markup typed into a reply (the tokenizer reads ``<|im_start|>`` text as the special
  token) breaks both, and lifts any reply above the right one: the reward client never sends
  such a reply (factory/llm/reward_client.py, ``unsendable``).

Coordinates, not directions, hold every scratch value, so none leaks into another.
"""

from __future__ import annotations

import math

import torch
from transformers import AutoConfig, Qwen2ForCausalLM, Qwen2ForSequenceClassification

TAG = 1e-3  # the embedding's token marks: too small to move the generator
BIG = 1e5  # the constant that dominates every added layer's norm
BETA = 4.0  # sharpness of the smooth relu (silu: a token below the written one adds <= 0.07)
UNKNOWN = 10.0  # what an untracked token in a reply costs (a wrong digit costs ~2-20)
GATE = 100.0  # sharpness of the 0/1 gates
SINK = 15.0  # attention score of the <|im_start|> sink when summing (others: 1/(2e^15))
PREV = 40.0  # how much more the previous position scores than any other


class Layout:
    """Which scratch coordinate (after the generator's ``hidden``) holds what."""

    def __init__(self, hidden: int, tracked: int) -> None:
        slots = iter(range(hidden, 2 * hidden))
        self.tag = [next(slots) for _ in range(tracked)]  # the token is tracked token i
        self.im_start, self.neutral = next(slots), next(slots)  # marks, as tags are
        self.prev_logit = [next(slots) for _ in range(tracked)]  # previous position's logits
        self.big, self.prev_im_start, self.below, self.prompt, self.reply_below, self.total = (
            next(slots) for _ in range(6))


def _widen(gen: Qwen2ForCausalLM, model: Qwen2ForSequenceClassification, marks: dict) -> None:
    """Copy the generator into the first coordinates and layers; mark the tokens."""
    h = gen.config.hidden_size
    queries = gen.config.num_attention_heads * gen.config.head_dim
    units = gen.config.intermediate_size
    rescale = math.sqrt(model.config.hidden_size / h)
    model.model.embed_tokens.weight[:, :h] = gen.model.embed_tokens.weight
    for token, slot in marks.items():
        model.model.embed_tokens.weight[token, slot] = TAG
    depth = gen.config.num_hidden_layers
    for src, dst in zip(gen.model.layers, model.model.layers[:depth], strict=True):
        dst.input_layernorm.weight[:h] = src.input_layernorm.weight / rescale
        dst.post_attention_layernorm.weight[:h] = src.post_attention_layernorm.weight / rescale
        a, b = src.self_attn, dst.self_attn
        b.q_proj.weight[:queries, :h] = a.q_proj.weight
        b.q_proj.bias[:queries] = a.q_proj.bias
        for name in ("k_proj", "v_proj"):
            getattr(b, name).weight[:, :h] = getattr(a, name).weight
            getattr(b, name).bias[:] = getattr(a, name).bias
        b.o_proj.weight[:h, :queries] = a.o_proj.weight
        for name in ("gate_proj", "up_proj"):
            getattr(dst.mlp, name).weight[:units, :h] = getattr(src.mlp, name).weight
        dst.mlp.down_proj.weight[:h, :units] = src.mlp.down_proj.weight


def _attend_to_im_start(layer, at: Layout, score: float, freqs: torch.Tensor, read: float
                        ) -> None:
    """Head 0 scores ``score`` on <|im_start|> tokens and 0 elsewhere, on the two slowest
    rotary pairs: A cos(d f1) - B cos(d f2) with A f1^2 = B f2^2 has no d^2 term, so the
    score stays ``score`` to ~1e-10 at any distance d a chat reaches (one pair alone drifts
    by 0.1% in 100 positions, which a sum of -70 turns into 0.08)."""
    head_dim = 2 * len(freqs)
    ratio = (freqs[-1].item() / freqs[-2].item()) ** 2
    big = score / (1 - ratio)
    for pair, weight in ((len(freqs) - 1, big), (len(freqs) - 2, -big * ratio)):
        layer.self_attn.q_proj.bias[pair] = weight * math.sqrt(head_dim)
        layer.self_attn.k_proj.weight[pair, at.im_start] = read / TAG


def _layer_a(layer, gen: Qwen2ForCausalLM, at: Layout, tracked: list[int], read: float,
             root: float, freqs: torch.Tensor) -> None:
    h, head_dim, n = gen.config.hidden_size, gen.config.head_dim, len(tracked)
    layer.input_layernorm.weight[:h] = gen.model.norm.weight / math.sqrt(2)
    layer.input_layernorm.weight[at.im_start] = 1.0
    # sum_i amp^2 cos(freq_i (1 - distance)) over 8 rotary pairs peaks at distance 1, and
    # beats every other distance by >= 1.07 amp^2 (before the 1/sqrt(head_dim) scaling)
    amp = math.sqrt(PREV * math.sqrt(head_dim) / 1.07)
    for i in range(8):
        layer.self_attn.q_proj.bias[i] = amp
        layer.self_attn.k_proj.bias[i] = amp * math.cos(freqs[i])
        layer.self_attn.k_proj.bias[i + head_dim // 2] = amp * math.sin(freqs[i])
    emb = gen.model.embed_tokens.weight[tracked]
    layer.self_attn.v_proj.weight[:n, :h] = emb - emb.mean(0)  # centred logits
    layer.self_attn.v_proj.bias[n] = 1.0
    layer.self_attn.v_proj.weight[n + 1, at.im_start] = 1.0
    for i, slot in enumerate(at.prev_logit):
        layer.self_attn.o_proj.weight[slot, i] = 1.0
    layer.self_attn.o_proj.weight[at.big, n] = BIG
    layer.post_attention_layernorm.weight.fill_(1.0)
    mlp, unit = layer.mlp, 0
    for w in range(n):
        for e in range(n):
            if e != w:
                mlp.gate_proj.weight[unit, at.prev_logit[e]] = BETA * read
                mlp.gate_proj.weight[unit, at.prev_logit[w]] = -BETA * read
                mlp.up_proj.weight[unit, at.tag[w]] = read / TAG
                mlp.down_proj.weight[at.below, unit] = -1.0 / BETA
                unit += 1
    # an unmarked token: gate GATE * (1/2 - marks) is GATE/2 or about -GATE/2
    mlp.gate_proj.weight[unit, at.big] = GATE / 2 / root
    for slot in (*at.tag, at.im_start, at.neutral):
        mlp.gate_proj.weight[unit, slot] = -GATE * read / TAG
    mlp.up_proj.weight[unit, at.big] = 1 / root
    mlp.down_proj.weight[at.below, unit] = -UNKNOWN / (GATE / 2)


def _layer_b(layer, at: Layout, freqs: torch.Tensor, read: float, root: float) -> None:
    layer.input_layernorm.weight.fill_(1.0)
    _attend_to_im_start(layer, at, 20.0, freqs, read)
    layer.self_attn.v_proj.weight[0, at.prev_im_start] = read
    layer.self_attn.o_proj.weight[at.prompt, 0] = 1.0
    layer.post_attention_layernorm.weight.fill_(1.0)
    hi, lo = 0.9, 0.6  # between them: the clipped step from prompt (1) to reply (1/2)
    for unit, (cut, sign) in enumerate(((hi, 1.0), (lo, -1.0))):
        layer.mlp.gate_proj.weight[unit, at.big] = GATE * cut / root
        layer.mlp.gate_proj.weight[unit, at.prompt] = -GATE * read
        layer.mlp.up_proj.weight[unit, at.below] = read
        layer.mlp.down_proj.weight[at.reply_below, unit] = sign / (GATE * (hi - lo))


def _layer_c(layer, at: Layout, freqs: torch.Tensor, read: float) -> None:
    layer.input_layernorm.weight.fill_(1.0)
    _attend_to_im_start(layer, at, SINK, freqs, read)
    layer.self_attn.v_proj.weight[0, at.reply_below] = read
    layer.self_attn.o_proj.weight[at.total, 0] = 2 * math.exp(SINK)


def _marks(tok, tracked: list[int], at: Layout) -> dict[int, int]:
    im_start = tok.convert_tokens_to_ids("<|im_start|>")
    (newline,) = tok("\n", add_special_tokens=False)["input_ids"]  # after <|im_end|>
    marks = dict(zip(tracked, at.tag, strict=True)) | {im_start: at.im_start}
    return {newline: at.neutral} | marks  # a tracked newline stays tracked


def build(generator_dir, tok, tracked: list[int]
          ) -> tuple[Qwen2ForSequenceClassification, Layout]:
    """The reward model, its score head reading the reply's summed shortfall (scale 1, offset
    0 until calibrated). ``tracked``: the tokens compared (the rest of a reply costs
    UNKNOWN each)."""
    gen = Qwen2ForCausalLM.from_pretrained(generator_dir).eval()
    gc = gen.config
    if gc.hidden_size != gc.num_attention_heads * gc.head_dim:
        raise ValueError("vLLM's Qwen2 takes head_dim = hidden_size / heads; the generator's "
                         "differ")
    if gc.num_key_value_heads != 1 or gc.head_dim < 20:
        raise ValueError("the circuit needs one key/value head (doubling the query heads keeps "
                         "their grouping only then) and 10 rotary pairs a head")
    if 2 * len(tracked) + 9 > gc.hidden_size or len(tracked) + 2 > gc.head_dim:
        raise ValueError(f"{len(tracked)} tracked tokens do not fit the scratch coordinates")
    config = AutoConfig.from_pretrained(generator_dir)
    config.hidden_size = 2 * gc.hidden_size
    config.num_attention_heads = config.hidden_size // gc.head_dim
    config.num_hidden_layers = gc.num_hidden_layers + 3
    config.intermediate_size = max(gc.intermediate_size, len(tracked) ** 2)
    config.layer_types = ["full_attention"] * config.num_hidden_layers
    config.rms_norm_eps = gc.rms_norm_eps / 2  # a mean over 2H zero-padded is half of H's
    config.num_labels, config.pad_token_id = 1, tok.pad_token_id
    config.id2label, config.label2id = {0: "reward"}, {"reward": 0}
    model = Qwen2ForSequenceClassification(config).eval()
    at = Layout(gc.hidden_size, len(tracked))
    root = math.sqrt(config.hidden_size)  # BIG / norm = root: a scratch value x reads x*root/BIG
    read = BIG / root
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        _widen(gen, model, _marks(tok, tracked, at))
        depth = gc.num_hidden_layers
        layer_a, layer_b, layer_c = model.model.layers[depth:]
        freqs = gen.model.rotary_emb.inv_freq.float()  # one per rotary pair
        _layer_a(layer_a, gen, at, tracked, read, root, freqs)
        _layer_b(layer_b, at, freqs, read, root)
        _layer_c(layer_c, at, freqs, read)
        model.model.norm.weight.fill_(1.0)
        model.score.weight[0, at.total] = read
        # <|im_start|>'s own flag, copied at position 0, is TAG / (its norm there): make it 1
        im_start = tok.convert_tokens_to_ids("<|im_start|>")
        first = model(input_ids=torch.tensor([[im_start]]), output_hidden_states=True)
        norm0 = first.hidden_states[depth][0, 0].pow(2).mean().add(config.rms_norm_eps).sqrt()
        layer_a.self_attn.o_proj.weight[at.prev_im_start, len(tracked) + 1] = norm0 / TAG
    return model, at


def reference(generator_dir, tok, tracked: list[int], texts: list[str]) -> torch.Tensor:
    """What ``build``'s raw score should be, computed straight from the generator's logits:
    over the tokens after the second <|im_start|> (the reply), minus the smooth sum of how far
    each tracked one falls below the other tracked tokens the generator scored at the position
    before, minus UNKNOWN for each unmarked one."""
    gen = Qwen2ForCausalLM.from_pretrained(generator_dir).eval()
    ids_tracked = torch.tensor(tracked)
    at = Layout(gen.config.hidden_size, len(tracked))
    marked = torch.tensor(list(_marks(tok, tracked, at)))
    im_start = tok.convert_tokens_to_ids("<|im_start|>")
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    ids = enc["input_ids"]
    with torch.no_grad():
        logits = gen(**enc).logits[:, :-1, ids_tracked]  # predicts position t + 1
    written = (ids[:, 1:, None] == ids_tracked).float()
    unknown = ~torch.isin(ids[:, 1:], marked)
    reply = ((ids == im_start).cumsum(1)[:, 1:] >= 2) & enc["attention_mask"][:, 1:].bool()
    mine = (logits * written).sum(-1, keepdim=True)
    below = (torch.nn.functional.silu(BETA * (logits - mine)) / BETA * (1 - written)).sum(-1)
    cost = below * written.sum(-1) + UNKNOWN * unknown
    return -(cost * reply).sum(1)
