"""Learning-mechanics readings during a training run: sharpness (and Adam's preconditioned
sharpness) and the gradient noise scale, on a fixed probe batch.

What it departs from: Cohen et al. read sharpness on a fixed subset of the training data
at every step of full-batch training; McCandlish et al. estimate the noise scale from the
gradient norms of the training batches themselves, averaged over many steps. Here both
are read on the recorder's probe batch every N optimizer steps, so a reading costs the
same at every step and does not touch the run: sharpness is ``iterations`` Hessian-vector
products (about two backward passes each), the noise scale one backward pass per example
of the probe batch (its per-example gradients give the small batch, B = 1, their mean the
big one, B = probe size). Gradients are computed with ``torch.autograd.grad`` and never
written to ``.grad``, so the optimizer's step is unchanged. Formulas, units and sources:
``instruments.sharpness`` and ``instruments.noise_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from regimescope.instruments.noise_scale import noise_scale
from regimescope.instruments.sharpness import adam_preconditioner, sharpness

IGNORE = -100


@dataclass(frozen=True)
class MechanicsConfig:
    sharpness_every: int = 0  # read λ_max(H) every N optimizer steps (0: never)
    sharpness_iterations: int = 20  # Hessian-vector products per reading, at most
    sharpness_tol: float = 1e-3  # stop when λ changes by less than this, relative
    preconditioned: bool = True  # also λ_max(P⁻¹H) with the optimizer's Adam P, if it has one
    noise_scale_every: int = 0  # read B_simple from the probe's per-example gradients (0: never)


def probe_loss(model, batch: dict, rows: slice = slice(None)) -> torch.Tensor:
    """Mean next-token cross-entropy of the probe batch's ``rows`` (nats per token): on its
    ``labels`` when it has them, else on every attended token."""
    device = next(model.parameters()).device
    ids = batch["input_ids"][rows].to(device)
    attention = batch.get("attention_mask", torch.ones_like(batch["input_ids"]))[rows].to(device)
    labels = batch.get("labels")
    labels = ids.masked_fill(attention == 0, IGNORE) if labels is None else labels[rows].to(device)
    return model(input_ids=ids, attention_mask=attention, labels=labels).loss


def sharpness_stats(model, batch: dict, optimizer, config: MechanicsConfig) -> dict[str, float]:
    """``sharpness`` (λ_max of the probe loss's Hessian) and, with an Adam-type optimizer
    and ``config.preconditioned``, ``sharpness_adam`` (λ_max(P⁻¹H)); eval mode (no dropout)."""
    params = [p for p in model.parameters() if p.requires_grad]
    was_training = model.training
    model.eval()
    plain = sharpness(
        lambda: probe_loss(model, batch),
        params,
        iterations=config.sharpness_iterations,
        tol=config.sharpness_tol,
    )
    stats = {"sharpness": plain.value, "sharpness_iterations": float(plain.iterations)}
    use_adam = config.preconditioned and optimizer is not None
    diagonal = adam_preconditioner(optimizer, params) if use_adam else None
    if diagonal is not None:
        adam = sharpness(
            lambda: probe_loss(model, batch),
            params,
            preconditioner=diagonal,
            iterations=config.sharpness_iterations,
            tol=config.sharpness_tol,
        )
        stats["sharpness_adam"] = adam.value
    model.train(was_training)
    return stats


def noise_scale_stats(model, batch: dict) -> dict[str, float]:
    """``noise_scale`` (B_simple, examples), ``gradient_sq`` and ``trace_cov`` from the
    gradient of each probe example (B_small = 1) and of their mean (B_big = examples)."""
    params = [p for p in model.parameters() if p.requires_grad]
    examples = batch["input_ids"].shape[0]
    if examples < 2:
        return {}
    was_training = model.training
    model.eval()
    total = [torch.zeros_like(p) for p in params]
    small_sq = []
    for row in range(examples):
        grads = torch.autograd.grad(probe_loss(model, batch, slice(row, row + 1)), params)
        small_sq.append(float(sum((g.double() ** 2).sum() for g in grads)))
        for acc, g in zip(total, grads, strict=True):
            acc.add_(g)
    big_sq = float(sum(((acc / examples).double() ** 2).sum() for acc in total))
    model.train(was_training)
    found = noise_scale(small_sq, [big_sq], 1, examples)
    return {
        "noise_scale": found.b_simple,
        "gradient_sq": found.gradient_sq,
        "trace_cov": found.trace_cov,
    }


def mechanics_due(config: MechanicsConfig | None, step: int) -> bool:
    """Whether any reading of ``config`` falls on ``step``."""
    if config is None:
        return False
    return any(
        every and step % every == 0 for every in (config.sharpness_every, config.noise_scale_every)
    )


def mechanics_stats(
    model, batch: dict, optimizer, config: MechanicsConfig | None, step: int
) -> dict:
    """The readings of ``config`` due at ``step`` on the fixed probe ``batch``, each at
    its own cadence: ``sharpness_stats`` and ``noise_scale_stats``."""
    if config is None:
        return {}
    record: dict = {}
    if config.sharpness_every and step % config.sharpness_every == 0:
        record |= sharpness_stats(model, batch, optimizer, config)
    if config.noise_scale_every and step % config.noise_scale_every == 0:
        record |= noise_scale_stats(model, batch)
    return record
