"""Per-layer statistics of a model's live weights: norms and the relative size of an update.

For the parameters theta_l of layer l (layers labelled by ``param_names.layer_of``:
``embed``, ``layer_0`` .. ``layer_{L-1}``, ``norm``, ``lm_head``):

- weight norm: ||theta_l||_2 = sqrt(sum of squared entries), and over all layers;
- update ratio: ||theta_l,now - theta_l,before||_2 / ||theta_l,before||_2, the relative
  size of the update between two copies, a standard health signal (about 1e-3 per step is
  the folklore target for Adam, Karpathy's CS231n notes).

Units: weight units for norms, dimensionless for ratios. The fraction of entries that
changed at all, in fp32 and in bf16, is ``precision.changed_fractions``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

import torch

from regimescope.instruments.param_names import layer_of


def by_layer(pairs: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Sum per-parameter values (squared norms, counts) into their layers (``layer_of``).

    >>> by_layer([("model.layers.0.a.weight", 1.0), ("model.layers.0.b.weight", 2.0)])
    {'layer_0': 3.0}
    """
    totals: dict[str, float] = defaultdict(float)
    for name, value in pairs:
        totals[layer_of(name)] += value
    return dict(totals)


def update_ratios(before: Mapping[str, torch.Tensor], model: torch.nn.Module) -> dict[str, float]:
    """||theta_now - theta_before||_2 / ||theta_before||_2 per layer (``update_ratio/<layer>``).

    ``before`` maps parameter names to earlier detached copies; only those parameters
    count. A layer whose earlier norm is 0 is divided by 1e-12 instead.
    """
    params = dict(model.named_parameters())
    delta = by_layer(
        (n, (params[n].detach() - w).float().pow(2).sum().item()) for n, w in before.items()
    )
    norm = by_layer((n, w.float().pow(2).sum().item()) for n, w in before.items())
    return {
        f"update_ratio/{k}": (delta[k] ** 0.5) / max(norm[k] ** 0.5, 1e-12) for k in sorted(delta)
    }


def weight_norms(model: torch.nn.Module) -> dict[str, float]:
    """L2 norm of the weights per layer (``weight_norm/<layer>``) and overall (``weight_norm``)."""
    squares = by_layer(
        (n, p.detach().float().pow(2).sum().item()) for n, p in model.named_parameters()
    )
    stats = {f"weight_norm/{k}": v**0.5 for k, v in sorted(squares.items())}
    stats["weight_norm"] = sum(squares.values()) ** 0.5
    return stats
