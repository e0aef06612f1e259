"""Study 5's curves over (seed, problem) cells and the two-phase arc of each arm.

A curve is a ratio of sums over the cells it is given (see ``two_phase_parts``).
Intervals resample those cells (hierarchical bootstrap over seeds, then problems) and
recompute the whole statistic, the detected phase boundary included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from regimescope.instruments import planning
from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.two_phase_parts import METRICS

# ---------------------------------------------------------------- curves over (seed, problem) cells


@dataclass(frozen=True)
class ArmData:
    steps: np.ndarray  # (C,) checkpoint steps, 0 = the base
    seeds: int  # S
    problems: int  # P
    columns: dict[str, np.ndarray]  # column -> (S * P, C), cell = seed * P + problem


def arm_data(frame: pd.DataFrame, arm: str, seeds: tuple[int, ...]) -> ArmData:
    """The (cell, step) arrays of one arm; step 0 is the base's row for every seed."""
    base = frame[frame.arm == "base"].sort_values("problem")
    tuned = frame[(frame.arm == arm) & frame.seed.isin(seeds)]
    steps = np.array([0, *sorted(tuned.step.unique())])
    problems = len(base)
    columns = {}
    for column in {c for num, den, _ in METRICS.values() for c in (num, den) if c}:
        wide = tuned.pivot_table(index=["seed", "problem"], columns="step", values=column)
        start = np.tile(base[column].to_numpy(), len(seeds))[:, None]  # (S * P, 1)
        columns[column] = np.hstack([start, wide.to_numpy()])  # (S * P, C)
    return ArmData(steps, len(seeds), problems, columns)


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


def cell_bootstrap(data: ArmData, statistic, resamples: int) -> tuple[float, tuple[float, float]]:
    """``statistic(cells)`` with its 95% interval, resampling seeds then problems."""
    ids = np.arange(data.seeds * data.problems).reshape(data.seeds, data.problems)  # (S, P)
    return hierarchical_bootstrap(
        ids, lambda picked: statistic(picked.astype(int).ravel()), resamples
    )


# ---------------------------------------------------------------- the arc: boundary and phases


def arc(data: ArmData, cells: np.ndarray | None = None) -> dict[str, float]:
    """The two-phase statistics of one arm over ``cells``.

    The boundary is the knot of the hinge fit of the execution-token entropy curve;
    slopes are in nats per 100 steps; ``plan_rise`` is the plan-choice entropy at the last
    checkpoint minus at the boundary. All nan when fewer than 3 checkpoints have exec tokens.
    """
    entropy = curve(data, "execution-token entropy", cells)
    keep = np.isfinite(entropy)
    if keep.sum() < 3:
        return dict.fromkeys(("boundary", "slope_before", "slope_change", "plan_rise"), np.nan)
    fit = planning.hinge_fit(data.steps[keep], entropy[keep])
    plan = curve(data, "plan-choice entropy", cells)
    at = int(np.searchsorted(data.steps, fit.boundary))
    return {
        "boundary": fit.boundary,
        "slope_before": 100 * fit.slope_before,
        "slope_change": 100 * (fit.slope_before - fit.slope_after),
        "plan_rise": float(plan[-1] - plan[at]),
    }


def phase_changes(data: ArmData) -> list[dict]:
    """Each metric's change over phase 1 (step 0 -> boundary) and phase 2 (boundary -> end)."""
    boundary = arc(data)["boundary"]
    if not np.isfinite(boundary):
        return []
    at = int(np.searchsorted(data.steps, boundary))
    rows = []
    for metric, (_, _, unit) in METRICS.items():
        values = curve(data, metric)
        change_1, change_2 = values[at] - values[0], values[-1] - values[at]
        rows.append(
            dict(metric=metric, unit=unit, boundary=boundary, phase_1=change_1, phase_2=change_2)
        )
    return rows


def curve_table(arms: dict[str, ArmData], resamples: int) -> pd.DataFrame:
    """Every arm's every metric at every checkpoint, with a 95% band over seeds and problems."""
    rows = []
    for arm, data in arms.items():
        for metric, (_, _, unit) in METRICS.items():
            for i, step in enumerate(data.steps):
                est, ci = cell_bootstrap(
                    data, lambda c, d=data, m=metric, i=i: curve(d, m, c)[i], resamples
                )
                rows.append((arm, metric, unit, int(step), est, *ci))
    return pd.DataFrame(rows, columns=["arm", "metric", "unit", "step", "estimate", "low", "high"])
