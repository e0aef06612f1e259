"""Study 3a's machinery: the training sweep, the measurements, and the bootstrap over them.

Measurements are arrays indexed (regime, rate, seed, tensor), so every interval comes
from one hierarchical bootstrap over seeds, then tensors: a resample picks (seed, tensor)
cells, and a changed fraction is Σ changed / Σ parameters over the picked cells (a large
tensor weighs by its size, as in the whole-model figure). Effects, tables and figures
live in ``rl_weights_effects``, ``rl_weights_tables`` and ``rl_weights_figures``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from regimescope.instruments.diff import DiffConfig, DiffResult, TensorDiff, diff_checkpoints
from regimescope.instruments.diff_summary import tolerance_key
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.regimes.sft import SFTConfig, sft
from regimescope.studies.base_organisms import trained_base
from regimescope.studies.stats import hierarchical_bootstrap

if TYPE_CHECKING:
    from regimescope.studies.base import StudyContext
    from regimescope.studies.rl_weights import RLWeightsConfig

REGIMES = ("gold", "rl", "self")  # gold SFT, RL, self-SFT: array index 0, 1, 2
LABELS = {"gold": "gold SFT", "rl": "RL", "self": "self-SFT"}
COLORS = {"gold": "tab:blue", "rl": "tab:red", "self": "tab:green"}
GOLD, RL, SELF = range(3)


@dataclass(frozen=True)
class Tuned:
    regime: str  # one of REGIMES
    lr: float  # peak learning rate
    seed: int  # fine-tuning seed
    model_dir: Path  # the tuned model folder
    summary: dict  # the run's completion summary (final reward or loss)
    pool_size: int | None  # self-SFT: verified-correct samples trained on; else None


# ---------------------------------------------------------------- training


def regime_run(cfg: RLWeightsConfig, base_dir: str, regime: str, lr: float, seed: int, store):
    """The finished run folder of one (regime, rate, seed); one optimizer for all regimes:
    AdamW with the config's betas, constant rate, no warmup, no decay, clip 1."""
    task = CurriculumConfig(tasks=(cfg.base.task,))
    record = RecorderConfig(every=max(1, cfg.steps // 5), kl=False, formats=False)
    shared = dict(model=base_dir, curriculum=task, steps=cfg.steps, seed=seed, recorder=record)
    shared |= dict(lr=lr, warmup_steps=0, min_lr_ratio=1.0, weight_decay=0.0, betas=cfg.betas)
    shared |= dict(grad_clip=1.0, checkpoint_every=cfg.steps)
    if regime == "rl":
        group = dict(prompts_per_step=cfg.prompts_per_step, max_new_tokens=cfg.max_new_tokens)
        group |= dict(objective=cfg.objective, samples_per_prompt=cfg.samples_per_prompt)
        return rl(RLConfig(**group, **shared), store)
    batch = cfg.prompts_per_step * cfg.samples_per_prompt
    if regime == "gold":
        return sft(SFTConfig(data="gold", batch_size=batch, **shared), store)
    pool = dict(self_problems=cfg.self_problems, self_samples=cfg.self_samples)
    pool |= dict(max_new_tokens=cfg.max_new_tokens)
    return sft(SFTConfig(data="self", batch_size=batch, **pool, **shared), store)


def train_sweep(cfg: RLWeightsConfig, ctx: StudyContext) -> tuple[Path, list[Tuned]]:
    """(base model folder, every (regime, rate, seed) run from it, in that nested order)."""
    ctx.progress("base organism")
    base = trained_base(cfg.base, ctx.store)
    tuned = []
    for regime in REGIMES:
        for lr in cfg.lrs:
            for seed in cfg.seeds:
                ctx.progress(f"{LABELS[regime]}, lr {lr:g}, seed {seed}")
                run = regime_run(cfg, str(base.model_dir), regime, lr, seed, ctx.store)
                pool = (run.read_metrics() or [{}])[0].get("pool_size")
                tuned.append(Tuned(regime, lr, seed, run.model_dir, run.summary(), pool))
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


def measure(base_dir: Path, tuned: list[Tuned], cfg: RLWeightsConfig) -> Measured:
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


# ---------------------------------------------------------------- intervals


def pooled(m: Measured, name: str, seeds: np.ndarray, tensors: np.ndarray) -> np.ndarray:
    """Σ of ``name`` over the picked (seed, tensor) cells: (R, L)."""
    return m.cells[name][:, :, seeds, tensors].sum(axis=-1)


def fraction(m: Measured, view: str, seeds, tensors) -> np.ndarray:
    """Changed fraction in ``view`` over the picked cells: (R, L)."""
    return pooled(m, view, seeds, tensors) / pooled(m, "params", seeds, tensors)


def drift(m: Measured, seeds, tensors) -> np.ndarray:
    """Relative update norm ‖Δ‖_F / ‖W‖_F over the picked cells: (R, L)."""
    return np.sqrt(pooled(m, "delta_sq", seeds, tensors) / pooled(m, "weight_sq", seeds, tensors))


def every_cell(m: Measured) -> tuple[np.ndarray, np.ndarray]:
    """(seed, tensor) indices of all cells."""
    seeds, tensors = m.cells["params"].shape[2:]
    return np.repeat(np.arange(seeds), tensors), np.tile(np.arange(tensors), seeds)


def bootstrap(m: Measured, statistic, resamples: int) -> tuple[float, tuple[float, float]]:
    """Hierarchical bootstrap (seeds, then tensors) of ``statistic(seeds, tensors)``.

    The cells go to ``hierarchical_bootstrap`` as ids (S, T), so a resample picks (seed,
    tensor) cells and the statistic pools any figure over them.
    """
    seeds, tensors = m.cells["params"].shape[2:]
    ids = np.arange(seeds * tensors, dtype=float).reshape(seeds, tensors)  # (S, T)

    def on_ids(picked: np.ndarray) -> float:
        flat = picked.astype(int).ravel()
        return statistic(flat // tensors, flat % tensors)

    return hierarchical_bootstrap(ids, on_ids, resamples)
