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
- weight norms per layer and overall.

The statistics are pure functions below; ``Recorder`` only keeps the snapshots they need
(the start weights, the weights before a logged step). Layers are named ``embed``,
``layer_0`` .. ``layer_{L-1}``, ``norm``, ``lm_head`` (see ``layer_of``). This module lives
in ``regimes`` so that regimes never import ``instruments``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from regimescope.tasks.base import TOKEN_CLASSES

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


def should_log(step: int, total: int, every: int) -> bool:
    """Whether step ``step`` (1-based, after the update) gets a metrics line."""
    return step % every == 0 or step == total


# ---------------------------------------------------------------- token statistics


def entropy_by_class(
    entropy: torch.Tensor, mask: torch.Tensor, class_ids: torch.Tensor
) -> dict[str, float]:
    """Mean token entropy overall and per token class, nats.

    entropy (B, T) per-token entropies; mask (B, T) 1 on the tokens to count; class_ids
    (B, T) index into TOKEN_CLASSES (-1: unlabelled, counted only in the overall mean).
    Keys ``entropy`` and ``entropy/<class>`` (a class with no token is left out).

    >>> h, keep, cls = torch.tensor([[1.0, 3.0]]), torch.tensor([[1, 1]]), torch.tensor([[0, -1]])
    >>> entropy_by_class(h, keep, cls)
    {'entropy': 2.0, 'entropy/plan': 1.0}
    """
    keep = mask.bool()
    if not keep.any():
        return {}
    stats = {"entropy": entropy[keep].float().mean().item()}
    for index, name in enumerate(TOKEN_CLASSES):
        chosen = keep & (class_ids == index)
        if chosen.any():
            stats[f"entropy/{name}"] = entropy[chosen].float().mean().item()
    return stats


def kl_exact(logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
    """KL(pi || pi_ref) = sum_v pi_v (log pi_v - log ref_v) per position, nats.

    logits, ref_logits (B, T, V) -> (B, T). Exact over the vocabulary (no sampling noise).
    """
    logp = torch.log_softmax(logits.float(), dim=-1)
    ref = torch.log_softmax(ref_logits.float(), dim=-1)
    return (logp.exp() * (logp - ref)).sum(dim=-1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean of ``x`` (B, T) over positions where ``mask`` is 1 (nan when there are none)."""
    keep = mask.bool()
    return x[keep].float().mean().item() if keep.any() else float("nan")


def reward_stats(rewards: Sequence[float], correct_above: float = 0.5) -> dict[str, float]:
    """``reward``: mean reward; ``accuracy``: share of samples with reward > ``correct_above``."""
    if not rewards:
        return {}
    return {
        "reward": sum(rewards) / len(rewards),
        "accuracy": sum(r > correct_above for r in rewards) / len(rewards),
    }


def format_stats(
    formats: Sequence[str | None],
    rewards: Sequence[float],
    names: Iterable[str],
    correct_above: float = 0.5,
) -> dict[str, float]:
    """Format shares and per-format accuracy of sampled completions.

    ``format_share/<f>`` = n_f / N over the task's formats plus ``none`` (no format);
    ``format_acc/<f>`` = share of correct completions among those in format f (only for
    formats that occur). Zhao et al. 2025 (Echo Chamber), arXiv 2504.07912.

    >>> format_stats(["code", "code", None], [1.0, 0.0, 0.0], ["code", "nl"])["format_acc/code"]
    0.5
    """
    names = list(names)
    if not names or not formats:
        return {}
    labels = [f or "none" for f in formats]
    counts = Counter(labels)
    correct = Counter(label for label, r in zip(labels, rewards, strict=True) if r > correct_above)
    stats = {f"format_share/{f}": counts[f] / len(labels) for f in (*names, "none")}
    stats |= {f"format_acc/{f}": correct[f] / counts[f] for f in (*names, "none") if counts[f]}
    return stats


# ---------------------------------------------------------------- weight statistics

LAYER = re.compile(r"(?:^|\.)(?:layers|layer|h|blocks)\.(\d+)\.")


def layer_of(name: str) -> str:
    """The layer a parameter belongs to: ``layer_3`` for ``model.layers.3.mlp.up_proj.weight``,
    ``embed`` for token/position embeddings, else its module name (``norm``, ``lm_head``)."""
    match = LAYER.search(name)
    if match:
        return f"layer_{match.group(1)}"
    if "embed" in name or ".wte." in f".{name}" or ".wpe." in f".{name}":
        return "embed"
    parts = [p for p in name.split(".")[:-1] if p not in ("model", "transformer")]
    return parts[0] if parts else name


def snapshot(model: torch.nn.Module) -> Snapshot:
    """A detached copy of every trainable parameter (tied weights once)."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def by_layer(pairs: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Sum per-parameter values (squared norms, counts) into their layers."""
    totals: dict[str, float] = defaultdict(float)
    for name, value in pairs:
        totals[layer_of(name)] += value
    return dict(totals)


def update_ratios(before: Snapshot, model: torch.nn.Module) -> dict[str, float]:
    """||theta_now - theta_before||_2 / ||theta_before||_2 per layer (``update_ratio/<layer>``).

    The relative size of one logged step's update; a standard health signal (about 1e-3
    per step is the folklore target for Adam, Karpathy's CS231n notes).
    """
    params = dict(model.named_parameters())
    delta = by_layer(
        (n, (params[n].detach() - w).float().pow(2).sum().item()) for n, w in before.items()
    )
    norm = by_layer((n, w.float().pow(2).sum().item()) for n, w in before.items())
    return {
        f"update_ratio/{k}": (delta[k] ** 0.5) / max(norm[k] ** 0.5, 1e-12) for k in sorted(delta)
    }


def changed_fractions(start: Snapshot, model: torch.nn.Module) -> dict[str, float]:
    """Fraction of parameters that differ from the start: exact in fp32, and after casting
    both to bf16 (``changed_fp32``, ``changed_bf16``); 1 - either is the update sparsity.

    bf16 keeps 8 significant bits, so an update smaller than about |w| * 2^-8 rounds back
    to the same bf16 value: the bf16 figure is the one checkpoints stored in bf16 show.
    """
    params = dict(model.named_parameters())
    total = changed32 = changed16 = 0
    for name, w0 in start.items():
        w = params[name].detach()
        total += w.numel()
        changed32 += (w != w0).sum().item()
        changed16 += (w.bfloat16() != w0.bfloat16()).sum().item()
    return {"changed_fp32": changed32 / max(total, 1), "changed_bf16": changed16 / max(total, 1)}


def weight_norms(model: torch.nn.Module) -> dict[str, float]:
    """L2 norm of the weights per layer (``weight_norm/<layer>``) and overall (``weight_norm``)."""
    squares = by_layer(
        (n, p.detach().float().pow(2).sum().item()) for n, p in model.named_parameters()
    )
    stats = {f"weight_norm/{k}": v**0.5 for k, v in sorted(squares.items())}
    stats["weight_norm"] = sum(squares.values()) ** 0.5
    return stats


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
