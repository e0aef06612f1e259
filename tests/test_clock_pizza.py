"""Gradient symmetricity and distance irrelevance on hand-made Clock and Pizza models whose
mechanism is known, so the expected values follow from the algebra.

Both toys embed token t as the unit vector z_t = (cos ωt, sin ωt), ω = 2πk/p, read as a
complex number. The Clock multiplies the operands, z_a·z_b = z_{a+b}, and scores class c by
Re(z_a z_b z̄_c) = cos ω(a + b − c); the Pizza adds them, h = z_a + z_b, and scores
Re(h² z̄_c) = 4cos²(ω(a − b)/2)·cos ω(a + b − c), a function of x_a + x_b alone."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from regimescope.instruments.clock_pizza import (
    correct_logit_table,
    distance_irrelevance,
    gradient_cosine,
    gradient_symmetricity,
    sample_triples,
    sum_difference_table,
)

P, K = 31, 3
OMEGA = 2 * math.pi * K / P


def circle(p: int = P) -> torch.Tensor:
    t = torch.arange(p, dtype=torch.float64)
    return torch.stack([torch.cos(OMEGA * t), torch.sin(OMEGA * t)], dim=-1)  # [p, 2]


def score(u: torch.Tensor) -> torch.Tensor:
    """Re(u z̄_c) for every class c: u [..., 2] -> logits [..., p]."""
    return u @ circle().T  # [..., 2] @ [2, p]


def clock_logits(x_a: torch.Tensor, x_b: torch.Tensor, modulate: float = 0.0) -> torch.Tensor:
    """cos ω(a + b − c), times (1 + modulate·cos ω(a + b)): a function of z_a z_b only."""
    re = x_a[..., 0] * x_b[..., 0] - x_a[..., 1] * x_b[..., 1]
    im = x_a[..., 0] * x_b[..., 1] + x_a[..., 1] * x_b[..., 0]
    product = torch.stack([re, im], dim=-1)  # z_a z_b, [..., 2]
    return score(product) * (1 + modulate * re)[..., None]


def pizza_logits(x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
    """Re(h² z̄_c), h = x_a + x_b."""
    h = x_a + x_b
    square = torch.stack([h[..., 0] ** 2 - h[..., 1] ** 2, 2 * h[..., 0] * h[..., 1]], dim=-1)
    return score(square)


def on_tokens(logit_fn):
    """A model_fn over operand tokens [n] from a logit_fn over embeddings."""
    table = circle()
    return lambda a, b: logit_fn(table[a], table[b])


def test_triples_are_the_notebooks_draw():
    """eval-main.ipynb: xs = [(a,b,c) for a .. for b .. for c ..]; Random(42).shuffle; [:100]."""
    xs = [(a, b, c) for a in range(59) for b in range(59) for c in range(59)]
    random.Random(42).shuffle(xs)
    assert sample_triples(59, 100, 42) == xs[:100]
    assert len(set(sample_triples(5, 125, 0))) == 125  # without replacement
    with pytest.raises(ValueError, match="samples"):
        sample_triples(3, 28)


def test_pizza_gradients_are_symmetric():
    assert gradient_symmetricity(pizza_logits, circle(), P) == pytest.approx(1.0, abs=1e-12)


def test_clock_symmetricity_is_the_mean_of_cos_omega_a_minus_b():
    """∂Q_c/∂x_a = R(ωb)ᵀ g and ∂Q_c/∂x_b = R(ωa)ᵀ g for the same g: cosine cos ω(a − b)."""
    expected = np.mean([math.cos(OMEGA * (a - b)) for a, b, _ in sample_triples(P, 100, 7)])
    for modulate in (0.0, 0.5):
        clock = lambda x_a, x_b, m=modulate: clock_logits(x_a, x_b, m)  # noqa: E731
        value = gradient_symmetricity(clock, circle(), P, samples=100, seed=7)
        assert value == pytest.approx(expected, abs=1e-12)
    assert abs(expected) < 0.3  # far below the Pizza's 1


def test_symmetricity_reads_the_class_c_and_a_separate_b_vocabulary():
    """A linear model Q = W_a x_a + W_b x_b has ∂Q_c/∂x_a = W_a[c], ∂Q_c/∂x_b = W_b[c]."""
    g = torch.Generator().manual_seed(0)
    w_a, w_b = torch.randn(P, 4, generator=g), torch.randn(P, 4, generator=g)
    table = torch.randn(2 * P, 4, generator=g)  # tokens of b at P + b (diff_vocab)
    linear = lambda x_a, x_b: w_a @ x_a + w_b @ x_b  # noqa: E731
    expected = np.mean(
        [float(torch.cosine_similarity(w_a[c], w_b[c], dim=0)) for *_, c in sample_triples(P)]
    )
    value = gradient_symmetricity(linear, table, P, embedding_b=lambda b: table[P + b])
    assert value == pytest.approx(expected, rel=1e-6)
    assert gradient_symmetricity(lambda x_a, x_b: w_a @ (x_a + x_b), table, P) == pytest.approx(1)


def test_symmetricity_runs_on_a_torch_module():
    torch.manual_seed(0)
    embed = torch.nn.Embedding(P, 8)
    mlp = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, P))
    value = gradient_symmetricity(
        lambda x_a, x_b: mlp(torch.cat([x_a, x_b])), lambda t: embed.weight[t], P, samples=20
    )
    assert -1 <= value <= 1
    assert embed.weight.grad is None  # the gradients are taken at detached copies


def test_symmetricity_validation():
    with pytest.raises(ValueError, match=r"1-D tensor of logits"):
        gradient_symmetricity(lambda x_a, x_b: pizza_logits(x_a, x_b)[None], circle(), P)
    with pytest.raises(ValueError, match=r"\[V ≥ 31, d\]"):
        gradient_symmetricity(pizza_logits, circle()[:10], P)
    with pytest.raises(ValueError, match="zero"):
        x = circle()[0].clone().requires_grad_(True)
        gradient_cosine(lambda x_a, x_b: score(x_a), x, x.detach().clone().requires_grad_(), 0)


def test_sum_difference_reindexing_by_hand():
    """p = 3, Q[a, b] = 10a + b; e.g. (a, b) = (2, 1) lands at s = 0, d = 1."""
    q = torch.tensor([[10.0 * a + b for b in range(3)] for a in range(3)])
    expected = torch.tensor([[0, 21, 12], [22, 10, 1], [11, 2, 20]], dtype=torch.float64)
    assert torch.equal(sum_difference_table(q, 3), expected)
    assert torch.equal(sum_difference_table(q.numpy(), 3), expected)


def test_correct_logit_table_picks_the_answer_class():
    """Logit of class c at (a, b) is 100a + 10b + c: the table must read c = (a + b) mod 5."""
    classes = torch.arange(7, dtype=torch.float64)  # V = 7 ≥ p
    logits = lambda a, b: (100 * a + 10 * b)[:, None].double() + classes  # noqa: E731
    table = correct_logit_table(logits, 5)
    assert table.shape == (5, 5) and table.dtype == torch.float64
    expected = [[100 * a + 10 * b + (a + b) % 5 for b in range(5)] for a in range(5)]
    assert table.tolist() == expected
    q = correct_logit_table(on_tokens(pizza_logits), P)
    a, b = 4, 9
    assert q[a, b] == pytest.approx(4 * math.cos(OMEGA * (a - b) / 2) ** 2)


def test_clock_distance_irrelevance_is_one():
    """Correct logit 1 + 0.5 cos ω s depends on s = a + b only."""
    q = correct_logit_table(on_tokens(lambda x_a, x_b: clock_logits(x_a, x_b, 0.5)), P)
    assert distance_irrelevance(q, P) == pytest.approx(1.0, abs=1e-12)


def test_pizza_distance_irrelevance_is_zero():
    """Correct logit 4cos²(ωd/2) depends on d = a − b only."""
    q = correct_logit_table(on_tokens(pizza_logits), P)
    assert distance_irrelevance(q, P) == pytest.approx(0.0, abs=1e-12)


def test_mixture_distance_irrelevance_matches_the_variance_split():
    """Q = f(s) + g(d) on the odd-p grid, where s and d are independent and uniform:
    std_s Q[s, d] = std f for every d and std Q = √(var f + var g)."""
    g = torch.Generator().manual_seed(1)
    f = torch.randn(P, generator=g, dtype=torch.float64)
    h = 2 * torch.randn(P, generator=g, dtype=torch.float64)
    a, b = torch.arange(P)[:, None], torch.arange(P)[None, :]
    q = f[(a + b) % P] + h[(a - b) % P]  # [a, b]
    sf, sh = f.std(correction=0), h.std(correction=0)
    expected = float(sf / torch.sqrt(sf**2 + sh**2))
    assert distance_irrelevance(q, P) == pytest.approx(expected, rel=1e-12)
    assert 0.2 < expected < 0.8


def test_distance_irrelevance_validation():
    with pytest.raises(ValueError, match=r"\[p, p\] = \[5, 5\]"):
        distance_irrelevance(torch.zeros(5, 4), 5)
    with pytest.raises(ValueError, match="odd"):
        distance_irrelevance(torch.randn(4, 4), 4)
    with pytest.raises(ValueError, match="constant"):
        distance_irrelevance(torch.ones(5, 5), 5)
    with pytest.raises(ValueError, match=r"logits \[p² = 25"):
        correct_logit_table(lambda a, b: torch.zeros(len(a), 3), 5)
