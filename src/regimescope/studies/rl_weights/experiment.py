"""Study 3a, train and measure: the learning-rate sweep of gold SFT, RL and self-SFT from
one base, and the diff of every tuned checkpoint against it.

Measurements are arrays indexed (regime, rate, seed, tensor): every seed's run has the
same tensors, so the analysis resamples seeds and tensors crossed (``analysis.py``).
The RL runs log every step (``recorder.every = 1``), so the training reward the shared RL
premise reads is the whole per-step series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from regimescope.instruments.diff import DiffConfig, DiffResult, TensorDiff, diff_checkpoints
from regimescope.instruments.diff_summary import tolerance_key
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.regimes.sft import SFTConfig, sft
from regimescope.studies.base_organisms import trained_base

REGIMES = ("gold", "rl", "self")  # gold SFT, RL, self-SFT: array index 0, 1, 2
LABELS = {"gold": "gold SFT", "rl": "RL", "self": "self-SFT"}
GOLD, RL, SELF = range(3)


@dataclass(frozen=True)
class Tuned:
    regime: str  # one of REGIMES
    lr: float  # peak learning rate
    seed: int  # fine-tuning seed
    model_dir: Path  # the tuned model folder
    summary: dict  # the run's completion summary (final reward or loss)
    pool_size: int | None  # self-SFT: verified-correct samples trained on; else None
    rewards: tuple[float, ...]  # RL: the training reward of every step; else ()


# ---------------------------------------------------------------- the plan


def sft_recorder(steps: int) -> RecorderConfig:
    """The SFT runs' recorder: five lines a run, no KL or format statistics."""
    return RecorderConfig(every=max(1, steps // 5), kl=False, formats=False)


def run_config(cfg, base_dir: str, regime: str, lr: float, seed: int) -> RLConfig | SFTConfig:
    """The config of one (regime, rate, seed) run from ``cfg.rl``: one optimizer for all
    regimes (AdamW with the template's betas, constant rate, no warmup, no decay, clip 1),
    the same steps and sequences per step (SFT: a batch of P * n sequences)."""
    template = replace(cfg.rl, model=base_dir, lr=lr, seed=seed)
    if regime == "rl":
        return template
    t = template
    shared = dict(model=t.model, curriculum=t.curriculum, steps=t.steps, seed=t.seed, lr=t.lr)
    shared |= dict(warmup_steps=t.warmup_steps, min_lr_ratio=t.min_lr_ratio, betas=t.betas)
    shared |= dict(weight_decay=t.weight_decay, grad_clip=t.grad_clip)
    shared |= dict(checkpoint_every=t.checkpoint_every, recorder=sft_recorder(t.steps))
    batch = t.prompts_per_step * t.samples_per_prompt
    if regime == "gold":
        return SFTConfig(data="gold", batch_size=batch, **shared)
    pool = dict(self_problems=cfg.self_problems, self_samples=cfg.self_samples)
    pool |= dict(max_new_tokens=t.max_new_tokens)
    return SFTConfig(data="self", batch_size=batch, **pool, **shared)


def sweep(cfg) -> list[tuple[str, float, int]]:
    """(regime, rate, seed) of every tuned run, in the order they are trained."""
    return [(r, lr, seed) for r in REGIMES for lr in cfg.lrs for seed in cfg.seeds]


def plan(cfg, base_dir: str = "") -> list:
    """The training runs of the study in order: the base, then every (regime, rate, seed)
    run. The tuned runs start from ``base_dir``, the base's model folder, known once the
    base is trained (empty until then)."""
    return [cfg.base, *(run_config(cfg, base_dir, *cell) for cell in sweep(cfg))]


# ---------------------------------------------------------------- training


def train(cfg, ctx) -> tuple[Path, list[Tuned]]:
    """(base model folder, every (regime, rate, seed) run from it, in ``sweep`` order)."""
    ctx.progress("base organism")
    base = trained_base(cfg.base, ctx.store)
    tuned = []
    configs = plan(cfg, str(base.model_dir))[1:]
    for (regime, lr, seed), config in zip(sweep(cfg), configs, strict=True):
        ctx.progress(f"{LABELS[regime]}, lr {lr:g}, seed {seed}")
        run = rl(config, ctx.store) if regime == "rl" else sft(config, ctx.store)
        metrics = run.read_metrics() or [{}]
        rewards = tuple(float(r["reward"]) for r in metrics if "reward" in r)
        pool = metrics[0].get("pool_size")
        tuned.append(Tuned(regime, lr, seed, run.model_dir, run.summary(), pool, rewards))
    return base.model_dir, tuned


# ---------------------------------------------------------------- measurement


@dataclass(frozen=True)
class Measured:
    tuned: list[Tuned]  # in (regime, rate, seed) order
    result: DiffResult  # the diff of every tuned checkpoint against the base
    cells: dict[str, np.ndarray]  # name -> (R, L, S, T) per-tensor counts and sums
    rank: np.ndarray  # (R, L, S, T) rank fraction of Δ; NaN for 1-D tensors or Δ = 0
    stable: np.ndarray  # (R, L, S, T) stable rank / full rank; NaN likewise
    lrs: tuple[float, ...]  # the rates of the sweep
    tolerances: tuple[float, ...]  # the τ of the tolerance views


def measure(base_dir: Path, tuned: list[Tuned], cfg) -> Measured:
    """Diff every tuned checkpoint against the base; per-tensor figures as arrays."""
    config = DiffConfig(tolerances=cfg.tolerances)
    result = diff_checkpoints(base_dir, [t.model_dir for t in tuned], config)
    shape = (len(REGIMES), len(cfg.lrs), len(cfg.seeds), -1)
    table = [[tensor_cells(t, cfg.tolerances) for t in run.tensors] for run in result.runs]
    cells = {k: np.array([[c[k] for c in run] for run in table], float) for k in table[0][0]}
    rank = [[rank_of(t, "rank") for t in run.tensors] for run in result.runs]
    stable = [[rank_of(t, "stable") for t in run.tensors] for run in result.runs]
    arrays = {k: v.reshape(shape) for k, v in cells.items()}
    rank, stable = np.reshape(rank, shape), np.reshape(stable, shape)
    return Measured(tuned, result, arrays, rank, stable, tuple(cfg.lrs), tuple(cfg.tolerances))


def tensor_cells(t: TensorDiff, tolerances) -> dict[str, float]:
    """One tensor's counts; ``params`` leaves out embedding rows that got no gradient."""
    c = t.counts
    unused = t.frozen_rows * t.shape[1] if t.rows else 0
    cells = {"fp32": c.changed_fp32, "bf16": c.changed_bf16, "params": c.params - unused}
    cells |= {"delta_sq": c.delta_sq, "weight_sq": c.weight_sq, "invisible": c.invisible_pred}
    atol = zip(tolerances, c.changed_atol, strict=True)
    return cells | {f"atol_{tolerance_key(tau)}": n for tau, n in atol}


def rank_of(t: TensorDiff, which: str) -> float:
    """Rank fraction or stable rank / full rank of Δ; NaN for 1-D tensors and Δ = 0."""
    r = t.rank
    if r is None or r.stable_rank is None:
        return math.nan
    return r.rank_fraction if which == "rank" else r.stable_rank / r.full_rank
