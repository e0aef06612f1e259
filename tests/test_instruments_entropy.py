"""Token entropy, overall and per token class, against hand computation (instruments/entropy.py)."""

import math

import torch
from torch.testing import assert_close

from regimescope.instruments.entropy import entropy_by_class, token_entropy


def test_entropy_matches_hand_computation():
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25]], [[1.0, 1e-12, 1e-12]]]))
    expected = torch.tensor([[1.5 * math.log(2)], [0.0]])
    assert_close(token_entropy(logits), expected, atol=1e-6, rtol=0)


def test_entropy_is_log_v_when_uniform_and_ignores_a_logit_shift():
    logits = torch.randn(2, 3, 7)
    assert_close(token_entropy(torch.zeros(1, 1, 7)), torch.tensor([[math.log(7)]]))
    assert_close(token_entropy(logits + 5.0), token_entropy(logits))


def test_entropy_overall_and_per_class():
    entropy = torch.tensor([[1.0, 2.0, 3.0, 9.0], [4.0, 5.0, 6.0, 9.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 0]])  # the 9s are padding
    classes = torch.tensor([[0, 1, -1, 0], [0, 3, 2, 0]])  # plan exec - | plan answer format
    stats = entropy_by_class(entropy, mask, classes)
    assert stats == {
        "entropy": 3.5,  # all six counted tokens, unlabelled included
        "entropy/plan": 2.5,
        "entropy/exec": 2.0,
        "entropy/format": 6.0,
        "entropy/answer": 5.0,
    }
    assert entropy_by_class(entropy, torch.zeros_like(mask), classes) == {}
