"""Effects of the learning-mechanics study (study 9) from its three sweeps.

The random unit is a training seed (its initialisation and data order). In the
edge-of-stability and batch sweeps one seed runs every step size (or batch size), so a
seed's statistics over them are one observation and intervals resample seeds. In the size
sweep every (width, seed) run has its own data order, so seeds are nested in widths and a
resample draws seeds *within* each width, then refits the law.

Per-run statistics of the edge of stability (η the step size, S_t the sharpness reading at
step t, L_t the full-batch training loss):

- onset: the first t with S_t >= ``ONSET`` · 2/η ("the run reached the edge");
- hover: median over readings from the onset on of S_t / (2/η) (1 at the edge);
- fall: 1 − mean L over the last tenth of the steps after the onset / mean L over their
  first tenth (the loss keeps falling: > 0);
- ups: the fraction of steps after the onset where L_{t+1} > L_t (0 for stable, monotone
  gradient descent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from regimescope.instruments.loss_collapse import collapse_spread
from regimescope.instruments.scaling_law import fit_power_law
from regimescope.studies.stats import Resampled, bootstrap_mean
from regimescope.studies.verdict import Effect, effect

ONSET = 0.9  # sharpness at this fraction of 2/η counts as reaching the edge
WINDOW = 0.1  # fraction of the post-onset steps averaged at each end for the fall
NOISE_WINDOW = 2.0  # noise readings at eval loss <= this x target predict B_crit


def eos_statistics(eos: pd.DataFrame) -> pd.DataFrame:
    """One row per (seed, rate): onset step (NaN if never), whether it came in the first
    half of the run, hover, fall and ups (NaN without an onset)."""
    rows = []
    for (seed, rate), run in eos.groupby(["seed", "rate"]):
        rows.append({"seed": seed, "rate": rate, **edge_of_stability(run, rate)})
    return pd.DataFrame(rows)


def edge_of_stability(run: pd.DataFrame, rate: float) -> dict[str, float]:
    """The per-run statistics of the module docstring for one full-batch GD run."""
    edge = 2.0 / rate
    readings = run.dropna(subset=["sharpness"])
    losses = run.dropna(subset=["train_loss"]).sort_values("step")
    last = float(run.step.max())
    at_edge = readings[readings.sharpness >= ONSET * edge]
    if at_edge.empty:
        nan = float("nan")
        return {"onset": nan, "in_time": False, "hover": nan, "fall": nan, "ups": nan}
    onset = float(at_edge.step.min())
    after = losses[losses.step >= onset].train_loss.to_numpy()
    tenth = max(1, int(len(after) * WINDOW))
    return {
        "onset": onset,
        "in_time": onset <= last / 2,
        "hover": float(np.median(readings[readings.step >= onset].sharpness / edge)),
        "fall": float(1 - after[-tenth:].mean() / after[:tenth].mean()),
        "ups": float(np.mean(np.diff(after) > 0)) if len(after) > 1 else float("nan"),
    }


def seed_mean(stats: pd.DataFrame, column: str) -> np.ndarray:
    """(S,) each seed's mean of ``column`` over its step sizes (or batch sizes)."""
    return stats.groupby("seed")[column].mean().sort_index().to_numpy(dtype=float)


def over_seeds(name: str, values: np.ndarray, resamples: int, unit: str, family: int) -> Effect:
    """Mean over seeds of per-seed ``values`` (S,), resampling seeds."""
    return effect(name, bootstrap_mean(values, resamples), unit, family)


def final_losses(sizes: pd.DataFrame) -> dict[int, np.ndarray]:
    """parameters -> (seeds,) the last evaluation loss of each seed's run at that size."""
    last = sizes.sort_values("step").groupby(["parameters", "seed"]).eval_loss.last()
    return {int(n): last.loc[n].to_numpy(dtype=float) for n in last.index.levels[0]}


def scaling_prediction(
    losses: dict[int, np.ndarray], predicted: int, resamples: int, family: int
) -> tuple[Effect, Effect, dict]:
    """Relative error of the law fitted on every size but ``predicted`` at ``predicted``:
    mean measured loss / L(predicted) − 1, with seeds resampled within each size and the law
    refitted per resample (from the point fit); the fitted exponent α from the same refits
    (the premise); and the point fit with its prediction (for tables and figures)."""
    fitted = sorted(n for n in losses if n != predicted)
    law = fit_power_law(fitted, [losses[n].mean() for n in fitted])
    rng = np.random.default_rng(0)

    def refit(draw) -> tuple[float, float, float]:
        again = fit_power_law(fitted, [draw(losses[n]).mean() for n in fitted], start=law)
        prediction = again.predict(predicted)
        return draw(losses[predicted]).mean() / prediction - 1, again.exponent, prediction

    draws = np.array(
        [refit(lambda a: a[rng.integers(0, len(a), len(a))]) for _ in range(resamples)]
    )  # [R, 3]: error, exponent, prediction
    error = losses[predicted].mean() / law.predict(predicted) - 1
    name = f"measured / predicted loss - 1 at {predicted} parameters"
    scaling = effect(name, Resampled(error, draws[:, 0]), "fraction", family)
    exponent = effect(
        "scaling exponent α (fitted sizes)", Resampled(law.exponent, draws[:, 1]), "1"
    )
    point = {
        "law": law,
        "prediction": law.predict(predicted),
        "prediction_ci": Resampled(law.predict(predicted), draws[:, 2]).interval(0.95),
        "measured": losses[predicted].mean(),
    }
    return scaling, exponent, point


def collapse_ratio(sizes: pd.DataFrame, irreducible: float, resamples: int, family: int) -> Effect:
    """Spread of the normalised loss curves across sizes over their spread across seeds:
    mean over seed positions of ``collapse_spread`` across sizes, divided by the mean over
    sizes of ``collapse_spread`` across seeds (the noise floor); seeds resampled within
    sizes. Below 1: the curves of different sizes agree better than two seeds of one.

    The floor of a resample uses each size's *distinct* drawn seeds: a seed drawn twice adds
    a zero spread, which would shrink the floor and push the ratio towards "no collapse"."""
    curves = {
        (n, s): (run.step.to_numpy(), run.eval_loss.to_numpy())
        for (n, s), run in sizes.sort_values("step").groupby(["parameters", "seed"])
    }
    by_size = {n: sorted(s for m, s in curves if m == n) for n, _ in curves}
    rng = np.random.default_rng(2)

    def ratio(pick) -> float:
        chosen = {n: pick(seeds) for n, seeds in by_size.items()}
        positions = min(len(c) for c in chosen.values())
        across = np.mean(
            [
                collapse_spread([curves[(n, c[i])] for n, c in chosen.items()], irreducible)
                for i in range(positions)
            ]
        )
        distinct = {n: sorted(set(c)) for n, c in chosen.items()}  # a repeat adds no spread
        floors = [
            collapse_spread([curves[(n, s)] for s in c], irreducible)
            for n, c in distinct.items()
            if len(c) > 1
        ]
        floor = np.mean(floors) if floors else math.nan
        return float(across / floor) if floor > 0 else math.nan

    draws = np.array(
        [ratio(lambda seeds: list(rng.choice(seeds, len(seeds)))) for _ in range(resamples)]
    )
    found = Resampled(ratio(lambda seeds: seeds), draws)
    return effect("collapse spread across sizes / across seeds", found, "ratio", family)


def steps_to_target(batches: pd.DataFrame) -> pd.DataFrame:
    """Per (seed, batch size): the fewest steps to the target over the learning rates
    (NaN if none reached it) and the rate that achieved it."""
    reached = batches.dropna(subset=["reached_at"])
    best = reached.loc[reached.groupby(["seed", "batch_size"]).reached_at.idxmin()]
    grid = batches[["seed", "batch_size"]].drop_duplicates()
    return grid.merge(best[["seed", "batch_size", "reached_at", "rate"]], how="left").rename(
        columns={"reached_at": "steps"}
    )


def critical_batch(steps: pd.DataFrame) -> dict[str, float]:
    """McCandlish et al.'s S(B) = S_min (1 + B_crit / B), fitted by least squares of S on
    1/B (S = a + b/B, S_min = a, B_crit = b/a); NaN when fewer than three batch sizes reached
    the target or the intercept is not positive."""
    done = steps.dropna(subset=["steps"])
    if len(done) < 3:
        return {"s_min": math.nan, "b_crit": math.nan}
    slope, intercept = np.polyfit(
        1.0 / done.batch_size.to_numpy(float), done.steps.to_numpy(float), 1
    )
    if intercept <= 0:
        return {"s_min": math.nan, "b_crit": math.nan}
    return {"s_min": float(intercept), "b_crit": float(slope / intercept)}


def predicted_noise_scale(noise: pd.DataFrame, steps: pd.DataFrame, target: float) -> float:
    """B_simple of the reference run (smallest batch, its best rate): tr(Σ) and |G|² each
    averaged over its readings at eval loss <= ``NOISE_WINDOW`` x target, then divided."""
    reference = steps[steps.batch_size == steps.batch_size.min()].iloc[0]
    if pd.isna(reference.rate):
        return math.nan
    run = noise[(noise.batch_size == reference.batch_size) & (noise.rate == reference.rate)]
    near = run[run.eval_loss <= NOISE_WINDOW * target]
    if near.empty or near.gradient_sq.mean() <= 0:
        return math.nan
    return float(near.trace_cov.mean() / near.gradient_sq.mean())


def batch_statistics(batches: pd.DataFrame, noise: pd.DataFrame, target: float) -> pd.DataFrame:
    """One row per seed: S_min, B_crit (fitted), B_simple (predicted) and log10 of their ratio."""
    rows = []
    best = steps_to_target(batches)
    for seed, steps in best.groupby("seed"):
        fit = critical_batch(steps)
        simple = predicted_noise_scale(noise[noise.seed == seed], steps, target)
        ratio = fit["b_crit"] / simple if simple > 0 else math.nan
        rows.append(
            {
                "seed": seed,
                **fit,
                "b_simple": simple,
                "log10_ratio": math.log10(ratio) if ratio > 0 else math.nan,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Found:
    eos_stats: pd.DataFrame  # per (seed, rate): onset, in_time, hover, fall, ups
    losses: dict[int, np.ndarray]  # parameters -> final eval loss per seed
    scaling: Effect  # measured / predicted − 1 at the predicted size
    scaling_point: dict  # the point law, its prediction, the measured mean
    exponent: Effect  # α on the fitted sizes (the premise)
    collapse: Effect  # across-size / across-seed spread of normalised curves
    steps: pd.DataFrame  # per (seed, batch size): fewest steps to the target, best rate
    batch_stats: pd.DataFrame  # per seed: S_min, B_crit, B_simple, log10 ratio
    effects: dict[str, Effect]  # hover, fall, ups, batch (means over seeds)

    def decided(self) -> dict[str, Effect]:
        """The six effects the rule decides on, keyed by ``decide``'s argument names."""
        return {**self.effects, "scaling": self.scaling, "collapse": self.collapse}


def measure(cfg, tables: dict[str, pd.DataFrame], family: int) -> Found:
    """Every statistic and effect of the study from ``experiment.train_and_measure``."""
    eos_stats = eos_statistics(tables["eos"])
    stats = eos_stats.assign(hover_gap=eos_stats.hover - 1)
    losses = final_losses(tables["sizes"])
    predicted = int(tables["sizes"][tables["sizes"].width == cfg.predict_width].parameters.iloc[0])
    scaling, exponent, point = scaling_prediction(losses, predicted, cfg.fit_resamples, family)
    collapse = collapse_ratio(tables["sizes"], point["law"].irreducible, cfg.fit_resamples, family)
    batch_stats = batch_statistics(tables["batches"], tables["noise"], cfg.batches.target_loss)
    r = cfg.resamples
    effects = {
        "hover": over_seeds(
            "median sharpness / (2/η) - 1 at the edge",
            seed_mean(stats, "hover_gap"),
            r,
            "fraction",
            family,
        ),
        "fall": over_seeds(
            "loss fall at the edge (1 - last/first tenth)",
            seed_mean(stats, "fall"),
            r,
            "fraction",
            family,
        ),
        "ups": over_seeds(
            "fraction of steps at the edge that raise the loss",
            seed_mean(stats, "ups"),
            r,
            "fraction",
            family,
        ),
        "batch": over_seeds(
            "log10(B_crit / B_simple)", batch_stats.log10_ratio.to_numpy(float), r, "log10", family
        ),
    }
    return Found(
        eos_stats=eos_stats,
        losses=losses,
        scaling=scaling,
        scaling_point=point,
        exponent=exponent,
        collapse=collapse,
        steps=steps_to_target(tables["batches"]),
        batch_stats=batch_stats,
        effects=effects,
    )
