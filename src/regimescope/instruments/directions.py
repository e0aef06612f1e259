"""Directions in a site's activation space: find one, ablate it, steer along it, and measure
what the model then *does* (the probability and accuracy of its answer), not only a logit.

- **Mean difference** (mass-mean probe; Marks & Tegmark, arXiv 2310.06824):
  θ = μ₊ − μ₋, the mean activation of the positive examples minus that of the negatives
  (activation units). The probe direction (``probes.probe_direction``) is the alternative.
- **Ablation** of θ̂ = θ / ‖θ‖ at a site: *projection* h ← h − (h·θ̂)θ̂ removes the component
  altogether; *mean ablation* h ← h − (h·θ̂ − m)θ̂ sets it to m, its mean over reference
  inputs, and so keeps the activation on-distribution.
- **Steering**: h ← h + α·θ. With θ the mean difference, α = 1 moves a typical negative
  example's component to a typical positive one's; the dose-response runs over a grid of α.
- **Subspace patching**: the component of h in the span of a basis [k, d] (orthonormal rows)
  set to that of another run's activation; with a one-row basis, the normalised effect of a
  direction (``patching``). Caveat (Makelov et al., arXiv 2311.17030): a subspace patch can
  move behaviour through a direction the model does not use on its own, by activating a
  dormant pathway; compare with the full-site patch and with the random-init copy.

Behaviour is read at the last position: p(target) (softmax over the whole vocabulary),
accuracy (the argmax is the target), and LD = logit(target) − logit(foil).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import torch
from torch import Tensor, nn

from regimescope.errors import BadInput
from regimescope.instruments.patching import logit_difference
from regimescope.instruments.sites import edit_at, hooks, run_with_cache

ABLATIONS = ("project", "mean")


def mean_difference(x: Tensor, labels: Sequence[int]) -> Tensor:
    """θ = μ₊ − μ₋ of activations ``x`` [N, d] with binary ``labels`` [N] (1 = positive)."""
    y = torch.as_tensor(np.asarray(labels), dtype=torch.bool)
    if y.all() or not y.any():
        raise BadInput("a mean difference needs examples of both labels (0 and 1)")
    return x[y].mean(0) - x[~y].mean(0)  # [d]


def unit(theta: Tensor) -> Tensor:
    return theta / theta.norm()


def project_out(h: Tensor, theta: Tensor) -> Tensor:
    """h − (h·θ̂)θ̂ for h [..., d]."""
    direction = unit(theta).to(h.dtype)
    return h - (h @ direction)[..., None] * direction


def mean_ablate(h: Tensor, theta: Tensor, value: float) -> Tensor:
    """h − (h·θ̂ − value)θ̂: the component along θ̂ set to ``value`` for every row."""
    direction = unit(theta).to(h.dtype)
    return h - ((h @ direction) - value)[..., None] * direction


def steer(h: Tensor, theta: Tensor, alpha: float) -> Tensor:
    """h + α·θ."""
    return h + alpha * theta.to(h.dtype)


def swap_subspace(base: Tensor, source: Tensor, basis: Tensor) -> Tensor:
    """base with its coordinates in span(basis) replaced by source's: basis [k, d] with
    orthonormal rows; base, source [..., d]. base + ((source − base) Bᵀ) B."""
    basis = basis.to(base.dtype)
    return base + ((source - base) @ basis.T) @ basis  # [..., k] @ [k, d] -> [..., d]


def behaviour(logits: Tensor, target: Tensor, foil: Tensor) -> dict[str, np.ndarray]:
    """Per row of last-position logits [B, V]: p_target, correct (argmax = target), ld."""
    probs = torch.softmax(logits.double(), -1)
    rows = torch.arange(len(logits))
    return {
        "p_target": probs[rows, target].cpu().numpy(),
        "correct": (logits.argmax(-1) == target).cpu().numpy().astype(float),
        "ld": logit_difference(logits, target, foil).cpu().numpy(),
    }


def summarise(found: dict[str, np.ndarray]) -> dict[str, float]:
    """Means of ``behaviour`` over rows: p_target, accuracy, ld."""
    return {
        "p_target": float(found["p_target"].mean()),
        "accuracy": float(found["correct"].mean()),
        "ld": float(found["ld"].mean()),
    }


@torch.no_grad()
def edited_behaviour(
    model: nn.Module,
    ids: Tensor,
    target: Tensor,
    foil: Tensor,
    name: str,
    edit,
    positions: Sequence[int] | None = None,
) -> dict[str, float]:
    """Mean behaviour of ``model`` on ``ids`` [B, T] with ``edit`` applied at site ``name``
    (at ``positions``; None = every position)."""
    with hooks(model, [(name, edit_at(edit, positions))]):
        logits = model(input_ids=ids).logits[:, -1]
    return summarise(behaviour(logits, target, foil))


def ablation(
    model: nn.Module,
    ids: Tensor,
    target: Tensor,
    foil: Tensor,
    name: str,
    theta: Tensor,
    mode: str = "project",
    value: float = 0.0,
    positions: Sequence[int] | None = None,
) -> dict[str, dict[str, float]]:
    """Behaviour before and after ablating θ at ``name``: {"before": ..., "after": ...}.
    mode "project" removes the component, "mean" sets it to ``value`` (its reference mean)."""
    if mode not in ABLATIONS:
        raise BadInput(f"unknown ablation {mode!r}; choose from: {', '.join(ABLATIONS)}")
    if mode == "project":
        edit = partial(project_out, theta=theta)
    else:
        edit = partial(mean_ablate, theta=theta, value=value)
    return {
        "before": edited_behaviour(model, ids, target, foil, name, lambda h: h, positions),
        "after": edited_behaviour(model, ids, target, foil, name, edit, positions),
    }


def steering_curve(
    model: nn.Module,
    ids: Tensor,
    target: Tensor,
    foil: Tensor,
    name: str,
    theta: Tensor,
    alphas: Sequence[float],
    positions: Sequence[int] | None = None,
) -> list[dict[str, float]]:
    """Dose-response: behaviour at each α of h + α·θ, one dict per α (with "alpha")."""
    return [
        {"alpha": float(alpha)}
        | edited_behaviour(
            model, ids, target, foil, name, partial(steer, theta=theta, alpha=alpha), positions
        )
        for alpha in alphas
    ]


@torch.no_grad()
def subspace_patch(
    model: nn.Module,
    receiver: Tensor,
    source: Tensor,
    target: Tensor,
    foil: Tensor,
    name: str,
    position: int,
    basis: Tensor,
) -> np.ndarray:
    """[N] LD of ``receiver`` runs with span(basis) at ``name``/``position`` taken from the
    ``source`` runs (same length). Feed it, with the clean and corrupted LDs, to
    ``patching.normalised_effect`` for the normalised effect of a direction or subspace."""
    _, cache = run_with_cache(model, source, [name], positions=[position])
    donor = cache[name][:, 0]  # [N, d]
    edit = partial(swap_subspace, source=donor[:, None], basis=basis)  # on h [N, 1, d]
    with hooks(model, [(name, edit_at(edit, [position]))]):
        logits = model(input_ids=receiver).logits[:, -1]
    return logit_difference(logits, target, foil).cpu().numpy()
