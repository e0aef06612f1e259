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

``paired_effect``, ``excess_effects`` and ``reported_coverage`` are shared with Study 4
(capability-origin): written once, here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from regimescope.instruments import coverage as cov
from regimescope.studies.stats import bootstrap_mean, crossed_bootstrap
from regimescope.studies.verdict import Effect, effect


def paired_effect(
    name: str,
    statistic: Callable[..., float],
    arrays: Sequence[np.ndarray],
    resamples: int,
    unit: str = "fraction",
    family: int = 1,
) -> Effect:
    """``statistic(*arrays)`` of (S, P) arrays measured on the same seeds and problems, with
    its crossed interval: each resample picks the same (seed, problem) cells of every array."""
    arrays = [np.asarray(a) for a in arrays]

    def picked(seeds: np.ndarray, problems: np.ndarray) -> float:
        return statistic(*(a[np.ix_(seeds, problems)] for a in arrays))

    found = crossed_bootstrap(picked, *arrays[0].shape, resamples)
    return effect(name, found, unit, family)


def excess_effects(
    reference: np.ndarray,
    base: np.ndarray,
    tuned: np.ndarray,
    resamples: int,
    family: int = 1,
    tag: str = "",
) -> dict[str, Effect]:
    """What a rule decides creation on, for (S, P) counts of an independent base draw
    (``reference``), the base draw coupled with the tuned model (``base``) and the tuned
    model: creation and the RL-only share, each minus the base's own draw's, built for a
    verdict of ``family`` parts."""
    arrays = (reference, base, tuned)
    return {
        "only_excess": paired_effect(
            f"share of problems RL solves and the reference base draw never does, minus the "
            f"same share of the base's own draw (noise){tag}",
            cov.only_excess,
            arrays,
            resamples,
            family=family,
        ),
        "creation_excess": paired_effect(
            f"creation excess: creation rate of RL minus the base's own draw's{tag}",
            cov.creation_excess,
            arrays,
            resamples,
            family=family,
        ),
    }


def reported_coverage(
    reference: np.ndarray, base: np.ndarray, tuned: np.ndarray, resamples: int, tag: str = ""
) -> dict[str, Effect]:
    """Shown beside the excesses: the raw creation rate and its null, the mirror (loss rate
    and its null) and the net coverage, with the counts of ``excess_effects``."""
    return {
        "creation": paired_effect(
            f"creation rate of RL (reference-unsolved problems it solves){tag}",
            cov.creation_rate,
            (reference, tuned),
            resamples,
        ),
        "creation_null": paired_effect(
            f"creation rate of the base's own draw (the null){tag}",
            cov.creation_rate,
            (reference, base),
            resamples,
        ),
        "loss": paired_effect(
            f"loss rate of RL (reference-solved problems it never solves){tag}",
            cov.loss_rate,
            (reference, tuned),
            resamples,
        ),
        "loss_null": paired_effect(
            f"loss rate of the base's own draw (the null){tag}",
            cov.loss_rate,
            (reference, base),
            resamples,
        ),
        "net_coverage": paired_effect(
            f"net coverage, pass@n RL - base{tag}", cov.net_coverage, (base, tuned), resamples
        ),
    }


def coverage_effects(
    reference: np.ndarray,
    base: np.ndarray,
    tuned: np.ndarray,
    resamples: int,
    family: int = 1,
    tag: str = "",
) -> dict[str, Effect]:
    """``excess_effects`` and ``reported_coverage`` together."""
    return excess_effects(reference, base, tuned, resamples, family, tag) | reported_coverage(
        reference, base, tuned, resamples, tag
    )


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
