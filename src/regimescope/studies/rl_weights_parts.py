"""Study 3a's machinery: the training sweep, the measurements with their intervals, figures.

Measurements are arrays indexed (regime, rate, seed, tensor), so every interval comes
from one hierarchical bootstrap over seeds, then tensors: a resample picks (seed, tensor)
cells, and a changed fraction is Σ changed / Σ parameters over the picked cells (a large
tensor weighs by its size, as in the whole-model figure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from regimescope.instruments.diff import DiffConfig, DiffResult, TensorDiff, diff_checkpoints
from regimescope.instruments.diff_summary import panel, tolerance_key
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.regimes.sft import SFTConfig, sft
from regimescope.studies.bases import trained_base
from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.verdict import Effect

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


def changed_table(m: Measured, resamples: int) -> pd.DataFrame:
    """Changed fraction with its interval per (regime, rate, view), and the drift."""
    views = ["fp32", "bf16", *(f"atol_{tolerance_key(t)}" for t in m.tolerances)]
    drifts, rows = drift(m, *every_cell(m)), []
    for r, regime in enumerate(REGIMES):
        for i, lr in enumerate(m.lrs):
            for view in views:
                est, (low, high) = bootstrap(m, one_fraction(m, view, r, i), resamples)
                row = dict(regime=regime, lr=lr, view=view, estimate=est, low=low, high=high)
                rows.append(row | {"drift": drifts[r, i]})
    return pd.DataFrame(rows)


def one_fraction(m: Measured, view: str, r: int, i: int):
    """The statistic: changed fraction of regime ``r`` at rate ``i`` over the picked cells."""
    return lambda seeds, tensors: fraction(m, view, seeds, tensors)[r, i]


def rl_changed(table: pd.DataFrame, view: str) -> list[Effect]:
    """RL's changed fraction in ``view`` at every rate where RL changed any weight."""
    fp32 = table[(table.regime == "rl") & (table.view == "fp32")].set_index("lr").estimate
    chosen = table[(table.regime == "rl") & (table.view == view)]
    name = "RL changed fraction, {}, lr {:g}"
    return [
        Effect(name.format(view, row.lr), row.estimate, (row.low, row.high))
        for row in chosen.itertuples()
        if fp32[row.lr] > 0
    ]


def matched_advantage(m: Measured, x: int, view: str, resamples: int) -> Effect | None:
    """How much sparser regime ``x`` is than gold SFT at equal drift, in ``view``.

    At each rate where x's drift falls inside gold SFT's drift range, gold's changed
    fraction is interpolated linearly in log drift; the effect is the mean over those
    rates of gold's interpolated fraction minus x's (positive: x is sparser).
    """
    d = drift(m, *every_cell(m))
    low, high = d[GOLD].min(), d[GOLD].max()
    inside = [i for i in range(len(m.lrs)) if d[x, i] > 0 and low <= d[x, i] <= high]
    if not inside or low <= 0:
        return None

    def advantage(seeds, tensors) -> float:
        c = fraction(m, view, seeds, tensors)
        logd = np.log(np.maximum(drift(m, seeds, tensors), 1e-30))
        order = np.argsort(logd[GOLD])
        gold = np.interp(logd[x, inside], logd[GOLD][order], c[GOLD][order])
        return float(np.mean(gold - c[x, inside]))

    est, ci = bootstrap(m, advantage, resamples)
    rates = ", ".join(f"{m.lrs[i]:g}" for i in inside)
    name = f"{LABELS[REGIMES[x]]} sparsity advantage over gold SFT at equal drift, {view}"
    return Effect(f"{name} (lr {rates})", est, ci)


def same_rate_advantage(m: Measured, x: int, view: str, resamples: int) -> Effect | None:
    """How much sparser regime ``x`` is than gold SFT at the same (lowest) learning rate
    where both changed weights: gold's changed fraction minus x's, in ``view``."""
    d = drift(m, *every_cell(m))
    moved = [i for i in range(len(m.lrs)) if d[x, i] > 0 and d[GOLD, i] > 0]
    if not moved:
        return None
    i = moved[0]

    def advantage(seeds, tensors) -> float:
        c = fraction(m, view, seeds, tensors)
        return float(c[GOLD, i] - c[x, i])

    est, ci = bootstrap(m, advantage, resamples)
    name = f"{LABELS[REGIMES[x]]} sparsity advantage over gold SFT at equal learning rate"
    return Effect(f"{name}, {view} (lr {m.lrs[i]:g})", est, ci)


def rank_effect(values: np.ndarray, name: str, resamples: int) -> Effect | None:
    """Mean over (run, matrix) of a rank figure ``values`` (L, S, T) of one regime.

    Runs that changed nothing are dropped, and so are matrices not changed in every
    remaining run; the bootstrap resamples runs, then matrices.
    """
    data = values.reshape(-1, values.shape[-1])  # (L * S, T)
    data = data[np.isfinite(data).any(axis=1)]
    if data.size == 0 or not np.isfinite(data).all(axis=0).any():
        return None
    est, ci = hierarchical_bootstrap(data[:, np.isfinite(data).all(axis=0)], np.mean, resamples)
    return Effect(name, est, ci)


def rank_table(m: Measured, resamples: int) -> pd.DataFrame:
    """Rank fraction and stable rank / full rank per (regime, rate), with intervals."""
    rows = []
    for r, regime in enumerate(REGIMES):
        for i, lr in enumerate(m.lrs):
            for figure, values in (("rank_fraction", m.rank), ("stable_rank_fraction", m.stable)):
                e = rank_effect(values[r, i][None], figure, resamples)
                if e is not None:
                    rows.append(
                        dict(
                            regime=regime,
                            lr=lr,
                            figure=figure,
                            estimate=e.estimate,
                            low=e.ci95[0],
                            high=e.ci95[1],
                        )
                    )
    return pd.DataFrame(rows, columns=["regime", "lr", "figure", "estimate", "low", "high"])


@dataclass(frozen=True)
class Effects:
    fp32: list[Effect]  # RL's changed fraction in fp32, per rate where RL moved
    bf16: list[Effect]  # the same after a bf16 cast
    advantage: Effect | None  # RL's sparsity advantage over gold SFT at equal drift (bf16)
    same_rate: Effect | None  # the same at equal learning rate (the lowest), for contrast
    self_advantage: Effect | None  # self-SFT's advantage over gold SFT at equal drift (bf16)
    rank: Effect | None  # mean rank fraction of RL's update matrices
    stable: Effect | None  # mean stable rank / full rank of RL's update matrices

    @property
    def all(self) -> list[Effect]:
        single = (self.advantage, self.same_rate, self.self_advantage, self.rank, self.stable)
        return [*self.fp32, *self.bf16, *(e for e in single if e is not None)]


def effects(m: Measured, changed: pd.DataFrame, resamples: int) -> Effects:
    """Every effect the decision rule reads."""
    rank = rank_effect(m.rank[RL], "RL update rank fraction (mean over matrices)", resamples)
    stable = rank_effect(m.stable[RL], "RL update stable rank / full rank", resamples)
    advantages = [matched_advantage(m, x, "bf16", resamples) for x in (RL, SELF)]
    fp32, bf16 = rl_changed(changed, "fp32"), rl_changed(changed, "bf16")
    same_rate = same_rate_advantage(m, RL, "bf16", resamples)
    return Effects(fp32, bf16, advantages[0], same_rate, advantages[1], rank, stable)


# ---------------------------------------------------------------- overlap, tables, notes


def overlap_frame(m: Measured) -> pd.DataFrame:
    """Mask overlap of two seeds of one (regime, rate) per view, against chance;
    ``excess`` = Jaccard − chance Jaccard at the same per-tensor densities."""
    where, rows = {str(t.model_dir): t for t in m.tuned}, []
    for o in m.result.overlap:
        a, b = where[o["a"]], where[o["b"]]
        if (a.regime, a.lr) != (b.regime, b.lr):
            continue
        row = dict(regime=a.regime, lr=a.lr, seed_a=a.seed, seed_b=b.seed, view=o["view"])
        row |= dict(density_a=o["changed_a"] / o["params"], density_b=o["changed_b"] / o["params"])
        chance = o["chance_jaccard_by_tensor"]
        rows.append(row | dict(jaccard=o["jaccard"], chance=chance, excess=o["jaccard"] - chance))
    columns = ["regime", "lr", "seed_a", "seed_b", "view", "density_a", "density_b"]
    return pd.DataFrame(rows, columns=[*columns, "jaccard", "chance", "excess"])


def lowest_rate_excess(overlap: pd.DataFrame, lrs: tuple[float, ...]) -> list[float]:
    """Jaccard excess over chance of RL seed pairs in bf16 at the lowest rate (both moved)."""
    o = overlap
    keep = (o.regime == "rl") & (o.view == "bf16") & (o.lr == min(lrs))
    keep &= (o.density_a > 0) & (o.density_b > 0)
    return [float(x) for x in o[keep].excess if math.isfinite(x)]


def runs_frame(m: Measured) -> pd.DataFrame:
    """One row per tuned run: the whole-model panel (unused embedding rows excluded)."""
    rows = []
    for t, run in zip(m.tuned, m.result.runs, strict=True):
        p = panel(run.tensors, m.tolerances)
        kept, rank = p["without_frozen_rows"], p["rank"]
        row = dict(regime=t.regime, lr=t.lr, seed=t.seed, drift=p["rel_update_norm"])
        row |= dict(changed_fp32=kept["changed_fp32"], changed_bf16=kept["changed_bf16"])
        row |= {f"changed_atol_{k}": v for k, v in kept["changed_atol"].items()}
        row |= {k: p[k] for k in ("bf16_invisible_pred", "bf16_invisible_measured", "frozen_rows")}
        row |= {k: rank[k] for k in ("rank_fraction", "stable_rank", "top_r_energy")}
        row |= {k: t.summary.get(k) for k in ("final_reward", "final_loss")}
        rows.append(row | {"pool_size": t.pool_size})
    return pd.DataFrame(rows)


def effects_frame(found: list[Effect]) -> pd.DataFrame:
    rows = [
        dict(effect=e.name, estimate=e.estimate, low=e.ci95[0], high=e.ci95[1], unit=e.unit)
        for e in found
    ]
    return pd.DataFrame(rows, columns=["effect", "estimate", "low", "high", "unit"])


def notes(scale: str, m: Measured) -> str:
    """What departed from the design at this scale, with the numbers that show it."""
    out = []
    if scale == "smoke":
        out.append(
            "Smoke scale: a nano base that earns no reward, so self-SFT has no pool and RL "
            "runs NSR (which still moves on wrong samples); the verdict checks the pipeline, "
            "not the claim."
        )
    runs = zip(m.tuned, m.result.runs, strict=True)
    idle = [t for t, run in runs if not any(x.counts.changed_fp32 for x in run.tensors)]
    if idle:
        names = ", ".join(f"{LABELS[t.regime]} lr {t.lr:g} seed {t.seed}" for t in idle)
        out.append(f"Runs that changed no weight (no reward signal or empty pool): {names}.")
    pools = ", ".join(str(t.pool_size) for t in m.tuned if t.pool_size is not None)
    unused = sum(x.frozen_rows for x in m.result.runs[0].tensors)
    out.append(
        f"Self-SFT pools (verified-correct samples per run): {pools or 'none'}. Unused "
        f"embedding rows left out of the parameter count: {unused} in the first run "
        "(tied embeddings give every row a gradient through the LM head); the mask "
        "overlap counts all parameters."
    )
    return " ".join(out)


# ---------------------------------------------------------------- figures


def with_bars(ax, x, rows: pd.DataFrame, regime: str) -> None:
    """A regime's estimates against ``x`` with their 95% intervals as error bars."""
    bars = [rows.estimate - rows.low, rows.high - rows.estimate]
    style = dict(fmt="o-", capsize=3, markersize=4, color=COLORS[regime], label=LABELS[regime])
    ax.errorbar(x, rows.estimate, yerr=bars, **style)


def plot_changed_vs_drift(changed: pd.DataFrame, m: Measured, sparse_at: float):
    """Changed fraction against drift: fp32, bf16 (with the size-predicted share), τ = 1e-5."""
    import matplotlib.pyplot as plt

    views = [v for v in ("fp32", "bf16", "atol_1e-05") if v in set(changed.view)]
    fig, axes = plt.subplots(
        1, len(views), figsize=(4.2 * len(views), 3.6), sharey=True, layout="constrained"
    )
    cells = every_cell(m)
    visible = pooled(m, "fp32", *cells) - pooled(m, "invisible", *cells)
    predicted = visible / pooled(m, "params", *cells)  # (R, L)
    for ax, view in zip(axes, views, strict=True):
        for r, regime in enumerate(REGIMES):
            rows = changed[(changed.regime == regime) & (changed.view == view)]
            rows = rows[rows.drift > 0].sort_values("drift")
            with_bars(ax, rows.drift, rows, regime)
            if view == "bf16":
                expected = [predicted[r, m.lrs.index(lr)] for lr in rows.lr]
                ax.plot(rows.drift, expected, ":", color=COLORS[regime])
        ax.axhline(sparse_at, color="grey", linestyle="--", linewidth=1, label="sparse threshold")
        title = view.replace("atol_", "|Δ| > ")
        ax.set(xscale="log", title=title, xlabel="relative drift ‖Δ‖/‖W‖ (log)", ylim=(-0.02, 1.02))
    axes[0].set_ylabel("changed fraction of parameters")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("dotted (bf16): share predicted visible from |Δ| ≥ ½ bf16 ulp of w", fontsize=8)
    return fig


def plot_tolerances(changed: pd.DataFrame, m: Measured):
    """Changed fraction against τ per regime (one line per rate), bf16 view dotted."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(REGIMES), figsize=(12, 3.6), sharey=True, layout="constrained")
    shades = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(m.lrs)))
    for ax, regime in zip(axes, REGIMES, strict=True):
        mine = changed[changed.regime == regime]
        for lr, shade in zip(m.lrs, shades, strict=True):
            rows = mine[(mine.lr == lr) & mine.view.str.startswith("atol_")]
            ax.plot(m.tolerances, rows.estimate, "o-", color=shade, ms=3, label=f"lr {lr:g}")
            ax.fill_between(m.tolerances, rows.low, rows.high, color=shade, alpha=0.2, lw=0)
            bf16 = mine[(mine.lr == lr) & (mine.view == "bf16")].estimate.iloc[0]
            ax.axhline(bf16, color=shade, linestyle=":", linewidth=1)
        ax.set(xscale="log", title=LABELS[regime], xlabel="tolerance τ in |Δ| > τ (log)")
    axes[0].set(ylabel="changed fraction of parameters", ylim=(-0.02, 1.02))
    axes[0].legend(fontsize=7, title="solid: |Δ| > τ; dotted: bf16", title_fontsize=7)
    return fig


def plot_structure(ranks: pd.DataFrame, overlap: pd.DataFrame, lrs: tuple[float, ...]):
    """Rank fraction, stable rank / full rank, and bf16 mask overlap against chance, per rate."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
    for ax, figure in zip(axes[:2], ("rank_fraction", "stable_rank_fraction"), strict=True):
        for regime in REGIMES:
            rows = ranks[(ranks.regime == regime) & (ranks.figure == figure)]
            with_bars(ax, rows.lr, rows, regime)
        ax.set(xscale="log", xlabel="learning rate (log)", ylabel=figure.replace("_", " "))
        ax.set_ylim(0, 1.02 if figure == "rank_fraction" else None)
    axes[0].legend(fontsize=7)
    bf16 = overlap[overlap.view == "bf16"]
    for regime in REGIMES:
        rows = bf16[bf16.regime == regime]
        axes[2].plot(rows.lr, rows.jaccard, "o", color=COLORS[regime], label=LABELS[regime])
        axes[2].plot(rows.lr, rows.chance, "x", color=COLORS[regime])
    if bf16.empty:
        axes[2].text(0.5, 0.5, "overlap needs two seeds", ha="center", transform=axes[2].transAxes)
    axes[2].set(xscale="log", xlim=(min(lrs) / 2, max(lrs) * 2), ylim=(-0.02, 1.02))
    axes[2].set(xlabel="learning rate (log)", ylabel="Jaccard of two seeds' bf16 masks")
    axes[2].set_title("o: observed, x: chance at per-tensor densities", fontsize=8)
    axes[2].legend(fontsize=7)
    return fig
