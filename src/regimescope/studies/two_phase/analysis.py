"""Study 5's curves, arc and effects, with crossed intervals over seeds and problems.

A curve is a ratio of sums over the (seed, problem) cells it is given (see
``experiment``). Every seed is measured on the same problems, and step 0 (the base) is
one measurement shared by every seed, tiled into each seed's cells; an interval resamples
seeds and one set of problem columns per resample (``stats.resample_indices``), so the
tiled base is indexed by the same columns as the seeds. Every resample recomputes the
whole statistic, the detected phase boundary included. Effects that enter the verdict's
contradicting branch are built with ``family`` = the number of its contradicting tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from regimescope.instruments import planning
from regimescope.studies.premises import reward_rise
from regimescope.studies.stats import (
    Resampled,
    bootstrap_mean,
    crossed_bootstrap,
    resample_indices,
)
from regimescope.studies.two_phase.experiment import ARMS, METRICS
from regimescope.studies.verdict import Effect, effect

DIVERSITY = "valid-plan coverage"  # the decided plan-diversity measure (v2)

# ---------------------------------------------------------------- curves over (seed, problem) cells


@dataclass(frozen=True)
class ArmData:
    steps: np.ndarray  # (C,) checkpoint steps, 0 = the base
    seeds: int  # S
    problems: int  # P
    columns: dict[str, np.ndarray]  # column -> (S * P, C), cell = seed * P + problem

    def cells(self, seed_idx: np.ndarray, problem_idx: np.ndarray) -> np.ndarray:
        """The cell ids of the picked seeds × problems (crossed), flattened."""
        ids = np.arange(self.seeds * self.problems).reshape(self.seeds, self.problems)
        return ids[np.ix_(seed_idx, problem_idx)].ravel()


def arm_data(frame: pd.DataFrame, arm: str, seeds: tuple[int, ...]) -> ArmData:
    """The (cell, step) arrays of one arm; step 0 is the base's row for every seed."""
    base = frame[frame.arm == "base"].sort_values("problem")
    tuned = frame[(frame.arm == arm) & frame.seed.isin(seeds)]
    steps = np.array([0, *sorted(tuned.step.unique())])
    columns = {}
    for column in {c for num, den, _ in METRICS.values() for c in (num, den) if c}:
        wide = tuned.pivot_table(index=["seed", "problem"], columns="step", values=column)
        start = np.tile(base[column].to_numpy(), len(seeds))[:, None]  # (S * P, 1)
        columns[column] = np.hstack([start, wide.to_numpy()])  # (S * P, C)
    return ArmData(steps, len(seeds), len(base), columns)


def curve(data: ArmData, metric: str, cells: np.ndarray | None = None) -> np.ndarray:
    """The metric at every checkpoint (C,) over ``cells`` (default: all): a ratio of sums
    for token metrics, a mean over cells otherwise; relative perplexity divides by step 0."""
    num, den, unit = METRICS[metric]
    cells = np.arange(data.seeds * data.problems) if cells is None else cells
    top = data.columns[num][cells].sum(axis=0)  # (C,)
    bottom = data.columns[den][cells].sum(axis=0) if den else np.full(top.shape, float(len(cells)))
    value = np.divide(top, bottom, out=np.full(top.shape, np.nan), where=bottom > 0)
    if unit == "PPL_t / PPL_0":
        value = np.exp(value) / np.exp(value[0])
    return value


def cell_bootstrap(data: ArmData, statistic, resamples: int) -> Resampled:
    """``statistic(cells)`` on the data and on crossed resamples of its (seed, problem) cells."""
    return crossed_bootstrap(
        lambda s, p: statistic(data.cells(s, p)), data.seeds, data.problems, resamples
    )


def cube(data: ArmData, column: str) -> np.ndarray:
    """A per-cell column as (S, P, C)."""
    return data.columns[column].reshape(data.seeds, data.problems, -1)


# ---------------------------------------------------------------- the arc: boundary and phases

ARC = {  # key of arc() -> (effect name, unit, decided)
    "slope_before": ("GRPO execution-token entropy slope, phase 1", "nats per 100 steps", True),
    "slope_change": (
        "GRPO execution-token entropy slope, phase 1 − phase 2",
        "nats per 100 steps",
        True,
    ),
    "plan_rise": (f"GRPO {DIVERSITY} change over phase 2", "fraction", True),
    "diversity_rise": (
        "GRPO valid-plan diversity (Gini-Simpson) change over phase 2",
        "probability",
        False,
    ),
    "entropy_rise": (
        "GRPO plan-choice entropy (all samples; the pre-v2 measure) change over phase 2",
        "nats",
        False,
    ),
    "boundary": (
        "GRPO phase boundary (knot of the execution-entropy hinge fit)",
        "RL steps",
        False,
    ),
}
RISES = {  # arc key -> the metric whose change over phase 2 it is
    "plan_rise": DIVERSITY,
    "diversity_rise": "valid-plan diversity",
    "entropy_rise": "plan-choice entropy",
}


def arc(data: ArmData, cells: np.ndarray | None = None) -> dict[str, float]:
    """The two-phase statistics of one arm over ``cells``.

    The boundary is the knot of the hinge fit of the execution-token entropy curve;
    slopes are in nats per 100 steps; each of ``RISES`` is its metric at the last
    checkpoint minus at the boundary. All nan when fewer than 3 checkpoints have exec tokens.
    """
    entropy = curve(data, "execution-token entropy", cells)
    keep = np.isfinite(entropy)
    if keep.sum() < 3:
        return dict.fromkeys(ARC, np.nan)
    fit = planning.hinge_fit(data.steps[keep], entropy[keep])
    at = int(np.searchsorted(data.steps, fit.boundary))
    found = {
        "boundary": fit.boundary,
        "slope_before": 100 * fit.slope_before,
        "slope_change": 100 * (fit.slope_before - fit.slope_after),
    }
    for key, metric in RISES.items():
        values = curve(data, metric, cells)
        found[key] = float(values[-1] - values[at])
    return found


def arc_effects(data: ArmData, resamples: int, family: int) -> dict[str, Effect]:
    """Every ``ARC`` statistic with its interval, from one arc fit per crossed resample;
    the decided ones built for a verdict of ``family`` contradicting tests."""
    rows, cols = resample_indices(data.seeds, data.problems, resamples)
    draws = [arc(data, data.cells(r, c)) for r, c in zip(rows, cols, strict=True)]
    point = arc(data)
    found = {}
    for key, (name, unit, decided) in ARC.items():
        resampled = Resampled(point[key], np.array([d[key] for d in draws]))
        found[key] = effect(name, resampled, unit, family if decided else 1)
    return found


# ---------------------------------------------------------------- arms against the base and GRPO


def gain(data: ArmData, label: str, resamples: int) -> Effect:
    """Held-out accuracy (pass@1) at the last checkpoint minus the base's, per (seed,
    problem); the base's column is shared by the seeds, so crossed columns pair it."""
    acc = cube(data, "accuracy")
    return effect(
        f"{label} accuracy, last checkpoint − base",
        bootstrap_mean(acc[:, :, -1] - acc[:, :, 0], resamples),
    )


def versus_grpo(arms: dict[str, ArmData], arm: str, last: bool, resamples: int) -> Effect:
    """arm − GRPO accuracy per (seed, problem): at the last checkpoint, or the mean over
    the checkpoints after the base (the area under the accuracy curve: who gets there sooner)."""
    a, g = cube(arms[arm], "accuracy"), cube(arms["grpo"], "accuracy")
    pick = (lambda x: x[:, :, -1]) if last else (lambda x: x[:, :, 1:].mean(axis=2))
    when = "last checkpoint" if last else "mean over checkpoints"
    found = bootstrap_mean(pick(a) - pick(g), resamples)
    return effect(f"{ARMS[arm].label} − GRPO accuracy, {when}", found)


def change(data: ArmData, metric: str, resamples: int, label: str) -> Effect:
    """A metric's last checkpoint minus the base (step 0) for one arm."""
    found = cell_bootstrap(
        data, lambda c: float(np.subtract(*curve(data, metric, c)[[-1, 0]])), resamples
    )
    return effect(f"{label} {metric}, last checkpoint − base", found, METRICS[metric][2])


def rises(rollouts: pd.DataFrame, resamples: int) -> dict[str, Effect]:
    """arm -> the training reward's rise (last tenth − first tenth of the recorder's
    per-step rollout reward, per seed): the first RL premise."""
    found = {}
    for arm, rows in rollouts.groupby("arm", sort=False):
        curves = [
            seed_rows.sort_values("step").reward.to_numpy() for _, seed_rows in rows.groupby("seed")
        ]
        rise = reward_rise(curves, resamples)
        found[arm] = Effect(f"{ARMS[arm].label} {rise.name}", rise.estimate, rise.ci95, rise.unit)
    return found


@dataclass(frozen=True)
class Found:
    arc: dict[str, Effect]  # ARC key -> GRPO's effect
    gains: dict[str, Effect]  # arm -> held-out accuracy gain over the base (premise)
    rises: dict[str, Effect]  # arm -> training reward rise (premise)
    hicra: Effect  # HICRA − GRPO accuracy, mean over checkpoints
    bonus: Effect  # entropy bonus − GRPO accuracy, mean over checkpoints
    reported: list[Effect]  # measured, not decided

    @property
    def all(self) -> list[Effect]:
        decided = [self.arc[k] for k, (_, _, d) in ARC.items() if d]
        rest = [self.arc[k] for k, (_, _, d) in ARC.items() if not d]
        premises = [*self.gains.values(), *self.rises.values()]
        return [*decided, self.hicra, self.bonus, *premises, *rest, *self.reported]


def effects(
    arms: dict[str, ArmData],
    rollouts: pd.DataFrame,
    proxy: list[dict],
    cfg,
    family: int,
) -> Found:
    """Every effect of the study; GRPO's decided arc effects built with ``family``."""
    grpo, resamples = arms["grpo"], cfg.bootstrap
    reported = [
        change(grpo, "aggregate token entropy", resamples, "GRPO"),
        change(grpo, "execution-token relative perplexity", resamples, "GRPO"),
        change(grpo, "plan accuracy", resamples, "GRPO"),
        change(grpo, "execution accuracy", resamples, "GRPO"),
        change(arms["entropy"], "aggregate token entropy", resamples, "entropy-bonus arm"),
        versus_grpo(arms, "hicra", True, resamples),
        versus_grpo(arms, "entropy", True, resamples),
    ]
    for row in proxy:
        if row["top_fraction"] == cfg.proxy_fraction:
            for name in ("precision", "recall"):
                ci = (row[f"{name}_low"], row[f"{name}_high"])
                label = f"n-gram miner {name} vs true plan tokens (top {cfg.proxy_fraction:g})"
                reported.append(Effect(label, row[name], ci))
    return Found(
        arc_effects(grpo, resamples, family),
        {arm: gain(data, ARMS[arm].label, resamples) for arm, data in arms.items()},
        rises(rollouts, resamples),
        versus_grpo(arms, "hicra", False, resamples),
        versus_grpo(arms, "entropy", False, resamples),
        reported,
    )


# ---------------------------------------------------------------- the strategic n-gram proxy


def proxy_scores(docs: list[dict], seeds: tuple[int, ...], problems: int, cfg) -> list[dict]:
    """Precision and recall of the n-gram miner against the plan labels, per kept share.

    Mined from the correct samples of the last GRPO checkpoints (all seeds pooled), scored
    on every labelled sample; intervals resample (seed, problem) cells of the counts,
    crossed (the mining itself is not redone per resample). ``chance_precision`` is the
    share of plan tokens among the scored tokens: the precision of a mask drawn at random.
    """
    correct = [d["tokens"] for d in docs if d["correct"]]
    scored = [d for d in docs if d["plan_mask"] is not None]
    tokens = sum(len(d["plan_mask"]) for d in scored)
    chance = sum(sum(d["plan_mask"]) for d in scored) / tokens if tokens else float("nan")
    rows = []
    for share in cfg.top_fractions:
        grams = planning.mine_ngrams(correct, *cfg.ngram_sizes, top_fraction=share)
        counts = np.zeros((len(seeds), problems, 3))  # (S, P, tp/fp/fn)
        for d in scored:
            counts[seeds.index(d["seed"]), d["problem"]] += planning.mask_counts(
                planning.ngram_mask(d["tokens"], grams), d["plan_mask"]
            )
        row = proxy_row(share, grams, counts, cfg.bootstrap)
        rows.append(row | {"chance_precision": chance})
    return rows


def proxy_row(share, grams, counts: np.ndarray, resamples: int) -> dict:
    """One kept share's precision and recall with intervals, and its top n-grams."""
    row = {"top_fraction": share, "grams_kept": len(grams)}
    for which, name in enumerate(("precision", "recall")):

        def statistic(s, p, which=which):
            tp, fp, fn = counts[np.ix_(s, p)].sum(axis=(0, 1))
            return planning.precision_recall(tp, fp, fn)[which]

        found = crossed_bootstrap(statistic, counts.shape[0], counts.shape[1], resamples)
        low, high = found.interval()
        row |= {name: found.estimate, f"{name}_low": low, f"{name}_high": high}
    return row | {"top_grams": " | ".join("".join(g).replace("\n", "⏎") for g in grams[:8])}
