"""Activation patching: which site, at which position, carries the difference between a clean
and a corrupted input.

Context. Take input pairs that differ in one variable by symmetric token replacement (STR:
swap the token that holds it for another of the same kind, same length), never by adding
noise to embeddings, which pushes the model off its distribution (Zhang & Nanda 2024,
arXiv 2309.16042). The metric is the logit difference at the last position,

    LD = logit(target) − logit(foil)            (nats; target = the clean answer),

because probabilities saturate and hide components that push the other way (Heimersheim &
Nanda 2024, arXiv 2404.15255). Three kinds of run: clean, corrupted, and patched (one site at
one position set to its value from the other run).

- **Denoising** (is the site sufficient?): run the corrupted input with the clean activation.
  effect = (LD_patched − LD_corrupt) / (LD_clean − LD_corrupt): 1 restores the clean
  behaviour, 0 changes nothing.
- **Noising** (is it necessary?): run the clean input with the corrupted activation.
  effect = (LD_clean − LD_patched) / (LD_clean − LD_corrupt): the fraction of the clean−corrupt
  gap the patch destroys (= 1 − the normalised recovery); 1 = the clean behaviour is lost,
  0 = it survives.

Both are dimensionless, and 1 means "this site matters" in either mode. The summary over
pairs is a ratio of means (mean numerator / mean denominator), which stays finite when one
pair's gap is near 0; the per-pair logit differences are kept so that a study can resample
pairs (its interval is the ratio of means over each resample).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from regimescope.errors import BadInput
from regimescope.instruments.sites import patched_logits, run_with_cache

MODES = ("denoise", "noise")


def single_token(tokenizer, text: str) -> int:
    """The id of ``text`` if it is exactly one token, else BadInput."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise BadInput(f"{text!r} is {len(ids)} tokens; target and foil must be single tokens")
    return int(ids[0])


def logit_difference(logits: Tensor, target: Tensor, foil: Tensor) -> Tensor:
    """LD = logit(target) − logit(foil) per row: logits [B, V], ids [B] -> [B] float64."""
    logits = logits.double()
    rows = torch.arange(len(logits))
    return logits[rows, target] - logits[rows, foil]


def normalised_effect(
    ld_patched: np.ndarray, ld_clean: np.ndarray, ld_corrupt: np.ndarray, mode: str = "denoise"
) -> np.ndarray:
    """The module docstring's effect, a ratio of means over pairs (axis 0 of each array):
    ld_patched [N, ...], ld_clean [N], ld_corrupt [N] -> [...]."""
    clean, corrupt, patched = np.mean(ld_clean), np.mean(ld_corrupt), np.mean(ld_patched, 0)
    if mode == "denoise":
        return (patched - corrupt) / (clean - corrupt)
    return (clean - patched) / (clean - corrupt)


@dataclass(frozen=True)
class PatchResult:
    mode: str  # "denoise" or "noise"
    names: tuple[str, ...]  # the sites, rows of the grid
    positions: tuple[int, ...]  # token indices, columns of the grid
    ld_clean: np.ndarray  # [N] LD of each clean run
    ld_corrupt: np.ndarray  # [N] LD of each corrupted run
    ld_patched: np.ndarray  # [N, S, P] LD of each patched run

    @property
    def effect(self) -> np.ndarray:
        """[S, P] normalised effect, ratio of means over the N pairs."""
        return normalised_effect(self.ld_patched, self.ld_clean, self.ld_corrupt, self.mode)

    @property
    def per_pair(self) -> np.ndarray:
        """[N, S, P] the same effect per pair (nan where a pair's |gap| < 1e-6)."""
        gap = (self.ld_clean - self.ld_corrupt)[:, None, None]  # [N, 1, 1]
        safe = np.where(np.abs(gap) < 1e-6, np.nan, gap)
        if self.mode == "denoise":
            return (self.ld_patched - self.ld_corrupt[:, None, None]) / safe
        return (self.ld_clean[:, None, None] - self.ld_patched) / safe


@torch.no_grad()
def patch_sweep(
    model: nn.Module,
    clean: Tensor,
    corrupt: Tensor,
    target: Tensor,
    foil: Tensor,
    names: Sequence[str],
    positions: Sequence[int] | None = None,
    mode: str = "denoise",
) -> PatchResult:
    """Patch every site in ``names`` at every position (default: all), one at a time.

    clean, corrupt: [N, T] token ids of the pairs (equal length); target, foil: [N] ids read
    at the last position. One forward pass of the N pairs per (site, position).
    """
    if mode not in MODES:
        raise BadInput(f"unknown patching mode {mode!r}; choose from: {', '.join(MODES)}")
    if clean.shape != corrupt.shape:
        raise BadInput(f"clean {list(clean.shape)} and corrupt {list(corrupt.shape)} differ")
    positions = tuple(range(clean.shape[1])) if positions is None else tuple(positions)
    logits_clean, cache_clean = run_with_cache(model, clean, names)
    logits_corrupt, cache_corrupt = run_with_cache(model, corrupt, names)
    # denoising reads the clean run into the corrupted one; noising the other way round
    receiver, cache = (corrupt, cache_clean) if mode == "denoise" else (clean, cache_corrupt)
    patched = np.zeros((len(clean), len(names), len(positions)))
    for s, name in enumerate(names):
        for p, position in enumerate(positions):
            values = cache[name][:, [position]]  # [N, 1, d] from the source run
            logits = patched_logits(model, receiver, name, values, [position])[:, -1]
            patched[:, s, p] = logit_difference(logits, target, foil).cpu().numpy()
    return PatchResult(
        mode=mode,
        names=tuple(names),
        positions=positions,
        ld_clean=logit_difference(logits_clean[:, -1], target, foil).cpu().numpy(),
        ld_corrupt=logit_difference(logits_corrupt[:, -1], target, foil).cpu().numpy(),
        ld_patched=patched,
    )
