"""CKA, calibration and diversity against independent references: a direct HSIC
computation, an element-wise unbiased HSIC, torchmetrics' calibration error, and counts
made by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from regimescope.instruments.calibration import reliability
from regimescope.instruments.cka import debiased_cka, linear_cka, unbiased_hsic
from regimescope.instruments.diversity import across_inputs, distinct_n, ead, ead_n, per_input


def activations(n: int = 40, d: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def hsic_direct(k: torch.Tensor, l: torch.Tensor) -> torch.Tensor:
    """tr(KHLH) / (n − 1)², H the centring matrix, formed in full."""
    n = k.shape[0]
    h = torch.eye(n, dtype=k.dtype) - torch.full((n, n), 1 / n, dtype=k.dtype)
    return torch.trace(k @ h @ l @ h) / (n - 1) ** 2


def test_linear_cka_equals_the_hsic_definition():
    x, y = activations(seed=0), activations(d=7, seed=1) + 0.5 * activations(seed=0)[:, :7]
    k, l = x @ x.T, y @ y.T
    direct = hsic_direct(k, l) / torch.sqrt(hsic_direct(k, k) * hsic_direct(l, l))
    assert linear_cka(x, y) == pytest.approx(float(direct), rel=1e-10)


def test_linear_cka_invariances():
    x = activations(seed=2)
    q, _ = torch.linalg.qr(activations(n=12, d=12, seed=3))  # a random orthogonal matrix
    y = activations(d=9, seed=4) + x[:, :9]
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x @ q, y) == pytest.approx(linear_cka(x, y), rel=1e-10)
    assert linear_cka(3.7 * x, y) == pytest.approx(linear_cka(x, y), rel=1e-10)
    assert linear_cka(x + 5.0, y) == pytest.approx(linear_cka(x, y), rel=1e-10)  # centring
    stretch = torch.diag(torch.linspace(0.1, 10, 12, dtype=torch.float64))
    assert linear_cka(x @ stretch, y) != pytest.approx(linear_cka(x, y), rel=1e-3)  # not GL
    assert 0 < linear_cka(x, activations(seed=5)) < 0.5
    with pytest.raises(ValueError, match="same"):
        linear_cka(x, x[:10])


def test_unbiased_hsic_equals_its_element_wise_definition():
    """Song et al. 2012 eq. 5 written as sums over distinct index tuples, for n = 7."""
    x, y = activations(n=7, d=3, seed=6), activations(n=7, d=2, seed=7)
    k, l = x @ x.T, y @ y.T
    n = 7
    kt, lt = k.clone().fill_diagonal_(0), l.clone().fill_diagonal_(0)
    term1 = sum(kt[i, j] * lt[j, i] for i in range(n) for j in range(n))
    term2 = kt.sum() * lt.sum() / ((n - 1) * (n - 2))
    term3 = 2 * sum(kt[i, j] * lt[j, m] for i in range(n) for j in range(n) for m in range(n))
    reference = (term1 + term2 - term3 / (n - 2)) / (n * (n - 3))
    assert float(unbiased_hsic(k, l)) == pytest.approx(float(reference), rel=1e-10)


def test_debiased_cka_removes_the_small_sample_inflation():
    """Independent wide activations of few inputs: biased CKA is far from 0, debiased near 0."""
    x, y = activations(n=20, d=200, seed=8), activations(n=20, d=200, seed=9)
    assert linear_cka(x, y) > 0.5
    assert abs(debiased_cka(x, y)) < 0.1
    assert debiased_cka(x, x) == pytest.approx(1.0)


def test_ece_equals_torchmetrics_binary_calibration_error():
    from torchmetrics.classification import BinaryCalibrationError

    g = torch.Generator().manual_seed(0)
    conf = torch.rand(500, generator=g, dtype=torch.float64)
    conf[:5] = torch.tensor([0.0, 1.0, 1 / 15, 2 / 15, 0.5])  # on bin edges and the ends
    correct = (torch.rand(500, generator=g, dtype=torch.float64) < conf**2).long()
    for bins in (10, 15):
        ours = reliability(conf.tolist(), correct.tolist(), bins)
        theirs = BinaryCalibrationError(n_bins=bins, norm="l1")(conf.float(), correct)
        assert ours.ece == pytest.approx(float(theirs), abs=1e-6)
        assert sum(ours.counts) == 500


def test_ece_of_calibrated_and_overconfident_predictions():
    perfect = reliability([0.25] * 4 + [0.75] * 4, [1, 0, 0, 0, 1, 1, 1, 0], bins=4)
    assert perfect.ece == pytest.approx(0.0)
    assert perfect.counts == (4, 0, 4, 0) and math.isnan(perfect.accuracy[1])  # (lo, hi] bins
    over = reliability([0.95] * 10, [1] * 5 + [0] * 5, bins=10)
    assert over.ece == pytest.approx(0.45)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        reliability([1.2], [1])


def test_distinct_and_ead_counted_by_hand():
    seqs = [[1, 2, 3, 1, 2], [1, 2, 4]]
    assert distinct_n(seqs, 1) == pytest.approx(4 / 8)  # 1, 2, 3, 4 over 8 unigrams
    assert distinct_n(seqs, 2) == pytest.approx(4 / 6)  # 12, 23, 31, 24 over 6 bigrams
    v = 10
    assert ead_n(seqs, 1, v) == pytest.approx(4 / (v * (1 - (9 / 10) ** 8)))
    assert math.isnan(distinct_n([[1]], 2)) and math.isnan(ead_n([[1]], 2, v))
    assert ead([[1, 2]], v, max_n=3) == pytest.approx(
        (ead_n([[1, 2]], 1, v) + ead_n([[1, 2]], 2, v)) / 2
    )


def test_ead_does_not_fall_with_length_as_distinct_does():
    rng = np.random.default_rng(0)
    short = [rng.integers(0, 1000, 50).tolist()]
    long = [rng.integers(0, 1000, 2000).tolist()]
    assert distinct_n(long, 1) < 0.7 * distinct_n(short, 1)  # distinct-1 falls with length
    assert ead_n(long, 1, 1000) == pytest.approx(ead_n(short, 1, 1000), rel=0.1)  # ~1 both


def test_per_input_and_across_input_diversity():
    repeated = [[[1, 2, 3]] * 4, [[4, 5, 6]] * 4]  # each prompt: 4 identical samples
    varied = [[[1, 2, 3], [7, 8, 9], [3, 2, 1], [9, 9, 8]], [[4, 5, 6], [6, 5, 4], [1, 1, 1], [2]]]
    assert per_input(repeated, 100) < per_input(varied, 100)
    assert across_inputs(repeated, 100) == pytest.approx(across_inputs(varied, 100))  # firsts
