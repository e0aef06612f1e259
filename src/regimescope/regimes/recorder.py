"""The training-dynamics recorder: what a run did to the model, one metrics line per logged step.

Every regime (SFT, RL, and a user's Trainer through ``hf_callback``) records the same
statistics, each switchable in ``RecorderConfig``:

- reward and accuracy of the step's samples (RL rollouts, or a probe of held-out prompts);
- mean token entropy, overall and per token class (``plan``, ``exec``, ``format``,
  ``answer``), nats;
- format shares and per-format accuracy of sampled completions, where the task has formats;
- KL(pi || pi_start) to the starting model, exact over the vocabulary, nats per token;
- gradient norm (global L2, before clipping);
- update-to-weight ratio per layer, ||theta_after - theta_before|| / ||theta_before||;
- fraction of parameters changed since the start, exactly in fp32 and after a bf16 cast of
  both (the precision panel of finding 3a: Mukherjee et al. 2025, arXiv 2505.11711, and
  the bf16 caveat of arXiv 2509.04259 / 2602.03839);
- weight norms per layer and overall;
- with ``mechanics`` set, the sharpness λ_max of the loss Hessian (and Adam's
  preconditioned one) and the gradient noise scale B_simple on a fixed probe batch
  (``regimes.mechanics_probe``; the SFT loop and the Trainer callback read them).

The statistics are pure functions, written once in ``instruments`` (``entropy``, ``kl``,
``formats``, ``precision.changed_fractions``, ``weights``); this module decides what is
recorded when, and ``Recorder`` keeps the snapshots they need (the start weights, the
weights before a logged step). Layers are named ``embed``, ``layer_0`` .. ``layer_{L-1}``,
``norm``, ``lm_head`` (``instruments.param_names.layer_of``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from regimescope.config import ADDED_LATER
from regimescope.instruments.formats import format_stats
from regimescope.instruments.precision import changed_fractions
from regimescope.instruments.weights import update_ratios, weight_norms
from regimescope.regimes.mechanics_probe import MechanicsConfig

Snapshot = dict[str, torch.Tensor]  # parameter name -> detached copy


@dataclass(frozen=True)
class RecorderConfig:
    every: int = 10  # write one metrics line every N steps (and at the last step)
    entropy: bool = True  # mean token entropy, overall and per token class
    formats: bool = True  # format shares and per-format accuracy (tasks with formats)
    kl: bool = True  # exact KL to the starting model on the step's tokens (keeps a frozen copy)
    grad_norm: bool = True  # global gradient L2 norm before clipping
    update_ratio: bool = True  # ||delta theta|| / ||theta|| per layer over the logged step
    changed: bool = True  # fraction of parameters changed since the start, fp32 and bf16
    weight_norms: bool = True  # L2 norm of the weights per layer and overall
    probe_problems: int = 0  # held-out prompts sampled greedily at each logged step (0 = off)
    probe_split: str = "test"  # split the probe prompts come from
    probe_max_new_tokens: int = 96  # token budget of each probe completion
    mechanics: MechanicsConfig = field(default_factory=MechanicsConfig, metadata=ADDED_LATER)
    # sharpness and gradient noise scale on a fixed probe batch, each every N steps (SFT and
    # the Trainer callback; off by default: each reading costs backward passes)


def should_log(step: int, total: int, every: int) -> bool:
    """Whether step ``step`` (1-based, after the update) gets a metrics line."""
    return step % every == 0 or step == total


# ---------------------------------------------------------------- sample statistics


def reward_stats(rewards: Sequence[float], correct_above: float = 0.5) -> dict[str, float]:
    """``reward``: mean reward; ``accuracy``: share of samples with reward > ``correct_above``."""
    if not rewards:
        return {}
    return {
        "reward": sum(rewards) / len(rewards),
        "accuracy": sum(r > correct_above for r in rewards) / len(rewards),
    }


# ---------------------------------------------------------------- snapshots and gradients


def snapshot(model: torch.nn.Module) -> Snapshot:
    """A detached copy of every trainable parameter (tied weights once)."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def grad_norm(model: torch.nn.Module) -> float:
    """Global L2 norm of the current gradients (0 when there are none)."""
    squares = [
        p.grad.detach().float().pow(2).sum() for p in model.parameters() if p.grad is not None
    ]
    return torch.stack(squares).sum().sqrt().item() if squares else 0.0


# ---------------------------------------------------------------- the recorder


class Recorder:
    """Keeps the snapshots the weight statistics need and assembles one step's record.

    Use: ``Recorder(cfg, model)`` at the start (snapshots the start weights when
    ``changed`` is on); ``before_step(model)`` just before a step that will be logged;
    ``weight_stats(model)`` after it. Token and sample statistics are passed in.
    """

    def __init__(
        self, config: RecorderConfig, model: torch.nn.Module, start: Snapshot | None = None
    ):
        self.config = config
        self.start = (start or snapshot(model)) if config.changed else None
        self.before: Snapshot | None = None

    def before_step(self, model: torch.nn.Module) -> None:
        """Snapshot the weights a logged step starts from (for the update ratio)."""
        self.before = snapshot(model) if self.config.update_ratio else None

    def weight_stats(self, model: torch.nn.Module) -> dict[str, float]:
        """Update ratios, changed fractions and weight norms, as configured."""
        stats: dict[str, float] = {}
        if self.before is not None:
            stats |= update_ratios(self.before, model)
            self.before = None
        if self.start is not None:
            stats |= changed_fractions(self.start, model)
        if self.config.weight_norms:
            stats |= weight_norms(model)
        return stats


# ---------------------------------------------------------------- held-out probe


def probe_stats(
    model, tokenizer, tasks: dict, config: RecorderConfig, seed: int = 0
) -> dict[str, float]:
    """Greedy reward, accuracy and format statistics on held-out prompts of each task.

    ``tasks`` maps names to plain tasks (a curriculum's leaves); keys are ``probe/<stat>``
    for one task and ``probe/<task>/<stat>`` for several. Examples ``0 .. probe_problems-1``
    of ``probe_split``, decoded greedily, so a probe is the same at every logged step.
    """
    if config.probe_problems <= 0:
        return {}
    from regimescope.sampler.decode import (  # lazy: the callback may not need it
        SamplingConfig,
        sample,
    )

    greedy = SamplingConfig(
        n=1, temperature=0.0, max_new_tokens=config.probe_max_new_tokens, seed=seed
    )
    stats: dict[str, float] = {}
    was_training = model.training
    model.eval()
    for name, task in tasks.items():
        items = [task.example(i, config.probe_split, seed) for i in range(config.probe_problems)]
        texts = [row[0].text for row in sample(model, tokenizer, [e.prompt for e in items], greedy)]
        rewards = [task.verify(e, t).reward for e, t in zip(items, texts, strict=True)]
        found = reward_stats(rewards)
        if config.formats:
            found |= format_stats([task.classify_format(t) for t in texts], rewards, task.formats)
        prefix = "probe/" if len(tasks) == 1 else f"probe/{name}/"
        stats |= {prefix + k: v for k, v in found.items()}
    model.train(was_training)
    return stats
