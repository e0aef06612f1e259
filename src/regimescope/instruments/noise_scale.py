"""The gradient noise scale B_simple and the critical batch size it predicts (McCandlish,
Kaplan, Amodei et al. 2018, "An Empirical Model of Large-Batch Training", arXiv
1812.06162, §2.2 and appendix A.1).

With G the true gradient and Σ the per-example gradient covariance, a batch of B examples
has E‖G_B‖² = ‖G‖² + tr(Σ)/B. Two batch sizes B_small < B_big give unbiased estimates

    |G|²  ≈ (B_big ‖G_big‖² − B_small ‖G_small‖²) / (B_big − B_small)
    tr(Σ) ≈ (‖G_small‖² − ‖G_big‖²) / (1/B_small − 1/B_big)

and B_simple = tr(Σ) / |G|² (a number of examples): the batch size beyond which a larger
batch buys few fewer steps (steps S and examples E to a target trade off as
(S/S_min − 1)(E/E_min − 1) = 1, with B_crit ≈ B_noise ≈ B_simple under the paper's
assumptions). Each estimate is noisy; the paper averages |G|² and tr(Σ) separately over
many steps (exponential moving averages) before taking the ratio, and so does
``noise_scale`` when given several measurements. Checked on a synthetic problem with a
known Σ (tests/test_dynamics_instruments.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class NoiseScale:
    gradient_sq: float  # |G|² estimate (squared gradient units)
    trace_cov: float  # tr(Σ) estimate, per example (squared gradient units)
    b_simple: float  # tr(Σ) / |G|², examples; nan when |G|² <= 0 (noise dominates)


def noise_scale(
    small_sq: Sequence[float], big_sq: Sequence[float], b_small: int, b_big: int
) -> NoiseScale:
    """B_simple from squared gradient norms measured at two batch sizes: ``small_sq[i]`` =
    ‖G_small‖² and ``big_sq[i]`` = ‖G_big‖² of measurement i; |G|² and tr(Σ) are each
    averaged over the measurements before their ratio is taken."""
    if not 0 < b_small < b_big:
        raise ValueError(f"need 0 < b_small < b_big, got {b_small} and {b_big}")
    small = sum(small_sq) / len(small_sq)
    big = sum(big_sq) / len(big_sq)
    gradient_sq = (b_big * big - b_small * small) / (b_big - b_small)
    trace_cov = (small - big) / (1 / b_small - 1 / b_big)
    ratio = trace_cov / gradient_sq if gradient_sq > 0 else float("nan")
    return NoiseScale(gradient_sq, trace_cov, ratio)


def from_microbatches(grads: torch.Tensor, microbatch: int) -> NoiseScale:
    """B_simple from the flattened gradients of k equal micro-batches, ``grads`` [k, P],
    each the mean gradient of ``microbatch`` examples: the small batch is each micro-batch
    (‖G_small‖² averaged over the k), the big batch their mean (B_big = k · microbatch).
    What a training step that accumulates gradients already computes."""
    k = grads.shape[0]
    if k < 2:
        raise ValueError("need at least two micro-batches")
    small_sq = (grads.double() ** 2).sum(dim=1).tolist()  # [k]
    big_sq = float((grads.double().mean(dim=0) ** 2).sum())
    return noise_scale(small_sq, [big_sq], microbatch, k * microbatch)
