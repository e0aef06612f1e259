"""Study 5's effects: the GRPO arc, the gate, and HICRA and the entropy bonus against GRPO,
each with a 95% interval over seeds and problems.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.two_phase_curves import ArmData, arc, cell_bootstrap, curve
from regimescope.studies.two_phase_parts import ARMS, METRICS
from regimescope.studies.verdict import Effect

# ---------------------------------------------------------------- effects

ARC = {  # key of arc() -> (effect name, unit)
    "slope_before": ("GRPO execution-token entropy slope, phase 1", "nats per 100 steps"),
    "slope_change": ("GRPO execution-token entropy slope, phase 1 − phase 2", "nats per 100 steps"),
    "plan_rise": ("GRPO plan-choice entropy change over phase 2", "nats"),
    "boundary": ("GRPO phase boundary (knot of the execution-entropy hinge fit)", "RL steps"),
}


@dataclass(frozen=True)
class Found:
    gain: Effect  # GRPO accuracy, last checkpoint − base (the gate)
    arc: dict[str, Effect]  # ARC key -> effect
    hicra: Effect  # HICRA − GRPO accuracy, mean over checkpoints
    bonus: Effect  # entropy bonus − GRPO accuracy, mean over checkpoints
    reported: list[Effect]  # measured, not decided

    @property
    def all(self) -> list[Effect]:
        decided = [self.arc["slope_before"], self.arc["slope_change"], self.arc["plan_rise"]]
        return [*decided, self.gain, self.hicra, self.bonus, self.arc["boundary"], *self.reported]


def cube(data: ArmData, column: str) -> np.ndarray:
    """A per-cell column as (S, P, C)."""
    return data.columns[column].reshape(data.seeds, data.problems, -1)


def versus_grpo(arms: dict[str, ArmData], arm: str, last: bool, resamples: int) -> Effect:
    """arm − GRPO accuracy per (seed, problem): at the last checkpoint, or the mean over
    the checkpoints after the base (the area under the accuracy curve: who gets there sooner)."""
    a, g = cube(arms[arm], "accuracy"), cube(arms["grpo"], "accuracy")
    pick = (lambda x: x[:, :, -1]) if last else (lambda x: x[:, :, 1:].mean(axis=2))
    when = "last checkpoint" if last else "mean over checkpoints"
    est, ci = hierarchical_bootstrap(pick(a) - pick(g), np.mean, resamples)
    return Effect(f"{ARMS[arm].label} − GRPO accuracy, {when}", est, ci)


def change(data: ArmData, metric: str, resamples: int, label: str) -> Effect:
    """A metric's last checkpoint minus the base (step 0) for one arm."""
    est, ci = cell_bootstrap(
        data, lambda c: float(np.subtract(*curve(data, metric, c)[[-1, 0]])), resamples
    )
    return Effect(f"{label} {metric}, last checkpoint − base", est, ci, METRICS[metric][2])


def effects(arms: dict[str, ArmData], proxy: list[dict], cfg) -> Found:
    """Every effect of the study, with 95% intervals over seeds and problems."""
    grpo, resamples = arms["grpo"], cfg.bootstrap
    acc = cube(grpo, "accuracy")
    gain = Effect(
        "GRPO accuracy, last checkpoint − base",
        *hierarchical_bootstrap(acc[:, :, -1] - acc[:, :, 0], np.mean, resamples),
    )
    found_arc = {
        key: Effect(
            name, *cell_bootstrap(grpo, lambda c, key=key: arc(grpo, c)[key], resamples), unit
        )
        for key, (name, unit) in ARC.items()
    }
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
        gain,
        found_arc,
        versus_grpo(arms, "hicra", False, resamples),
        versus_grpo(arms, "entropy", False, resamples),
        reported,
    )
