"""The shared sampler: n completions per prompt, the prompt's forward pass done once.

Prompts of a batch are left-padded (attention mask plus explicit position ids), sorted by
length so that padding is rare, and run through the model once. Their n continuations
are then decoded together under ``torch.inference_mode``, reading the prompt's keys and
values in one of two ways:

- shared (``prefix_attention``, for Llama-like models): one copy per prompt, read by all
  its rows through cascade attention; generated keys go to preallocated buffers;
- copied (any Hugging Face causal LM): the prompt's ``DynamicCache`` is copied to its rows
  (``batch_select_indices`` with repeated indices) and grows by concatenation.

Rows that emit EOS leave the batch (once a quarter of it has ended), so compute shrinks
as samples finish.

Randomness is counter-based: the uniform that picks the token of (prompt i, sample j,
step t) is a hash of (seed, i, j, t), and the token is its inverse-CDF draw from the
tempered, nucleus-filtered distribution. So the same seed and config give the same
samples, whatever the batch size or the order in which rows finish (the draw is in
``sampler.tokens``).

``Sampler`` is the interface (prompts, config -> completions); ``HFSampler`` fills it for
any Hugging Face causal LM, and a vLLM backend can fill it on a GPU.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import torch
from transformers import DynamicCache

from regimescope.errors import BadInput
from regimescope.sampler import cache as sample_cache
from regimescope.sampler import prefix_attention
from regimescope.sampler.tokens import choose_tokens, row_keys, uniforms
from regimescope.sampler.tokens import inverse_cdf as inverse_cdf
from regimescope.sampler.tokens import top_p_filter as top_p_filter
from regimescope.tasks.encode import encode_prompt

Progress = Callable[[int], None]


@dataclass(frozen=True)
class SamplingConfig:
    n: int = 1  # completions per prompt
    temperature: float = 1.0  # 0 means greedy (argmax); n>1 with greedy gives n identical rows
    top_p: float = 1.0  # nucleus sampling mass, 1.0 = off
    max_new_tokens: int = 64  # generation stops at EOS or after this many tokens
    seed: int = 0  # the same seed and config give the same samples
    batch_size: int = 0  # rows (prompt x sample) decoded together; 0 = sized by auto_rows()


@dataclass(frozen=True)
class Completion:
    text: str  # decoded generated text, EOS excluded
    token_ids: tuple[int, ...]  # generated token ids, EOS excluded
    finished: bool  # True if the model emitted EOS


class Sampler(Protocol):
    """Anything that draws ``config.n`` completions for each prompt: result[prompt][sample]."""

    def __call__(
        self, prompts: Sequence[str], config: SamplingConfig, progress: Progress | None = None
    ) -> list[list[Completion]]: ...


class HFSampler:
    """The Sampler of a Hugging Face causal LM and its tokenizer (see ``sample``)."""

    def __init__(self, model, tokenizer):
        self.model = model
        self.tokenizer = tokenizer

    def __call__(
        self, prompts: Sequence[str], config: SamplingConfig, progress: Progress | None = None
    ) -> list[list[Completion]]:
        return sample(self.model, self.tokenizer, prompts, config, progress)


# ---------------------------------------------------------------- batching


@dataclass(frozen=True)
class _Chunk:
    prompt: int  # index of the prompt in the caller's list
    first: int  # index of the chunk's first sample among the prompt's n
    count: int  # number of samples (rows) in the chunk


def plan_batches(lengths: Sequence[int], n: int, batch_size: int) -> list[list[_Chunk]]:
    """Pack the n rows of every prompt into batches of at most ``batch_size`` rows.

    A prompt's rows are cut into chunks of ``batch_size`` (full chunks first, each a batch
    of its own); the other chunks are packed whole, in order of prompt length (less left
    padding), so a batch usually holds equal chunks: a dense [prompts, rows] grid.
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    chunks = [
        _Chunk(p, first, min(batch_size, n - first))
        for p in order
        for first in range(0, n, batch_size)
    ]
    chunks.sort(key=lambda c: c.count < batch_size)  # stable: full chunks first, order kept
    batches: list[list[_Chunk]] = []
    rows = batch_size
    for chunk in chunks:
        if rows + chunk.count > batch_size:
            batches.append([])
            rows = 0
        batches[-1].append(chunk)
        rows += chunk.count
    return batches


def _left_pad(ids: list[list[int]], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded input ids and attention mask, both int64 [prompts, longest].

    Pads are token 0: they are masked out, so any valid id would do.
    """
    longest = max(len(row) for row in ids)
    input_ids = torch.zeros((len(ids), longest), dtype=torch.long)
    mask = torch.zeros((len(ids), longest), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, longest - len(row) :] = torch.tensor(row, dtype=torch.long)
        mask[i, longest - len(row) :] = 1
    return input_ids.to(device), mask.to(device)


@functools.cache
def _cache_keyword(model_class: type) -> str:
    """``cache`` in transformers >= 5.2x; ``past_key_values`` in older releases."""
    parameters = inspect.signature(model_class.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def _forward(model, tokens, positions, mask=None, cache=None) -> torch.Tensor:
    """Last-position logits [rows, vocab] of ``tokens`` [rows, len] (extending ``cache``)."""
    extra = (
        {"attention_mask": mask, _cache_keyword(type(model)): cache} if cache is not None else {}
    )
    out = model(
        input_ids=tokens,
        position_ids=positions,
        use_cache=cache is not None,
        logits_to_keep=1,
        **extra,
    )
    return out.logits[:, -1, :]


# ---------------------------------------------------------------- decoding backends


class _CopiedCache:
    """Any causal LM: each prompt's DynamicCache is copied to its rows after one pass."""

    def __init__(self, model, input_ids, mask, positions, expand):
        self.model, self.cache = model, DynamicCache(config=model.config)
        logits = _forward(model, input_ids, positions, mask, self.cache)  # [prompts, vocab]
        self.cache.batch_select_indices(expand)  # [prompts, ...] -> [rows, ...]
        self.logits, self.mask = logits[expand], mask[expand]  # [rows, vocab], [rows, len]

    def step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Logits [rows, vocab] after feeding ``tokens`` [rows] at ``positions`` [rows]."""
        self.mask = torch.cat([self.mask, self.mask.new_ones(self.mask.shape[0], 1)], dim=-1)
        return _forward(self.model, tokens[:, None], positions[:, None], self.mask, self.cache)

    def keep(self, keep: torch.Tensor) -> None:
        """Drop every row not in ``keep`` (indices into the current rows)."""
        self.cache.batch_select_indices(keep)
        self.mask = self.mask[keep]


class _SharedPrefix:
    """Supported models: one copy of each prompt's keys, read by all its rows."""

    def __init__(self, model, state, input_ids, positions, expand):
        self.model, self.state = model, state
        logits = _forward(model, input_ids, positions)  # [prompts, vocab]; stores prompt K, V
        state.start_decoding(expand)
        self.logits = logits[expand]  # [rows, vocab]

    def step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        logits = _forward(self.model, tokens[:, None], positions[:, None])
        self.state.step_done()
        return logits

    def keep(self, keep: torch.Tensor) -> None:
        self.state.keep_rows(self.state.slot[keep], keep)


# ---------------------------------------------------------------- decoding


def _row_keys(chunks, seed: int, device) -> torch.Tensor:
    """The random key of each row of a batch, from its (prompt, sample) indices; [rows]."""
    prompt_index = torch.cat([torch.full((c.count,), c.prompt) for c in chunks])
    sample_index = torch.cat([torch.arange(c.first, c.first + c.count) for c in chunks])
    return row_keys(seed, prompt_index, sample_index).to(device)


def _decode_batch(model, prompt_ids, chunks, config, eos_id, progress):
    """Generated ids [rows, max_new_tokens] (-1 after the end) and EOS flags [rows]."""
    device = next(model.parameters()).device
    input_ids, mask = _left_pad([prompt_ids[c.prompt] for c in chunks], device)
    positions = (mask.cumsum(dim=-1) - 1).clamp_(min=0)  # [prompts, longest]
    counts = torch.tensor([c.count for c in chunks], device=device)
    expand = torch.repeat_interleave(torch.arange(len(chunks), device=device), counts)  # [rows]
    if not prefix_attention.supports(model):
        backend = _CopiedCache(model, input_ids, mask, positions, expand)
        return _decode_rows(backend, positions[expand, -1] + 1, chunks, config, eos_id, progress)
    state = prefix_attention.PrefixState(mask, config.max_new_tokens)
    with prefix_attention.shared_prefix(model, state):
        backend = _SharedPrefix(model, state, input_ids, positions, expand)
        return _decode_rows(backend, positions[expand, -1] + 1, chunks, config, eos_id, progress)


def _decode_rows(backend, next_pos, chunks, config, eos_id, progress):
    """The decoding loop over a batch's rows; ``next_pos`` [rows] is each row's next position.

    Rows that end stay in the batch (computing ignored tokens) until a quarter of the
    batch has ended; then the batch and its keys and values are compacted to live rows.
    """
    device, logits = next_pos.device, backend.logits
    keys = _row_keys(chunks, config.seed, device)  # [rows]
    total = keys.numel()
    out = torch.full((total, config.max_new_tokens), -1, dtype=torch.long, device=device)
    finished = torch.zeros(total, dtype=torch.bool, device=device)
    rows = torch.arange(total, device=device)  # batch row -> output row
    live = torch.ones(total, dtype=torch.bool, device=device)  # batch rows still decoding
    for step in range(config.max_new_tokens):
        tokens = choose_tokens(logits, config, uniforms(keys, step))  # [batch]
        out[rows[live], step] = tokens[live]
        if eos_id is not None:
            hit = live & (tokens == eos_id)  # [batch]
            finished[rows[hit]] = True
            live &= ~hit
            if progress is not None and hit.any():
                progress(int(hit.sum()))
        if step == config.max_new_tokens - 1 or not live.any():
            break
        if 4 * int((~live).sum()) >= live.numel():
            keep = live.nonzero().squeeze(-1)  # [live rows]
            rows, keys, tokens, next_pos, live = (
                t[keep] for t in (rows, keys, tokens, next_pos, live)
            )
            backend.keep(keep)
        logits = backend.step(tokens, next_pos)
        next_pos = next_pos + 1
    if progress is not None and live.any():
        progress(int(live.sum()))
    return out, finished


def _completions(tokenizer, out: torch.Tensor, finished: torch.Tensor, eos_id) -> list[Completion]:
    """Completion objects from generated ids [rows, max_new] (-1 padded) and finished flags."""
    rows = []
    for ids, done in zip(out.tolist(), finished.tolist(), strict=True):
        ids = [i for i in ids if i >= 0]
        if done and ids and ids[-1] == eos_id:
            ids = ids[:-1]
        rows.append(tuple(ids))
    texts = tokenizer.batch_decode([list(r) for r in rows], skip_special_tokens=True)
    return [
        Completion(t, r, bool(d)) for t, r, d in zip(texts, rows, finished.tolist(), strict=True)
    ]


KV_BUDGET_BYTES = 512 * 2**20  # key/value memory one decoding batch may take on a CPU
MAX_ROWS = 1024  # CPU: beyond this, per-step Python overhead is already amortised
GPU_KV_SHARE = 0.25  # GPU: share of the device's free memory one batch's keys may take
GPU_MAX_ROWS = 16384  # GPU: 5.2x the tokens per second of 1024 rows on an H200 (BENCHMARKS.md)


def row_budget(device: torch.device | None) -> tuple[int, int]:
    """(key/value bytes, row cap) for one decoding batch on ``device``: fixed on a CPU,
    a share of the free memory on a CUDA GPU (read when the batch is sized)."""
    if device is None or device.type != "cuda":
        return KV_BUDGET_BYTES, MAX_ROWS
    free_bytes, _ = torch.cuda.mem_get_info(device)
    return int(free_bytes * GPU_KV_SHARE), GPU_MAX_ROWS


def auto_rows(model, sequence_length: int, device: torch.device | None = None) -> int:
    """Rows per batch whose key/value cache fits the budget of ``device`` (``row_budget``;
    None = CPU), in [1, cap].

    bytes per row = layers * 2 (K and V) * key/value width * sequence length * 4 (fp32),
    where the key/value width is ``kv_width`` (the hidden size without grouped-query
    attention, a third of it for SmolLM2's 3 key/value heads of 9). A tiny
    organism gets the cap (CPU 1024: 2-5x the speed of ``generate``; GPU 16384: 15.7x a
    16-thread CPU on an H200, both in BENCHMARKS.md); a 7B model on a CPU gets a handful
    of rows. Samples do not depend on the batch (counter-based draws), only speed does.
    """
    config = model.config
    budget, cap = row_budget(device)
    per_row = config.num_hidden_layers * 2 * kv_width(config) * max(1, sequence_length) * 4
    return int(max(1, min(cap, budget // per_row)))


def kv_width(config) -> int:
    """Width of one token's keys (or values) in one layer: key/value heads * head size;
    the hidden size when the config names neither (no grouped-query attention)."""
    heads = getattr(config, "num_attention_heads", None)
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    if not heads or not kv_heads:
        return config.hidden_size
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return kv_heads * head_dim


def _check(config: SamplingConfig, prompt_ids: list[list[int]]) -> None:
    """BadInput for configs or prompts the sampler cannot run."""
    if config.n < 1:
        raise BadInput(f"n must be >= 1 (got {config.n})")
    if config.max_new_tokens < 1:
        raise BadInput(f"max_new_tokens must be >= 1 (got {config.max_new_tokens})")
    if config.batch_size < 0:
        raise BadInput(f"batch_size must be >= 0, 0 meaning automatic (got {config.batch_size})")
    if config.temperature < 0:
        raise BadInput(f"temperature must be >= 0 (got {config.temperature})")
    if not 0 < config.top_p <= 1:
        raise BadInput(f"top_p must be in (0, 1] (got {config.top_p})")
    if any(len(ids) == 0 for ids in prompt_ids):
        raise BadInput("a prompt encodes to no tokens and the tokenizer has no BOS; give text")


def sample(
    model,
    tokenizer,
    prompts: Sequence[str],
    config: SamplingConfig,
    progress: Progress | None = None,
) -> list[list[Completion]]:
    """``config.n`` completions of each prompt from a Hugging Face causal LM: [prompt][n].

    Prompts are encoded with ``encode_prompt`` (BOS first where the model expects one).
    ``progress(k)`` is called as rows end, with k the number of rows ended so far (of
    ``len(prompts) * n``).
    Greedy (temperature 0) decodes each prompt once. Inside ``sample_cache.caching(root)``
    a call whose weights, prompts and config were sampled before is read back from disk.
    """
    prompt_ids = [encode_prompt(tokenizer, p) for p in prompts]
    _check(config, prompt_ids)
    cache = sample_cache.active()  # on inside a study: samples drawn before are read back
    if cache is None:
        return _draw(model, tokenizer, prompt_ids, config, progress)
    entry = sample_cache.key(model, prompt_ids, tokenizer.eos_token_id, config)
    results = sample_cache.load(cache, entry, tokenizer, Completion)
    if results is None:
        results = _draw(model, tokenizer, prompt_ids, config, progress)
        sample_cache.save(cache, entry, results)
    elif progress is not None:
        progress(len(prompt_ids) * config.n)
    return results


def _draw(model, tokenizer, prompt_ids, config, progress) -> list[list[Completion]]:
    """The sampling behind ``sample``, on encoded prompts."""
    eos_id = tokenizer.eos_token_id
    n_draw = 1 if config.temperature == 0 else config.n  # greedy rows would all be equal
    done = 0

    def advance(k: int) -> None:  # rows of this call that ended -> total rows ended so far
        nonlocal done
        done += k * (config.n // n_draw)
        progress(done)

    results: list[list[Completion]] = [[] for _ in prompt_ids]
    longest = max((len(ids) for ids in prompt_ids), default=0) + config.max_new_tokens
    rows = config.batch_size or auto_rows(model, longest, next(model.parameters()).device)
    batches = plan_batches([len(ids) for ids in prompt_ids], n_draw, rows)
    with torch.inference_mode():
        for chunks in batches:
            out, finished = _decode_batch(
                model,
                prompt_ids,
                chunks,
                replace(config, n=n_draw),
                eos_id,
                advance if progress is not None else None,
            )
            rows = iter(_completions(tokenizer, out.cpu(), finished.cpu(), eos_id))
            for chunk in chunks:
                results[chunk.prompt].extend(next(rows) for _ in range(chunk.count))
    return [row * (config.n // n_draw) for row in results]
