"""The sampler's token choice: counter-based randomness and the draw from the logits.

The uniform that picks the token of (prompt i, sample j, step t) is a hash of (seed, i,
j, t) (``row_keys``, then ``uniforms``), and the token is its inverse-CDF draw from the
tempered, nucleus-filtered distribution (``choose_tokens``). ``regimescope.sampler``
decodes with these and re-exports them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from regimescope.sampler.decode import SamplingConfig

# ---------------------------------------------------------------- counter-based randomness

_MASK32 = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (xor-shift-multiply) of int64 values in [0, 2^32).

    The multiplier is < 2^27, so products stay below 2^59 and int64 never overflows.
    """
    x = (((x >> 16) ^ x) * 0x45D9F3B) & _MASK32
    x = (((x >> 16) ^ x) * 0x45D9F3B) & _MASK32
    return (x >> 16) ^ x


def row_keys(seed: int, prompt_index: torch.Tensor, sample_index: torch.Tensor) -> torch.Tensor:
    """One 32-bit key per row from (seed, prompt index, sample index); int64 [rows]."""
    seed_key = (seed ^ (seed >> 32)) & _MASK32
    key = _mix32(torch.full_like(prompt_index, seed_key) ^ 0x9E3779B9)
    key = _mix32(key ^ (prompt_index & _MASK32))
    return _mix32(key ^ (sample_index & _MASK32))


def uniforms(keys: torch.Tensor, step: int) -> torch.Tensor:
    """Uniforms in [0, 1) for each row key at decoding step ``step``; float64 [rows]."""
    step_key = int(_mix32(torch.tensor([(step + 0x7F4A7C15) & _MASK32]))[0])
    return _mix32(_mix32(keys ^ step_key) ^ 0x5BD1E995).double() / 2.0**32


# ---------------------------------------------------------------- token choice


def top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Zero every token outside the nucleus: the smallest top set with mass >= top_p.

    probs: [rows, vocab], rows summing to 1. The most likely token is always kept.
    Not renormalised (the inverse-CDF draw scales by the kept mass).
    """
    if top_p >= 1.0:
        return probs
    sorted_probs, order = probs.sort(dim=-1, descending=True)  # [rows, vocab] each
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs  # mass of strictly likelier tokens
    sorted_probs = sorted_probs.masked_fill(mass_before >= top_p, 0.0)
    return torch.zeros_like(probs).scatter_(-1, order, sorted_probs)


CDF_BLOCK = 256  # tokens per block of the two-level inverse-CDF search


def inverse_cdf(weights: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Token ids drawn from unnormalised ``weights`` [rows, vocab] by uniforms ``u`` [rows].

    Token i is chosen when cdf[i-1] <= u * total < cdf[i]; zero-weight tokens never are.
    The search has two levels, so that the float64 running sum covers blocks of
    ``CDF_BLOCK`` tokens instead of the whole vocabulary (a 49k vocabulary took 12% of a
    real model's decoding step in a float64 cumsum over every token): the block masses
    (float32 sums, float64 running sum) locate the block where u * total falls, a float64
    running sum inside that one block locates the token. Block masses carry float32
    rounding (relative ~1e-7, the precision of the probabilities themselves); a draw that
    lands past the block's last token by that rounding takes its last nonzero one.
    """
    rows, vocab = weights.shape
    weights = weights.float()
    whole = vocab // CDF_BLOCK * CDF_BLOCK  # tokens in whole blocks; the rest is one more
    masses = weights[:, :whole].view(rows, -1, CDF_BLOCK).sum(dim=-1)  # [rows, whole blocks]
    if whole < vocab:
        masses = torch.cat([masses, weights[:, whole:].sum(dim=-1, keepdim=True)], dim=-1)
    block_cdf = masses.double().cumsum(dim=-1)  # [rows, blocks]
    target = (u * block_cdf[:, -1]).unsqueeze(-1)  # [rows, 1]
    block = torch.searchsorted(block_cdf, target, right=True)  # [rows, 1]
    block.clamp_(max=block_cdf.shape[1] - 1)
    before = block_cdf.gather(1, (block - 1).clamp(min=0)).where(block > 0, 0.0)  # [rows, 1]
    ids = block * CDF_BLOCK + torch.arange(CDF_BLOCK, device=weights.device)  # [rows, BLOCK]
    inside = weights.gather(1, ids.clamp(max=vocab - 1)).where(ids < vocab, 0.0)
    cdf = inside.double().cumsum(dim=-1) + before  # [rows, CDF_BLOCK]
    offset = torch.searchsorted(cdf, target, right=True).squeeze(-1)  # [rows]
    last_nonzero = CDF_BLOCK - 1 - (inside > 0).flip(-1).int().argmax(dim=-1)  # [rows]
    return block.squeeze(-1) * CDF_BLOCK + torch.minimum(offset, last_nonzero)


def choose_tokens(logits: torch.Tensor, config: SamplingConfig, u: torch.Tensor) -> torch.Tensor:
    """Next token per row from last-position logits [rows, vocab]: greedy or tempered draw."""
    if config.temperature == 0:
        return logits.argmax(dim=-1)
    scaled = logits if config.temperature == 1 else logits.float() / config.temperature
    probs = torch.softmax(scaled, dim=-1, dtype=torch.float32)  # [rows, vocab]
    return inverse_cdf(top_p_filter(probs, config.top_p), u)
