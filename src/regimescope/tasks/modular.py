"""Modular addition: every pair (a, b) in [0, p)², labelled c = (a + b) mod p, split into
a training and a test set (the task of "The Clock and the Pizza", Zhong et al. 2023).

As in the paper's ``MyAddDataSet`` and ``random_split``: the p² pairs in row-major order
(a major), ``int(train_fraction · p²)`` of them for training and the rest for testing
(the paper: p = 59, train_fraction 0.8). The paper draws its split from the unseeded
global RNG; here a seeded permutation (``seed``) draws it, so a split is a deterministic
function of (p, train_fraction, seed). Each part is kept in row-major order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from regimescope.errors import BadInput


@dataclass(frozen=True)
class ModularSplit:
    train_tokens: torch.Tensor  # [n_train, 2] int64 operand pairs (a, b)
    train_labels: torch.Tensor  # [n_train] int64 (a + b) mod p
    test_tokens: torch.Tensor  # [p² − n_train, 2]
    test_labels: torch.Tensor  # [p² − n_train]


def all_pairs(p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(tokens [p², 2], labels [p²]): every (a, b) in row-major order, label (a + b) mod p."""
    if p < 2:
        raise BadInput(f"the modulus p must be at least 2, got {p}")
    a = torch.arange(p).repeat_interleave(p)  # [p²]: 0,0,…,1,1,…
    b = torch.arange(p).repeat(p)  # [p²]: 0,1,…,0,1,…
    return torch.stack([a, b], dim=1), (a + b) % p  # [p², 2], [p²]


def train_size(p: int, train_fraction: float) -> int:
    """Pairs in the training set, ``int(train_fraction · p²)``; BadInput unless both the
    training and the test set are non-empty."""
    if not 0.0 < train_fraction < 1.0:
        raise BadInput(f"train_fraction must lie in (0, 1), got {train_fraction}")
    size = int(train_fraction * p * p)
    if not 0 < size < p * p:
        raise BadInput(f"train_fraction {train_fraction} of {p * p} pairs leaves a part empty")
    return size


def modular_split(p: int, train_fraction: float = 0.8, seed: int = 0) -> ModularSplit:
    """The training and test pairs of modular addition mod ``p``: a permutation drawn from
    ``seed`` picks the ``train_size(p, train_fraction)`` training pairs."""
    tokens, labels = all_pairs(p)
    size = train_size(p, train_fraction)
    order = torch.randperm(p * p, generator=torch.Generator().manual_seed(seed))  # [p²]
    train = order[:size].sort().values
    test = order[size:].sort().values
    return ModularSplit(tokens[train], labels[train], tokens[test], labels[test])
