"""The teacher task: regress the output of a fixed random network (a student-teacher
setting, the ground truth known by construction).

Inputs x ~ N(0, I_d); the target is y = c · w₂ᵀ tanh(s · W₁ x + b₁), a one-hidden-layer
tanh teacher of ``width`` units whose first layer is multiplied by ``frequency`` s (a
larger s makes the function wigglier, so a small student cannot fit it: loss then falls
with student size, the regime of a scaling law), and c normalises Var(y) to 1 on a fixed
large sample, so a constant predictor scores a mean squared error of about 1. Optional
label noise of standard deviation ``noise`` adds an irreducible loss of noise².

Example i of a split is a deterministic function of (teacher seed, split, i): a training
stream of any length, a fixed evaluation set, and every run of a sweep sees the same data
in the same order when its data seed is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from regimescope.errors import choose

SPLITS = {"train": 1, "eval": 2}  # split -> salt of its random stream
NORMALISE_SAMPLE = 16384  # inputs used to normalise the teacher's output variance


@dataclass(frozen=True)
class TeacherConfig:
    inputs: int = 8  # input dimension d
    width: int = 256  # teacher hidden units
    frequency: float = 4.0  # s: scale of the teacher's first layer (how wiggly y is)
    noise: float = 0.0  # standard deviation of Gaussian label noise (irreducible loss noise²)
    seed: int = 1234  # draws the teacher's weights (not the data)


@lru_cache(maxsize=8)
def teacher_weights(cfg: TeacherConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(W₁ [width, d], b₁ [width], w₂ [width]) with w₂ scaled so Var(y) = 1."""
    g = torch.Generator().manual_seed(cfg.seed)
    w1 = torch.randn(cfg.width, cfg.inputs, generator=g) * cfg.frequency / cfg.inputs**0.5
    b1 = torch.randn(cfg.width, generator=g)
    w2 = torch.randn(cfg.width, generator=g)
    x = torch.randn(NORMALISE_SAMPLE, cfg.inputs, generator=g)
    y = torch.cat([torch.tanh(chunk @ w1.T + b1) @ w2 for chunk in x.split(4096)])  # [N]
    return w1, b1, w2 / y.std()


def teacher_batch(
    cfg: TeacherConfig, split: str, start: int, count: int, data_seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Examples ``start .. start + count - 1`` of ``split``: (x [count, d], y [count, 1]).

    Drawn in blocks of 256 examples, each from its own generator (seeded by the teacher
    seed, split, data seed and block), so any slice is the same whatever else was drawn.
    """
    choose("split", split, SPLITS)
    first, last = start // BLOCK, (start + count - 1) // BLOCK
    xs, noises = zip(
        *(_block(cfg, split, data_seed, b) for b in range(first, last + 1)), strict=True
    )
    offset = start - first * BLOCK
    x = torch.cat(xs)[offset : offset + count]  # [count, d]
    noise = torch.cat(noises)[offset : offset + count]  # [count]
    w1, b1, w2 = teacher_weights(cfg)
    y = torch.tanh(x @ w1.T + b1) @ w2 + cfg.noise * noise  # [count]
    return x, y[:, None]


@lru_cache(maxsize=4)
def teacher_set(
    cfg: TeacherConfig, split: str, count: int, data_seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``teacher_batch(cfg, split, 0, count, data_seed)``, kept for reuse: a fixed training
    set is the same for every run of a sweep, and a wide teacher makes it costly to redraw.
    Callers must not modify the tensors."""
    return teacher_batch(cfg, split, 0, count, data_seed)


BLOCK = 256  # examples per generator block


def _block(cfg: TeacherConfig, split: str, data_seed: int, block: int):
    seed = 0
    for part in (cfg.seed, SPLITS[split], data_seed, block):  # a fixed mix, not hash()
        seed = (seed * 1_000_003 + part) % 2**63
    g = torch.Generator().manual_seed(seed)
    return torch.randn(BLOCK, cfg.inputs, generator=g), torch.randn(BLOCK, generator=g)
