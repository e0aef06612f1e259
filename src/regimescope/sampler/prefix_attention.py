"""Shared-prefix attention: n continuations read one copy of their prompt's keys and values.

Decoding n samples of a prompt the usual way copies the prompt's KV cache n times and
reads every copy at every step. Here the prompt's keys and values are stored once per
prompt, and attention is split in two (cascade attention, as in Hydragen, Juravsky et
al. 2024, arXiv 2402.05099):

    prefix part:    the queries of all rows of a prompt, stacked, against the prompt's
                    keys, one matrix product per prompt -> o_p = sum exp(s - m_p) v,
                    z_p = sum exp(s - m_p), m_p = max s  (s: scaled scores)
    generated part: each row's query against its own generated keys -> o_g, z_g, m_g
    combined:       out = (a_p o_p + a_g o_g) / (a_p z_p + a_g z_g),  a = exp(m - max(m_p, m_g))

which is exactly softmax attention over [prompt; generated], computed in float32.
Generated keys and values live in buffers preallocated for ``max_new_tokens``, so no
step concatenates or copies a cache.

It plugs into any transformers model that dispatches attention through
``AttentionInterface`` (``model.set_attn_implementation``), for the model types in
``SUPPORTED``; the sampler falls back to a copied ``DynamicCache`` for the rest.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch
from transformers import AttentionInterface

NAME = "regimescope_shared_prefix"
SUPPORTED = ("llama", "mistral", "qwen2", "qwen3")  # plain causal attention, RoPE, GQA
_STATE: contextvars.ContextVar = contextvars.ContextVar(NAME, default=None)  # PrefixState


def supports(model) -> bool:
    """Whether ``model`` can run shared-prefix attention (else the sampler copies caches)."""
    config = model.config
    return (
        getattr(config, "model_type", None) in SUPPORTED
        and getattr(config, "sliding_window", None) is None
        and getattr(model, "_can_set_attn_implementation", lambda: False)()
    )


class PrefixState:
    """Keys and values of one batch: the prompts' (once each) and the rows' generated ones.

    A row is one sample; ``slot[r]`` is the batch prompt it continues and ``pos[r]`` its
    place among that prompt's rows, so queries can be stacked per prompt.
    """

    def __init__(self, pad_mask: torch.Tensor, max_new_tokens: int):
        self.pad_mask = pad_mask.bool()  # [prompts, prompt len], False on left padding
        bias = torch.zeros(pad_mask.shape, device=pad_mask.device)  # [prompts, prompt len]
        self.pad_bias = bias.masked_fill_(~self.pad_mask, float("-inf"))[:, None, None, :]
        self.max_new_tokens = max_new_tokens
        self.prefix: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # layer -> K, V
        self.generated: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # layer -> K, V
        self.length = 0  # generated tokens stored (same for every row)
        self.decoding = False  # False while the prompts run, True once rows decode
        self.slot = self.pos = torch.empty(0, dtype=torch.long)
        self.group = 0  # most rows any prompt has
        self.dense = False  # every prompt has ``group`` rows: stack by a view, no scatter

    def start_decoding(self, slot: torch.Tensor) -> None:
        """Switch from the prompt pass to decoding rows; ``slot``: [rows] prompt of each row."""
        self.decoding = True
        self.keep_rows(slot, torch.arange(slot.numel(), device=slot.device))

    def keep_rows(self, slot: torch.Tensor, keep: torch.Tensor) -> None:
        """Keep rows ``keep`` (indices into the current rows); ``slot``: [kept rows]."""
        used = self.length
        for layer, (keys, values) in self.generated.items():  # copy only the filled steps
            new_k, new_v = (
                keys.new_zeros(len(keep), *keys.shape[1:]),
                torch.zeros_like(values[keep]),
            )
            new_k[..., :used] = keys[keep, ..., :used]  # [kept, Hkv, D, max_new]
            new_v[..., :used, :] = values[keep, ..., :used, :]  # [kept, Hkv, max_new, D]
            self.generated[layer] = (new_k, new_v)
        counts = torch.bincount(slot, minlength=self.pad_mask.shape[0])  # [prompts]
        starts = counts.cumsum(0) - counts  # first row of each prompt (rows grouped by prompt)
        self.slot = slot
        self.pos = torch.arange(slot.numel(), device=slot.device) - starts[slot]
        self.group = int(counts.max())
        self.dense = bool(counts.min() == self.group)  # rows form a full [prompts, group] grid

    def step_done(self) -> None:
        """Every layer has stored this step's keys: advance the generated length."""
        self.length += 1


@contextlib.contextmanager
def shared_prefix(model, state: PrefixState) -> Iterator[PrefixState]:
    """Run ``model`` with shared-prefix attention reading and writing ``state``."""
    previous = model.config._attn_implementation
    token = _STATE.set(state)
    model.set_attn_implementation(NAME)
    try:
        yield state
    finally:
        model.set_attn_implementation(previous)
        _STATE.reset(token)


def _prompt_attention(state: PrefixState, query, key, value, scaling) -> torch.Tensor:
    """Causal attention over left-padded prompts; query [P, H, L, D], key/value [P, Hkv, L, D].

    Each position also sees itself, so padding positions stay finite (they are never read).
    """
    length = query.shape[2]
    causal = torch.ones(length, length, dtype=torch.bool, device=query.device).tril()  # [L, L]
    eye = torch.eye(length, dtype=torch.bool, device=query.device)
    mask = (causal & state.pad_mask[:, None, None, :]) | eye  # [P, 1, L, L]
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=mask, scale=scaling, enable_gqa=key.shape[1] != query.shape[1]
    )  # [P, H, L, D]
    return out.transpose(1, 2)  # [P, L, H, D]


def _partial(scores: torch.Tensor, values: torch.Tensor):
    """Unnormalised softmax attention: (exp(s - max) @ values, sum of exp(s - max), max).

    scores: [..., queries, keys] (consumed in place); values: [..., keys, D].
    """
    top = scores.amax(dim=-1, keepdim=True)  # [..., queries, 1]
    weights = scores.sub_(top).exp_()  # [..., queries, keys]
    return weights @ values, weights.sum(dim=-1, keepdim=True), top


def _stack(state: PrefixState, rows: torch.Tensor) -> torch.Tensor:
    """Row tensor [R, ...] -> per-prompt stack [P, group, ...] (zeros in empty places)."""
    prompts = state.pad_mask.shape[0]
    if state.dense:
        return rows.view(prompts, state.group, *rows.shape[1:])
    stacked = rows.new_zeros(prompts, state.group, *rows.shape[1:])
    stacked[state.slot, state.pos] = rows
    return stacked


def _unstack(state: PrefixState, stacked: torch.Tensor) -> torch.Tensor:
    """Per-prompt stack [P, group, ...] -> row tensor [R, ...]."""
    if state.dense:
        return stacked.reshape(-1, *stacked.shape[2:])
    return stacked[state.slot, state.pos]


def _decode_attention(state: PrefixState, layer: int, query, key, value, scaling):
    """One decoding step; query [R, H, 1, D], key/value [R, Hkv, 1, D] of this step."""
    rows, heads, _, dim = query.shape
    prefix_k, prefix_v = state.prefix[layer]  # [P, Hkv, Lp, D] each
    prompts, kv_heads, _, _ = prefix_k.shape
    groups = heads // kv_heads
    if layer not in state.generated:  # keys stored transposed, ready for q @ k
        f32, steps = {"dtype": torch.float32, "device": key.device}, state.max_new_tokens
        new_k = torch.zeros(rows, kv_heads, dim, steps, **f32)
        state.generated[layer] = (new_k, torch.zeros(rows, kv_heads, steps, dim, **f32))
    gen_k, gen_v = state.generated[layer]  # [R, Hkv, D, max_new], [R, Hkv, max_new, D]
    gen_k[..., state.length] = key[:, :, 0]
    gen_v[:, :, state.length] = value[:, :, 0]
    q = query[:, :, 0].float().reshape(rows, kv_heads, groups, dim) * scaling  # [R, Hkv, G, D]

    # prompt part: stack each prompt's row queries, one product per prompt
    stacked = _stack(state, q).permute(0, 2, 1, 3, 4)  # [P, Hkv, m, G, D]
    stacked = stacked.reshape(prompts, kv_heads, -1, dim)  # [P, Hkv, mG, D]
    scores = (stacked @ prefix_k.transpose(-1, -2)).add_(state.pad_bias)  # [P, Hkv, mG, Lp]
    out_p, sum_p, top_p = (
        _unstack(state, t.view(prompts, kv_heads, state.group, groups, -1).transpose(1, 2))
        for t in _partial(scores, prefix_v)
    )  # [R, Hkv, G, D], [R, Hkv, G, 1] x 2

    # generated part: each row against its own keys, steps 0 .. length
    used = state.length + 1
    scores = q @ gen_k[..., :used]  # [R, Hkv, G, used]
    out_g, sum_g, top_g = _partial(scores, gen_v[:, :, :used])  # [R, Hkv, G, D], [R, Hkv, G, 1]

    top = torch.maximum(top_p, top_g)  # [R, Hkv, G, 1]
    scale_p, scale_g = (top_p - top).exp_(), (top_g - top).exp_()
    out = (out_p * scale_p + out_g * scale_g) / (sum_p * scale_p + sum_g * scale_g)
    return out.reshape(rows, 1, heads, dim).to(query.dtype)  # [R, 1, H, D]


def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """The AttentionInterface entry: prompt pass or decoding step, per ``_STATE``."""
    state = _STATE.get()
    if state is None:
        raise RuntimeError(f"{NAME} attention runs only inside regimescope.sampling")
    scaling = scaling if scaling is not None else query.shape[-1] ** -0.5
    layer = module.layer_idx
    if not state.decoding:
        state.prefix[layer] = (key.float(), value.float())  # float32 for the decode math
        return _prompt_attention(state, query, key, value, scaling), None
    return _decode_attention(state, layer, query, key, value, scaling), None


AttentionInterface.register(NAME, _attention)
