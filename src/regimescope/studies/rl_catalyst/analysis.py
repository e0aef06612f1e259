"""Study 2's effects: the final RL checkpoint against its base, with crossed intervals.

Inputs (``experiment``): ``counts`` (S, M, P), correct samples per seed, model and
problem, every model of a seed drawn with that seed's sampling seed; ``reference`` (S, P),
a second, independent draw of each seed's base (sampling seed + 1). Every interval is the
crossed bootstrap of ``studies.stats`` (seeds and problems resampled jointly: every seed
is scored on the same problems); statistics of several models' counts (a crossover, a
rate) pick the same cells of each.

Creation is measured against a null drawn the same way (``instruments.coverage``): the
problems the *reference* draw never solves are the candidates, and on them the RL model's
creation rate is set against the base's own draw. Both of those draws share a sampling
seed, so a model that sampled like the base would show an excess of exactly 0; the
reference is independent of both, so neither gets its noise for free. (Taking the first
draw as the reference and the second as the null would set an RL draw *coupled* to the
reference against an independent null, which biases the excess downward.)

The creation effects (``studies.creation``) are shared with Study 4 (capability-origin).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from regimescope.instruments import coverage as cov
from regimescope.studies.creation import excess_effects, reported_coverage
from regimescope.studies.stats import bootstrap_mean, paired_effect
from regimescope.studies.verdict import Effect, effect


def decided_effects(
    counts: np.ndarray, reference: np.ndarray, n: int, resamples: int, family: int
) -> dict[str, Effect]:
    """The effects the rule decides on (pass@1 gain, the gap at k = n, the RL-only excess;
    the creation excess with them), built for a verdict of ``family`` parts."""
    base, final = counts[:, 0], counts[:, -1]  # (S, P) each
    gain, gap = (final - base) / n, (base > 0).astype(float) - (final > 0)
    return {
        "pass1_gain": effect(
            "pass@1 gain, RL - base", bootstrap_mean(gain, resamples), family=family
        ),
        "large_k_gap": effect(
            f"pass@{n} gap, base - RL", bootstrap_mean(gap, resamples), family=family
        ),
    } | excess_effects(reference, base, final, resamples, family)


def effects(
    counts: np.ndarray, reference: np.ndarray, n: int, resamples: int, family: int
) -> dict[str, Effect]:
    """Every effect of the study: the decided ones first (see ``rl_catalyst.decide``)."""
    base, final = counts[:, 0], counts[:, -1]  # (S, P) each
    solved_b, solved_r = (base > 0).astype(float), (final > 0).astype(float)

    def mean(name: str, values: np.ndarray, unit: str = "fraction") -> Effect:
        return effect(name, bootstrap_mean(values, resamples), unit)

    decided = decided_effects(counts, reference, n, resamples, family)
    return (
        decided
        | reported_coverage(reference, base, final, resamples)
        | {
            "crossover": paired_effect(
                f"crossover k* (n+1 = {n + 1}: never)",
                partial(cov.crossover_censored, n=n),
                (base, final),
                resamples,
                "samples",
            ),
            "gap_se": mean(
                f"sampling-efficiency gap, base pass@{n} - RL pass@1", solved_b - final / n
            ),
            "base_pass1": mean("base pass@1", base / n),
            "base_passn": mean(f"base pass@{n}", solved_b),
            "rl_pass1": mean("RL pass@1", final / n),
            "rl_passn": mean(f"RL pass@{n}", solved_r),
        }
    )
