"""Sharpness: the top eigenvalue of the loss Hessian, by power iteration on Hessian-vector
products (Cohen et al. 2021, "Gradient Descent on Neural Networks Typically Occurs at the
Edge of Stability", arXiv 2103.00065), and its Adam-preconditioned form (Cohen et al.
2022, "Adaptive Gradient Methods at the Edge of Stability", arXiv 2207.14484).

- Sharpness λ_max(H), H = ∇²L(θ) on one fixed batch. Power iteration: v ← Hv / ‖Hv‖,
  λ ← vᵀHv, each Hv by double backpropagation (Pearlmutter 1994) at the cost of about
  two backward passes, never forming H. Unit: loss per squared parameter unit. Gradient
  descent with step η is stable along a direction only while λ < 2/η: the edge of
  stability is sharpness rising to 2/η and hovering there.
- Preconditioned sharpness λ_max(P⁻¹H) with P = diag(√v̂ + ε) (v̂ Adam's bias-corrected
  second moment, ε its epsilon), computed as the top eigenvalue of the symmetric
  P^(−1/2) H P^(−1/2), which has the same eigenvalues. Adam with momentum β₁ is stable
  while it stays below (2 + 2β₁) / ((1 − β₁) η) (38/η at β₁ = 0.9, Cohen et al. 2022).

Power iteration converges to the eigenvalue of largest *magnitude*; early in training a
negative eigenvalue can dominate, and the reading is then negative (reported as measured,
not clipped). It stops when λ changes by less than ``tol`` relative, or after
``iterations`` products; the start vector is seeded, so a reading is reproducible.
Checked against a full eigen-decomposition of the Hessian of a small model
(tests/test_dynamics_instruments.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel


@dataclass(frozen=True)
class Sharpness:
    value: float  # the top eigenvalue's estimate (of H, or of P⁻¹H when preconditioned)
    iterations: int  # Hessian-vector products used
    converged: bool  # whether the relative change fell below tol before the cap


def _normalise(vector: list[torch.Tensor]) -> list[torch.Tensor]:
    norm = torch.sqrt(sum((v * v).sum() for v in vector))
    return [v / norm for v in vector]


def top_eigenvalue(
    product: Callable[[list[torch.Tensor]], list[torch.Tensor]],
    like: Sequence[torch.Tensor],
    iterations: int = 20,
    tol: float = 1e-3,
    seed: int = 0,
) -> Sharpness:
    """Power iteration for the eigenvalue of largest magnitude of a symmetric operator
    given as ``product(v) -> Av`` on vectors shaped like ``like``."""
    g = torch.Generator().manual_seed(seed)
    v = _normalise([torch.randn(p.shape, generator=g).to(p) for p in like])
    value = 0.0
    for step in range(1, iterations + 1):
        av = product(v)
        estimate = float(sum((a * b).sum() for a, b in zip(av, v, strict=True)))  # vᵀAv
        if step > 1 and abs(estimate - value) <= tol * max(abs(estimate), 1e-12):
            return Sharpness(estimate, step, True)
        value, v = estimate, _normalise([a.detach() for a in av])
    return Sharpness(value, iterations, False)


def sharpness(
    loss_fn: Callable[[], torch.Tensor],
    params: Sequence[torch.Tensor],
    preconditioner: Sequence[torch.Tensor] | None = None,
    iterations: int = 20,
    tol: float = 1e-3,
    seed: int = 0,
) -> Sharpness:
    """λ_max of the Hessian of ``loss_fn()`` (the loss on one fixed batch) in ``params``;
    with ``preconditioner`` (the diagonal P, shaped like ``params``), λ_max(P⁻¹H).

    The loss and its first-order graph are built once and reused by every product, with
    attention on PyTorch's math kernel (the fused CPU and flash kernels have no double
    backward).
    """
    params = [p for p in params]
    with sdpa_kernel(SDPBackend.MATH):
        loss = loss_fn()
        grads = torch.autograd.grad(loss, params, create_graph=True)
    scale = None if preconditioner is None else [p.rsqrt() for p in preconditioner]

    def product(v: list[torch.Tensor]) -> list[torch.Tensor]:
        w = v if scale is None else [a * s for a, s in zip(v, scale, strict=True)]
        dot = sum((g * x).sum() for g, x in zip(grads, w, strict=True))
        hw = torch.autograd.grad(dot, params, retain_graph=True)
        return list(hw) if scale is None else [a * s for a, s in zip(hw, scale, strict=True)]

    return top_eigenvalue(product, params, iterations, tol, seed)


def adam_preconditioner(
    optimizer: torch.optim.Optimizer, params: Sequence[torch.Tensor]
) -> list[torch.Tensor] | None:
    """Adam's diagonal P = √v̂ + ε (v̂ = exp_avg_sq / (1 − β₂^t)) for each of ``params``, in
    their order (an optimizer's groups may order them otherwise); None when one of them
    has no second moment yet (before the first step) or is not the optimizer's."""
    found = {}
    for group in optimizer.param_groups:
        beta2, eps = group["betas"][1], group["eps"]
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            if "exp_avg_sq" in state:
                bias = 1 - beta2 ** float(state["step"])
                found[id(p)] = (state["exp_avg_sq"] / bias).sqrt() + eps
    if any(id(p) not in found for p in params):
        return None
    return [found[id(p)] for p in params]


def adam_threshold(lr: float, beta1: float) -> float:
    """The stability threshold of preconditioned sharpness for Adam: (2 + 2β₁)/((1 − β₁)η)
    (Cohen et al. 2022, eq. 2); 2/η for β₁ = 0 (plain preconditioned gradient descent)."""
    return (2 + 2 * beta1) / ((1 - beta1) * lr)
