"""Study 3b's effects: paired differences against the one base, with crossed intervals.

Every seed and the base are scored on the same problems, so an interval resamples seeds
and one set of problem columns per resample (``stats.crossed_bootstrap``); the base's
counts, shape (P,), are indexed by those same columns (``b[p]``), so the base sample's
noise is counted once, as it was made. Effects that enter the verdict's k-part combine
are built with ``family=k`` (their (1 − 0.05/k) interval judges a contradiction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regimescope.instruments import passk as pk
from regimescope.studies.premises import reward_rise
from regimescope.studies.rl_objectives.experiment import LABELS, OBJECTIVES, Counts
from regimescope.studies.stats import bootstrap_mean, crossed_bootstrap
from regimescope.studies.verdict import Effect, effect

METRICS = ("pass@1", "pass@n", "fully solved")


def pass_at(correct: np.ndarray, n: int, k: int) -> np.ndarray:
    """Unbiased pass@k of every entry of an array of correct counts (same shape)."""
    flat = np.asarray(correct).ravel()
    return pk.pass_at_k_table(flat, n, [k])[:, 0].reshape(np.shape(correct))


def per_problem(counts: Counts, metric: str, correct: np.ndarray) -> np.ndarray:
    """pass@1, pass@n or the fully-solved indicator of each entry of ``correct``."""
    if metric == "fully solved":
        return (np.asarray(correct) == counts.n).astype(float)
    return pass_at(correct, counts.n, 1 if metric == "pass@1" else counts.n)


def metric_name(counts: Counts, metric: str) -> str:
    return metric.replace("pass@n", f"pass@{counts.n}")


def against_base(tuned: np.ndarray, base: np.ndarray, resamples: int):
    """mean over (seed, problem) of ``tuned`` (S, P) minus ``base`` (P,), crossed: each
    resample's problem columns pick the seeds' cells and the base's entries alike."""
    return crossed_bootstrap(
        lambda s, p: float(np.mean(tuned[np.ix_(s, p)] - base[p][None, :])),
        *tuned.shape,
        resamples,
    )


def versus_base(
    counts: Counts, metric: str, objective: str, resamples: int, family: int = 1
) -> Effect:
    """objective − base in ``metric``, paired per (seed, problem)."""
    tuned = per_problem(counts, metric, counts.tuned[objective])  # (S, P)
    base = per_problem(counts, metric, counts.base)  # (P,)
    name = f"{LABELS[objective]} − base, {metric_name(counts, metric)}"
    return effect(name, against_base(tuned, base, resamples), family=family)


def carry_effect(counts: Counts, share: float, resamples: int, family: int = 1) -> Effect:
    """(NSR − base) − share · (GRPO − base) at pass@1, per (seed, problem); the base
    terms do not cancel unless share = 1."""
    base = per_problem(counts, "pass@1", counts.base)  # (P,)
    nsr = per_problem(counts, "pass@1", counts.tuned["nsr"])  # (S, P)
    grpo = per_problem(counts, "pass@1", counts.tuned["grpo"])
    found = against_base(nsr - share * grpo, (1 - share) * base, resamples)
    return effect(f"NSR pass@1 gain minus {share:g} × GRPO's", found, family=family)


def entropy_change(curves: list[list[float]], label: str, resamples: int) -> Effect:
    """Rollout entropy over the last tenth of the steps minus the first tenth, per seed
    (resampled over seeds)."""
    changes = []
    for values in curves:
        tenth = max(1, len(values) // 10)
        changes.append(np.mean(values[-tenth:]) - np.mean(values[:tenth]))
    found = bootstrap_mean(np.array(changes)[:, None], resamples)
    return effect(f"{label} rollout entropy change (last − first tenth)", found, "nats")


@dataclass(frozen=True)
class Effects:
    carry: Effect  # NSR's pass@1 gain minus CARRY_SHARE of GRPO's (decided)
    base_passk: Effect  # the base's own pass@n (premise: room to fall below it)
    vs_base: dict[tuple[str, str], Effect]  # (metric, objective) -> objective − base
    entropy: dict[str, Effect]  # objective -> rollout entropy change over training
    rises: dict[str, Effect]  # objective -> training reward rise (premise)

    @property
    def grpo_gain(self) -> Effect:
        return self.vs_base["pass@1", "grpo"]

    @property
    def nsr_passk(self) -> Effect:
        return self.vs_base["pass@n", "nsr"]

    @property
    def psr_passk(self) -> Effect:
        return self.vs_base["pass@n", "psr"]

    @property
    def pass1_gains(self) -> dict[str, Effect]:
        """objective -> held-out pass@1 gain over the base (premise: not worse)."""
        return {o: self.vs_base["pass@1", o] for o in OBJECTIVES}

    @property
    def all(self) -> list[Effect]:
        first = [self.carry, self.nsr_passk, self.psr_passk, self.grpo_gain, self.base_passk]
        rest = [e for e in self.vs_base.values() if e not in first]
        return [*first, *rest, *self.rises.values(), *self.entropy.values()]


def effects(
    counts: Counts,
    curves: dict[str, dict[str, list[list[float]]]],
    share: float,
    parts: int,
    resamples: int,
) -> Effects:
    """Every effect the rule reads (those entering its ``parts``-part combine built with
    family = ``parts``) and those reported beside it; ``curves`` holds the recorder's
    per-step ``reward`` and ``entropy`` per objective and seed."""
    decided = {("pass@n", "nsr"), ("pass@n", "psr")}
    vs_base = {
        (m, o): versus_base(counts, m, o, resamples, parts if (m, o) in decided else 1)
        for m in METRICS
        for o in OBJECTIVES
    }
    entropy = {o: entropy_change(curves["entropy"][o], LABELS[o], resamples) for o in OBJECTIVES}
    rises = {}
    for o in OBJECTIVES:
        rise = reward_rise(curves["reward"][o], resamples)
        rises[o] = Effect(f"{LABELS[o]} {rise.name}", rise.estimate, rise.ci95, rise.unit)
    own = bootstrap_mean(per_problem(counts, "pass@n", counts.base), resamples)  # one row
    base_passk = effect(f"base {metric_name(counts, 'pass@n')}", own)
    return Effects(
        carry_effect(counts, share, resamples, parts), base_passk, vs_base, entropy, rises
    )
