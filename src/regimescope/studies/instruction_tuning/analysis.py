"""Effects of the instruction-tuning study (study 1) from its per-problem scores.

The instances of one rule are correlated and the claim is about unseen *tasks*, so the unit
here is a rule: scores are first averaged over each rule's instances (every rule weighs the
same), giving one (seeds x rules) array per model and metric. Every model of every seed is
scored on the same instances, hence the same rules: the design is crossed, and intervals
come from ``stats.bootstrap_mean``, which draws seeds and one set of rule columns per
resample, shared by every drawn seed. Differences are paired by seed and rule.

Effects that enter the verdict's k-part ``combine`` are built with ``family=k`` (their
contradicting branch is judged on the 1 - 0.05/k interval); the others are descriptive.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from regimescope.studies.stats import bootstrap_mean
from regimescope.studies.verdict import Effect, effect

METRICS = ("em", "valid", "task", "random")


class Scores:
    """The per-problem scores of every model, turned into effects with intervals."""

    def __init__(self, scores: pd.DataFrame, resamples: int):
        self.scores = scores
        self.resamples = resamples
        self.groups = dict(iter(scores.groupby(["condition", "per_rule", "split"])))

    def values(self, condition: str, split: str, per_rule: float, metric: str) -> np.ndarray:
        """(S seeds, R rules) array of ``metric`` averaged over each rule's instances; the
        untuned model ignores ``per_rule``."""
        rows = self.groups[(condition, 0 if condition == "untuned" else per_rule, split)]
        table = rows.groupby(["seed", "rule"])[metric].mean().unstack("rule")
        return table.sort_index().sort_index(axis=1).to_numpy(dtype=float)

    def mean(self, name: str, values: np.ndarray, family: int = 1) -> Effect:
        """The mean of (seeds x rules) ``values``, with crossed bootstrap intervals."""
        return effect(name, bootstrap_mean(values, self.resamples), family=family)

    def gap(
        self, a: str, b: str, split: str, per_rule: float, metric: str = "em", family: int = 1
    ) -> Effect:
        """Paired difference of ``metric``, condition a - condition b."""
        diff = self.values(a, split, per_rule, metric) - self.values(b, split, per_rule, metric)
        return self.mean(f"{metric} {a} - {b}, {split}, {per_rule:g}/rule", diff, family)

    def vs_random(self, condition: str, split: str, per_rule: float, family: int = 1) -> Effect:
        """Exact match minus random guessing in the label space (the paper's comparison)."""
        em = self.values(condition, split, per_rule, "em")
        chance = self.values(condition, split, per_rule, "random")
        name = f"em {condition} - random in label space, {split}, {per_rule:g}/rule"
        return self.mean(name, em - chance, family)

    def task_component(self, condition: str, split: str, per_rule: float) -> Effect:
        """EM - validity/|labels|: zero in expectation for valid answers that ignore the input."""
        name = f"task component, {condition}, {split}, {per_rule:g}/rule"
        return self.mean(name, self.values(condition, split, per_rule, "task"))

    def decided(self, split: str, per_rule: float, family: int) -> dict[str, Effect]:
        """The four effects the rule decides on, keyed by ``decide``'s argument names."""
        return {
            "beats_untuned": self.gap("original", "untuned", split, per_rule, family=family),
            "vs_random": self.vs_random("original", split, per_rule, family),
            "simplified_gap": self.gap("simplified", "original", split, per_rule, family=family),
            "delusive_gap": self.gap("delusive", "original", split, per_rule, family=family),
        }

    def summary(self) -> pd.DataFrame:
        """Tidy table: condition, per_rule, split, metric, estimate, low, high."""
        rows = []
        keys = self.scores[["condition", "per_rule", "split"]].drop_duplicates()
        for condition, per_rule, split in keys.itertuples(index=False):
            for metric in METRICS:
                e = self.mean(metric, self.values(condition, split, per_rule, metric))
                rows.append(
                    {
                        "condition": condition,
                        "per_rule": per_rule,
                        "split": split,
                        "metric": metric,
                        "estimate": e.estimate,
                        "low": e.ci95[0],
                        "high": e.ci95[1],
                    }
                )
        return pd.DataFrame(rows)

    def where(
        self, sizes: tuple[float, ...], kind: Callable[[Effect, Effect], str]
    ) -> pd.DataFrame:
        """Per (split, size): the original model's task component, validity gain over the
        untuned model, instruction gap (original - simplified EM), and what transferred."""
        rows = []
        for split in self.scores.split.unique():
            for size in sizes:
                task = self.task_component("original", split, size)
                validity = self.gap("original", "untuned", split, size, "valid")
                instruction = self.gap("original", "simplified", split, size)
                rows.append(
                    {
                        "split": split,
                        "per_rule": size,
                        **flat("task", task),
                        **flat("validity_gain", validity),
                        **flat("instruction_gap", instruction),
                        "kind": kind(task, validity),
                    }
                )
        return pd.DataFrame(rows)


def flat(prefix: str, found: Effect) -> dict[str, float]:
    return {
        prefix: found.estimate,
        f"{prefix}_low": found.ci95[0],
        f"{prefix}_high": found.ci95[1],
    }


def where_effects(where: pd.DataFrame) -> list[Effect]:
    """The task component of every (split, size) cell, as verdict effects."""
    return [
        Effect(
            f"task component, original, {r.split}, {r.per_rule:g}/rule",
            r.task,
            (r.task_low, r.task_high),
        )
        for r in where.itertuples()
    ]
