"""Expected calibration error of answer probabilities, and the reliability diagram behind it
(Guo, Pleiss, Sun, Weinberger 2017, "On Calibration of Modern Neural Networks", arXiv
1706.04599; the measure the GPT-4 report, arXiv 2303.08774, shows rising after RLHF).

n predictions with confidence p_i (the model's probability of its answer) and correctness
c_i ∈ {0, 1}, binned into M equal-width bins of confidence B_1..B_M ((0, 1/M], ...,
((M−1)/M, 1]; a confidence of exactly 0 goes in the first):

    ECE = Σ_b (|B_b| / n) · |acc(B_b) − conf(B_b)|

with acc the mean correctness and conf the mean confidence of the bin. Unit: probability,
in [0, 1]; 0 for a perfectly calibrated model. The bins are those of torchmetrics'
``BinaryCalibrationError(n_bins=M, norm="l1")``, which the tests use as the reference.
Caveat (from the report's discussion): a policy that outputs its mode has token
probabilities that are not beliefs, so a rise in ECE after RL may be a change of sampling
policy rather than of knowledge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Reliability:
    ece: float  # expected calibration error, probability units
    edges: tuple[float, ...]  # bin edges, M + 1 values from 0 to 1
    confidence: tuple[float, ...]  # mean confidence per bin (nan where empty)
    accuracy: tuple[float, ...]  # mean correctness per bin (nan where empty)
    counts: tuple[int, ...]  # predictions per bin


def reliability(
    confidences: Sequence[float], correct: Sequence[bool | float], bins: int = 15
) -> Reliability:
    """ECE and the per-bin table of a reliability diagram (equal-width bins)."""
    p = np.asarray(confidences, dtype=float)
    c = np.asarray(correct, dtype=float)
    if p.shape != c.shape or p.size == 0:
        raise ValueError("need as many correctness values as confidences, and at least one")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("confidences must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, p, side="left") - 1, 0, bins - 1)  # (lo, hi]
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore"):
        conf = np.bincount(index, weights=p, minlength=bins) / counts
        acc = np.bincount(index, weights=c, minlength=bins) / counts
    gaps = np.where(counts > 0, np.abs(acc - conf), 0.0)
    ece = float(np.sum(counts / p.size * gaps))
    return Reliability(ece, tuple(edges), tuple(conf), tuple(acc), tuple(int(k) for k in counts))
