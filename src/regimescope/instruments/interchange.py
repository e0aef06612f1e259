"""Interchange interventions on a learned subspace: distributed alignment search (DAS).

Geiger, Wu, Potts, Icard & Goodman, arXiv 2303.02536. A high-level causal model says what the
output should be if a variable took the value it has in another input. DAS tests whether a
k-dimensional subspace of one site, at one position, holds that variable: learn an orthogonal
matrix R [d, d] whose first k rows B = R[:k] span the subspace; on a (base, source) pair, run
the base input with its activation h_b replaced by

    h_b + ((h_s − h_b) Bᵀ) B        (its coordinates in span(B) taken from the source's h_s)

and train R (the model frozen) with cross-entropy towards the counterfactual answer, the one
the causal model predicts for the base with the source's value of the variable.

    IIA = share of held-out pairs whose intervened argmax (whole vocabulary, last position)
          equals the counterfactual answer                                    (fraction)

Controls reported beside it, because IIA rises with k even in networks that hold no such
variable: the same search on the random-init copy of the model (``sites.random_init_copy``),
the IIA of no intervention (pairs whose base output already is the counterfactual one) and
of swapping the whole activation (k = d). Makelov et al. (arXiv 2311.17030) show a learned
subspace can pass by activating a dormant pathway: compare with the full swap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from functools import partial

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import orthogonal

from regimescope.errors import BadInput
from regimescope.instruments.directions import swap_subspace
from regimescope.instruments.probes import held_out_split, wilson_interval
from regimescope.instruments.sites import edit_at, hooks, random_init_copy, run_with_cache


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """The model with no parameter requiring a gradient; restored on exit."""
    flags = [p.requires_grad for p in model.parameters()]
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        yield model
    finally:
        for p, flag in zip(model.parameters(), flags, strict=True):
            p.requires_grad_(flag)


def donor_activations(model: nn.Module, source: Tensor, name: str, position: int) -> Tensor:
    """[N, 1, d] activations of the source runs at ``name``/``position``."""
    with torch.no_grad():
        _, cache = run_with_cache(model, source, [name], positions=[position])
    return cache[name]


def intervened_logits(
    model: nn.Module, base: Tensor, donor: Tensor, name: str, position: int, basis: Tensor
) -> Tensor:
    """[N, V] last-position logits of the base runs [N, T] with span(basis) at
    ``name``/``position`` swapped in from ``donor`` [N, 1, d]."""
    edit = partial(swap_subspace, source=donor, basis=basis)  # on h [N, 1, d]
    with hooks(model, [(name, edit_at(edit, [position]))]):
        return model(input_ids=base).logits[:, -1]


def train_subspace(
    model: nn.Module,
    base: Tensor,
    source: Tensor,
    counterfactual: Tensor,
    name: str,
    position: int,
    k: int,
    steps: int = 200,
    lr: float = 1e-2,
    batch_size: int = 64,
    seed: int = 0,
) -> Tensor:
    """The learned basis B [k, d] (orthonormal rows): Adam on the rotation's parameters,
    ``steps`` minibatches of ``batch_size`` pairs, loss CE(intervened logits, counterfactual)."""
    donor = donor_activations(model, source, name, position)  # [N, 1, d]
    d = donor.shape[-1]
    if not 1 <= k <= d:
        raise BadInput(f"subspace size k must be in 1..{d}, got {k}")
    generator = torch.Generator().manual_seed(seed)
    rotation = nn.Linear(d, d, bias=False, dtype=donor.dtype, device=donor.device)
    nn.init.orthogonal_(rotation.weight, generator=generator)
    rotation = orthogonal(rotation)
    optimizer = torch.optim.Adam(rotation.parameters(), lr=lr)
    with frozen(model), torch.enable_grad():
        for _ in range(steps):
            rows = torch.randperm(len(base), generator=generator)[:batch_size]
            basis = rotation.weight[:k]  # [k, d]
            logits = intervened_logits(model, base[rows], donor[rows], name, position, basis)
            loss = nn.functional.cross_entropy(logits.float(), counterfactual[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return rotation.weight[:k].detach()


@torch.no_grad()
def interchange_accuracy(
    model: nn.Module,
    base: Tensor,
    source: Tensor,
    counterfactual: Tensor,
    name: str,
    position: int,
    basis: Tensor | None,
) -> np.ndarray:
    """[N] bool: the intervened argmax equals the counterfactual answer. ``basis`` None
    means no intervention."""
    if basis is None:
        logits = model(input_ids=base).logits[:, -1]
    else:
        donor = donor_activations(model, source, name, position)
        logits = intervened_logits(model, base, donor, name, position, basis)
    return (logits.argmax(-1) == counterfactual).cpu().numpy()


def _scored(correct: np.ndarray) -> dict:
    return {
        "iia": float(correct.mean()),
        "ci": wilson_interval(int(correct.sum()), len(correct)),
    }


def das_sweep(
    model: nn.Module,
    base: Tensor,
    source: Tensor,
    counterfactual: Tensor,
    name: str,
    position: int,
    ks: Sequence[int] = (1, 2, 3, 4),
    test_fraction: float = 0.3,
    baseline_seed: int = 0,
    **training,
) -> dict:
    """DAS at one site/position for each k, on the model and on its random-init copy, trained
    on one split of the pairs and scored (IIA with a Wilson interval) on the other:
    {"model": {k: ...}, "random_init": {k: ...}, each with "none" (no intervention) and
    "full" (the whole activation swapped), "n_train", "n_test"}. ``training`` goes to
    ``train_subspace`` (steps, lr, batch_size, seed)."""
    if not (len(base) == len(source) == len(counterfactual)):
        raise BadInput("base, source and counterfactual must have one row per pair")
    seed = training.get("seed", 0)
    train, test = (torch.as_tensor(i) for i in held_out_split(len(base), test_fraction, seed))
    result = {"n_train": len(train), "n_test": len(test)}
    for label, net in (("model", model), ("random_init", random_init_copy(model, baseline_seed))):
        fit = (base[train], source[train], counterfactual[train], name, position)
        held = (base[test], source[test], counterfactual[test], name, position)
        scores = {
            k: _scored(interchange_accuracy(net, *held, train_subspace(net, *fit, k, **training)))
            for k in ks
        }
        scores["none"] = _scored(interchange_accuracy(net, *held, None))
        scores["full"] = _scored(
            interchange_accuracy(net, *held, torch.eye(net.config.hidden_size))
        )
        result[label] = scores
    return result
