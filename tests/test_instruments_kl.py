"""KL to a reference policy, exact and k3, against hand computation (instruments/kl.py)."""

import math

import torch
from torch.testing import assert_close

from regimescope.instruments.kl import kl_exact, kl_k3, masked_mean


def test_exact_kl_to_start():
    p, q = torch.tensor([0.5, 0.25, 0.25]), torch.tensor([0.25, 0.5, 0.25])
    logits, ref = p.log()[None, None], q.log()[None, None]  # (1, 1, 3)
    expected = 0.5 * math.log(2) + 0.25 * math.log(0.5)
    assert_close(kl_exact(logits, ref), torch.tensor([[expected]]))
    assert_close(kl_exact(logits + 3.0, logits), torch.zeros(1, 1))  # shift-invariant


def test_k3_matches_hand_computation_and_is_unbiased():
    logp, ref = torch.log(torch.tensor([0.5])), torch.log(torch.tensor([0.25]))
    assert_close(kl_k3(logp, ref), torch.tensor([0.5 - math.log(0.5) - 1.0]))
    pi, q = torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.3, 0.3, 0.4])
    expected_k3 = (pi * kl_k3(pi.log(), q.log())).sum()  # E over y ~ pi
    assert_close(expected_k3, (pi * (pi / q).log()).sum())  # = KL(pi || q)
    assert (kl_k3(torch.randn(50), torch.randn(50)) >= 0).all()


def test_k3_averaged_over_the_vocabulary_is_the_exact_kl():
    logits, ref = torch.randn(2, 3, 5), torch.randn(2, 3, 5)
    logp, ref_logp = logits.log_softmax(-1), ref.log_softmax(-1)  # (B, T, V): every y_t
    expected = (logp.exp() * kl_k3(logp, ref_logp)).sum(-1)  # E over y_t ~ pi
    assert_close(expected, kl_exact(logits, ref))


def test_masked_mean_counts_only_masked_positions():
    x = torch.tensor([[1.0, 2.0, 100.0], [3.0, 100.0, 100.0]])
    assert masked_mean(x, torch.tensor([[1, 1, 0], [1, 0, 0]])) == 2.0
    assert math.isnan(masked_mean(x, torch.zeros(2, 3)))
