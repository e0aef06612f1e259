"""The MLP organism: a small fully connected network for the learning-mechanics study.

The laws study 9 tests (edge of stability, the gradient noise scale, scaling laws,
loss-curve collapse) were shown on MLPs and CNNs as much as on transformers, and they are
about an optimizer and a loss surface, not about language. An MLP on a teacher task
(``tasks.teacher``) makes each run take seconds, so a law can be tested on dozens of runs
at quick scale; the transformer organisms (``presets``) stay the lab's language models.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from regimescope.errors import choose

ACTIVATIONS = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "gelu": torch.nn.GELU}


@dataclass(frozen=True)
class MLPConfig:
    inputs: int = 8  # input dimension (the teacher task's)
    width: int = 64  # units per hidden layer
    depth: int = 2  # hidden layers
    activation: str = "tanh"  # one of ACTIVATIONS (smooth by default: a Hessian exists)


def build_mlp(cfg: MLPConfig, seed: int = 0) -> torch.nn.Sequential:
    """A freshly initialised MLP (PyTorch's default init), scalar output, deterministic in
    ``seed``: inputs -> [width -> activation] x depth -> 1."""
    choose("activation", cfg.activation, ACTIVATIONS)
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    fan_in = cfg.inputs
    for _ in range(cfg.depth):
        layers += [torch.nn.Linear(fan_in, cfg.width), ACTIVATIONS[cfg.activation]()]
        fan_in = cfg.width
    layers.append(torch.nn.Linear(fan_in, 1))
    return torch.nn.Sequential(*layers)


def mlp_parameters(cfg: MLPConfig) -> int:
    """Number of parameters of the MLP of ``cfg`` (weights and biases), without building it."""
    hidden = (cfg.inputs + 1) * cfg.width + (cfg.depth - 1) * (cfg.width + 1) * cfg.width
    return hidden + cfg.width + 1
