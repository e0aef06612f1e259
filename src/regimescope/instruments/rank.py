"""Rank figures of an update matrix Δ (m × n): how many directions did fine-tuning use?

With singular values σ₁ ≥ σ₂ ≥ … ≥ σ_k ≥ 0, k = min(m, n):

- numerical rank = #{σᵢ > σ₁ · max(m, n) · ε}, with ε the fp32 machine epsilon. This is
  the default tolerance of ``torch.linalg.matrix_rank`` and so of the rank script of
  Mukherjee et al. 2025 (arXiv 2505.11711). It is reported as a fraction of k.
- stable rank = ‖Δ‖²_F / ‖Δ‖²₂ = Σσᵢ² / σ₁² (Rudelson & Vershynin 2007), in [1, k];
  unlike the numerical rank, it does not call a matrix of noise plus one strong direction
  "full rank".
- effective rank = exp(−Σ pᵢ log pᵢ), pᵢ = σᵢ / Σσⱼ (Roy & Vetterli 2007), in [1, k].
- top-r energy = Σ_{i ≤ r} σᵢ² / Σσᵢ²: the share of ‖Δ‖²_F in the r strongest
  directions (r = 1 is the rank-1 share of AlphaRL, arXiv 2510.00553).

``exact`` takes every singular value from ``torch.linalg.svdvals`` in fp32. ``randomized``
estimates the top ℓ singular values by a Gaussian range finder with q power iterations
(Halko, Martinsson & Tropp 2011, Alg. 4.4 + 5.1). Memory is O((m + n)·ℓ) beyond Δ, and
time O(mnℓ(2q + 2)) instead of O(mn·k). What it changes:

- σ₁ and the top-r energy are estimated well;
- the stable rank uses the exact ‖Δ‖²_F;
- the numerical rank counts only the ℓ estimated values. If all of them exceed the
  tolerance, the rank is a lower bound (``rank_lower_bound``);
- the effective rank needs the whole spectrum, so it is ``None`` unless the estimated
  values carry all of ‖Δ‖²_F (relative tail below 1e-6).

A zero Δ has rank 0; the other figures are undefined (``None``).

``auto`` (the default) is exact where that is cheap and skips the rest: a matrix whose
smaller side is at most ``auto_max`` (128, which keeps every organism's matrices exact)
gets the exact SVD, a larger one no rank figures (``planned_method`` says "skipped").
The exact SVD costs O(mn·k), k = min(m, n), against O(mn) to stream the matrix's panel:
about 1 s for a 2048 × 2048 fp32 matrix on one core, against about 4 ms, so exact
figures on every matrix of a 1 GB checkpoint take a minute where the rest takes a second.
The first SVD also imports torch (about 2 s). Ask for them with method ``exact`` (every
matrix) or ``randomized`` (estimates above ``exact_max``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EPS32 = float(np.finfo(np.float32).eps)
SMALL_SVD = 512  # matrices with a smaller side up to this are measured on one torch thread
METHODS = ("auto", "exact", "randomized", "none")


@dataclass(frozen=True)
class RankConfig:
    method: str = "auto"  # "auto" (exact on small matrices, skipped on large), "exact",
    # "randomized" (estimates on large matrices) or "none"
    auto_max: int = 128  # auto only: smaller side up to which the SVD is exact; larger: skipped
    exact_max: int = 1024  # randomized only: matrices whose smaller side is at most this stay exact
    sketch: int = 256  # randomized: number of singular values estimated (ℓ)
    oversample: int = 10  # randomized: extra sketch columns for accuracy
    power_iters: int = 2  # randomized: subspace iterations (q)
    top_r: int = 1  # r in the top-r energy fraction
    seed: int = 0  # seeds the Gaussian sketch


@dataclass(frozen=True)
class RankFigures:
    method: str  # "exact" or "randomized"
    rank: int  # numerical rank (a lower bound when rank_lower_bound)
    full_rank: int  # min(m, n)
    rank_lower_bound: bool  # randomized and every estimated value exceeded the tolerance
    stable_rank: float | None  # ‖Δ‖²_F / σ₁²
    effective_rank: float | None  # exp(entropy of σ / Σσ); None when not estimable
    top_r_energy: float | None  # Σ_{i≤r} σᵢ² / ‖Δ‖²_F

    @property
    def rank_fraction(self) -> float:
        return self.rank / self.full_rank if self.full_rank else 0.0


def planned_method(shape: tuple[int, ...], config: RankConfig) -> str:
    """What a tensor of ``shape`` gets: "exact", "randomized", "skipped" (auto, too large)
    or "none" (not a matrix, or rank figures off).

    >>> planned_method((2048, 2048), RankConfig()), planned_method((64, 4096), RankConfig())
    ('skipped', 'exact')
    """
    if len(shape) != 2 or config.method == "none" or min(shape) == 0:
        return "none"
    smaller = min(shape)
    if config.method == "auto":
        return "exact" if smaller <= config.auto_max else "skipped"
    if config.method == "randomized" and smaller > config.exact_max and config.sketch < smaller:
        return "randomized"
    return "exact"


def rank_figures(delta, config: RankConfig = RankConfig()) -> RankFigures:
    """The rank figures of a 2-D fp32 update ``delta`` (a torch tensor) under
    ``config.method``; a matrix that ``auto`` would skip is measured exactly here.

    >>> import torch
    >>> u = torch.arange(1.0, 5.0)[:, None] @ torch.ones(1, 3)  # (4, 3), rank 1
    >>> f = rank_figures(u)
    >>> f.rank, f.full_rank, round(f.stable_rank, 4), round(f.top_r_energy, 4)
    (1, 3, 1.0, 1.0)
    """
    import torch

    threads = torch.get_num_threads()
    one_thread = min(delta.shape) <= SMALL_SVD and threads > 1
    if one_thread:  # on a busy machine OpenMP's spin-waits make a small SVD 100x slower
        torch.set_num_threads(1)
    try:
        return _rank_figures(delta, config)
    finally:
        if one_thread:
            torch.set_num_threads(threads)


def _rank_figures(delta, config: RankConfig) -> RankFigures:
    """``rank_figures`` on the current torch threads."""
    import torch

    rows, cols = delta.shape
    if planned_method((rows, cols), config) == "randomized":
        sigma = randomized_singular_values(delta, config)
        frob_sq = float(torch.dot(delta.reshape(-1), delta.reshape(-1)))
        return _figures(sigma, (rows, cols), frob_sq, "randomized", config.top_r)
    sigma = torch.linalg.svdvals(delta.float())  # (k,)
    return _figures(sigma, (rows, cols), float((sigma.double() ** 2).sum()), "exact", config.top_r)


def randomized_singular_values(delta, config: RankConfig):
    """Estimates of the ``config.sketch`` largest singular values of ``delta`` (m × n)."""
    import torch

    matrix = delta.float() if delta.shape[0] >= delta.shape[1] else delta.float().T  # (m, n), m ≥ n
    width = min(config.sketch + config.oversample, matrix.shape[1])
    generator = torch.Generator().manual_seed(config.seed)
    omega = torch.randn(matrix.shape[1], width, generator=generator)  # (n, ℓ)
    basis, _ = torch.linalg.qr(matrix @ omega)  # (m, ℓ): orthonormal range estimate
    for _ in range(config.power_iters):
        co_basis, _ = torch.linalg.qr(matrix.T @ basis)  # (n, ℓ)
        basis, _ = torch.linalg.qr(matrix @ co_basis)  # (m, ℓ)
    projected = basis.T @ matrix  # (ℓ, n): Δ restricted to the range estimate
    return torch.linalg.svdvals(projected)[: config.sketch]  # (sketch,)


def _figures(sigma, shape: tuple[int, int], frob_sq: float, method: str, top_r: int) -> RankFigures:
    """Rank figures from (possibly partial) singular values ``sigma`` and ‖Δ‖²_F."""
    full = min(shape)
    sigma = sigma.double()
    top = float(sigma[0]) if sigma.numel() else 0.0
    if top == 0.0 or frob_sq == 0.0:
        return RankFigures(method, 0, full, False, None, None, None)
    tolerance = top * max(shape) * EPS32
    rank = int((sigma > tolerance).sum())
    partial = sigma.numel() < full
    lower_bound = partial and bool(sigma[-1] > tolerance)
    energy = float((sigma[:top_r] ** 2).sum()) / frob_sq
    tail = 1.0 - float((sigma**2).sum()) / frob_sq
    effective = _effective_rank(sigma) if not partial or tail < 1e-6 else None
    return RankFigures(
        method, rank, full, lower_bound, frob_sq / top**2, effective, min(energy, 1.0)
    )


def _effective_rank(sigma) -> float:
    """exp of the Shannon entropy (nats) of σ / Σσ, with 0 · log 0 = 0."""
    p = sigma[sigma > 0] / sigma.sum()
    return math.exp(float(-(p * p.log()).sum()))
