"""The dynamics instruments against exact references: sharpness against a full Hessian
eigen-decomposition, the noise scale on a problem with a known covariance, the scaling-law
fit on exact and noisy power laws, the collapse spread on curves made to collapse."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call

from regimescope.instruments.loss_collapse import collapse_spread, normalise
from regimescope.instruments.noise_scale import from_microbatches, noise_scale
from regimescope.instruments.scaling_law import PowerLaw, fit_power_law, fit_with_interval
from regimescope.instruments.sharpness import (
    adam_preconditioner,
    adam_threshold,
    sharpness,
    top_eigenvalue,
)


def tiny_regression(seed: int = 0):
    """A 3 -> 5 -> 1 tanh network (26 parameters, float64) and its fixed batch."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
    x = torch.randn(32, 3, generator=g, dtype=torch.float64)
    return model.double(), x, torch.sin(3 * x.sum(dim=1, keepdim=True))


def exact_hessian(model, x, y) -> torch.Tensor:
    """The Hessian [P, P] of the MSE in the flattened parameters, formed in full."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss_of(vector):
        chunks = torch.split(vector, [s.numel() for s in shapes])
        params = {n: c.view(s) for n, c, s in zip(names, chunks, shapes, strict=True)}
        return torch.nn.functional.mse_loss(functional_call(model, params, (x,)), y)

    return torch.autograd.functional.hessian(loss_of, flat)


def by_magnitude(eigenvalues: torch.Tensor) -> float:
    return float(eigenvalues[eigenvalues.abs().argmax()])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sharpness_equals_the_top_eigenvalue_of_the_full_hessian(seed):
    model, x, y = tiny_regression(seed)
    exact = by_magnitude(torch.linalg.eigvalsh(exact_hessian(model, x, y)))
    params = list(model.parameters())
    found = sharpness(
        lambda: torch.nn.functional.mse_loss(model(x), y), params, iterations=500, tol=1e-10
    )
    assert found.converged
    assert found.value == pytest.approx(exact, rel=1e-6)


def test_preconditioned_sharpness_is_the_top_eigenvalue_of_p_inverse_h():
    model, x, y = tiny_regression(3)
    hessian = exact_hessian(model, x, y)
    g = torch.Generator().manual_seed(0)
    diagonal = [
        torch.rand(p.shape, generator=g, dtype=torch.float64) + 0.1 for p in model.parameters()
    ]
    p = torch.cat([d.reshape(-1) for d in diagonal])
    exact = by_magnitude(torch.linalg.eigvals(hessian / p[:, None]).real)  # eig(P⁻¹H)
    found = sharpness(
        lambda: torch.nn.functional.mse_loss(model(x), y),
        list(model.parameters()),
        preconditioner=diagonal,
        iterations=1000,
        tol=1e-11,
    )
    assert found.value == pytest.approx(exact, rel=1e-6)


def test_power_iteration_on_a_known_symmetric_matrix_and_its_cap():
    a = torch.diag(torch.tensor([5.0, -2.0, 1.0], dtype=torch.float64))
    found = top_eigenvalue(lambda v: [a @ v[0]], [torch.zeros(3, dtype=torch.float64)], 200, 1e-12)
    assert found.value == pytest.approx(5.0, rel=1e-9) and found.converged
    capped = top_eigenvalue(lambda v: [a @ v[0]], [torch.zeros(3, dtype=torch.float64)], 2, 1e-12)
    assert capped.iterations == 2 and not capped.converged


def test_adam_preconditioner_and_threshold():
    model, x, y = tiny_regression(4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    params = list(model.parameters())
    assert adam_preconditioner(optimizer, params) is None  # before the first step
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    diagonal = adam_preconditioner(optimizer, params[::-1])[::-1]  # in the order asked for
    state = optimizer.state[model[0].weight]
    expected = (state["exp_avg_sq"] / (1 - 0.999**3)).sqrt() + 1e-8
    assert torch.allclose(diagonal[0], expected)
    assert adam_threshold(0.01, 0.9) == pytest.approx(3800.0)  # 38 / η
    assert adam_threshold(0.01, 0.0) == pytest.approx(200.0)  # 2 / η


def test_noise_scale_recovers_a_known_covariance():
    """Per-example gradients G + ξ, ξ ~ N(0, diag σ²): B_simple = Σσ² / |G|² = 32."""
    g = torch.Generator().manual_seed(0)
    mean = torch.tensor([1.0, -1.0, 0.5, 0.0], dtype=torch.float64)  # |G|² = 2.25
    sigma = torch.full((4,), 18.0, dtype=torch.float64).sqrt()  # tr Σ = 72
    truth = float((sigma**2).sum() / (mean**2).sum())
    assert truth == pytest.approx(32.0)

    def batch_mean(size: int) -> torch.Tensor:
        return mean + (torch.randn(size, 4, generator=g, dtype=torch.float64) * sigma).mean(0)

    small = [float((batch_mean(8) ** 2).sum()) for _ in range(4000)]
    big = [float((batch_mean(128) ** 2).sum()) for _ in range(4000)]
    found = noise_scale(small, big, 8, 128)
    assert found.trace_cov == pytest.approx(72.0, rel=0.05)
    assert found.gradient_sq == pytest.approx(2.25, rel=0.05)
    assert found.b_simple == pytest.approx(truth, rel=0.08)

    grads = torch.stack([batch_mean(8) for _ in range(20000)])  # 20000 micro-batches of 8
    assert from_microbatches(grads, 8).b_simple == pytest.approx(truth, rel=0.08)


def test_noise_scale_is_exact_on_expected_norms_and_refuses_bad_sizes():
    g_sq, trace = 3.0, 60.0
    found = noise_scale([g_sq + trace / 4], [g_sq + trace / 64], 4, 64)
    assert (found.gradient_sq, found.trace_cov, found.b_simple) == pytest.approx((3.0, 60.0, 20.0))
    assert np.isnan(noise_scale([10.0], [0.1], 4, 64).b_simple)  # |G|² estimate <= 0
    with pytest.raises(ValueError, match="b_small < b_big"):
        noise_scale([1.0], [1.0], 64, 4)


def test_power_law_fit_recovers_exact_parameters():
    truth = PowerLaw(irreducible=1.5, scale=40.0, exponent=0.35)
    sizes = [1e4, 3e4, 1e5, 3e5, 1e6, 3e6]
    law = fit_power_law(sizes, [truth.predict(n) for n in sizes])
    assert law.irreducible == pytest.approx(1.5, rel=1e-4)
    assert law.scale == pytest.approx(40.0, rel=1e-3)
    assert law.exponent == pytest.approx(0.35, rel=1e-4)


def test_power_law_interval_covers_the_truth_and_predicts_out_of_sample():
    truth = PowerLaw(irreducible=1.2, scale=25.0, exponent=0.5)
    rng = np.random.default_rng(0)
    sizes = [2e3, 8e3, 3.2e4, 1.28e5, 5.12e5]
    data = {n: truth.predict(n) + rng.normal(0, 0.002, size=6) for n in sizes}
    fit, (point, low, high) = fit_with_interval(data, predict_at=2.048e6, resamples=200)
    assert fit.exponent_ci[0] < 0.5 < fit.exponent_ci[1]
    assert low < truth.predict(2.048e6) < high and low <= point <= high
    one_seed = {n: [truth.predict(n)] for n in sizes}
    fit, _ = fit_with_interval(one_seed, resamples=20)
    assert fit.exponent_ci[0] == pytest.approx(fit.exponent_ci[1])  # nothing to resample


def test_curves_of_one_shape_collapse_and_others_do_not():
    def curve(end: int, height: float, shape: float, irreducible: float = 2.0):
        steps = np.arange(1, end + 1)
        return steps, irreducible + height * (steps / end) ** (-shape)

    same = [curve(200, 3.0, 0.4), curve(500, 1.0, 0.4), curve(1000, 0.5, 0.4)]
    # zero up to linear interpolation between each curve's own steps
    assert collapse_spread(same, irreducible=2.0) == pytest.approx(0.0, abs=1e-4)
    assert collapse_spread(same) > 0.01  # without E subtracted they do not collapse exactly
    different = [curve(200, 3.0, 0.2), curve(500, 1.0, 0.4), curve(1000, 0.5, 0.8)]
    assert collapse_spread(different, irreducible=2.0) > 0.1
    x, y = normalise(*curve(100, 1.0, 0.4), irreducible=2.0)
    assert x[-1] == 1.0 and y[-1] == 1.0
    with pytest.raises(ValueError, match="two curves"):
        collapse_spread(same[:1])
    with pytest.raises(ValueError, match="starts at"):
        collapse_spread([curve(5, 1.0, 0.4), curve(10, 1.0, 0.4)], x_min=0.1)
