"""Study 6's effects: collapse after the first RL pass, scale, predictors of the winner,
the KL penalty, and the inputs of the premises (base competence, the RL premise).

Every run is scored on the same held-out problems, so runs and problems are crossed: a
share is the mean of a (runs, problems) array, resampled by ``stats.bootstrap_mean``
(runs with replacement and one problem-column set per resample, shared by every run).
The scale effects are one number per (seed, mixture) and the hit rates one per (seed,
condition), crossed the same way. Effects that enter the verdict's combine are built
with ``family`` = its number of parts.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from regimescope.studies.format_collapse.experiment import (
    BaseSamples,
    Condition,
    Measured,
    Samples,
    conditions,
)
from regimescope.studies.premises import reward_rise
from regimescope.studies.stats import bootstrap_mean
from regimescope.studies.verdict import Effect, effect
from regimescope.tasks import FORMATS

# ---------------------------------------------------------------- per-model summaries


def winner(samples: Samples) -> int:
    """Index (into NAMES) of the format with the largest share of the samples; ``none``
    (3) only when no sample has a format at all."""
    totals = samples.shares().mean(axis=0)[: len(FORMATS)]
    return int(np.argmax(totals)) if totals.max() > 0 else len(FORMATS)


def best_accuracy(base: BaseSamples) -> int:
    """Index of the format with the highest forced accuracy before RL."""
    return int(np.argmax([base.forced[f].correct.mean() for f in FORMATS]))


def most_frequent(base: BaseSamples) -> int:
    """Index of the format the base emits most often (free samples)."""
    return winner(base.free)


def collapse_step(frame: pd.DataFrame, threshold: float, smooth: int = 3) -> float:
    """First logged step at which one format's rollout share, averaged over the last
    ``smooth`` logged steps, exceeds ``threshold``; nan if it never does."""
    wide = frame[frame.format.isin(FORMATS)].pivot(index="step", columns="format", values="share")
    smoothed = wide.rolling(smooth, min_periods=1).mean().max(axis=1)
    above = smoothed[smoothed > threshold]
    return float(above.index[0]) if len(above) else float("nan")


def mean_of(name: str, values, resamples: int, family: int = 1) -> Effect:
    """The mean of a (units, problems) array with its crossed bootstrap interval."""
    return effect(name, bootstrap_mean(np.asarray(values, dtype=float), resamples), family=family)


# ---------------------------------------------------------------- premises


def qualifying(cfg, measured: Measured, floor: float) -> list[Condition]:
    """Conditions whose base solves at least ``floor`` of the problems (free samples)."""
    return [c for c in conditions(cfg) if measured.bases[c].free.correct.mean() >= floor]


def rl_worked(cfg, measured: Measured, floor: float) -> tuple[Effect | None, Effect | None]:
    """The shared RL premise's inputs over the KL-0 runs from competent bases (those RL
    can select in): the rise of the training reward, and held-out accuracy at the end of
    RL minus the base's (runs, problems). (None, None) when no base is competent."""
    chosen = qualifying(cfg, measured, floor)
    if not chosen:
        return None, None
    rise = reward_rise([measured.rewards[c, 0.0] for c in chosen], cfg.bootstrap)
    gains = [
        measured.final[c, 0.0].correct.mean(axis=1) - measured.bases[c].free.correct.mean(axis=1)
        for c in chosen
    ]
    name = "held-out accuracy, end of RL - base (KL 0, competent bases)"
    return rise, mean_of(name, gains, cfg.bootstrap)


# ---------------------------------------------------------------- collapse


def collapse_effects(
    cfg, measured: Measured, floor: float, family: int = 1
) -> tuple[Effect | None, Effect | None]:
    """Share of the final winner after the first pass (decided, built for ``family``
    parts), and in the base (a premise), over KL-0 runs whose base solves ``floor``:
    (runs, problems) values. (None, None) when no run qualifies."""
    chosen = qualifying(cfg, measured, floor)
    if not chosen:
        return None, None
    wins = [winner(measured.final[c, 0.0]) for c in chosen]
    first = [measured.first[c, 0.0].winner_share(w) for c, w in zip(chosen, wins, strict=True)]
    base = [measured.bases[c].free.winner_share(w) for c, w in zip(chosen, wins, strict=True)]
    name = "share of the final winner after the first RL pass (KL 0)"
    return (
        mean_of(name, first, cfg.bootstrap, family),
        mean_of("share of the same format in the base", base, cfg.bootstrap),
    )


def final_effect(cfg, measured: Measured) -> Effect:
    """Final share of each KL-0 run's winner (all runs): does any format dominate at all?"""
    finals = [measured.final[c, 0.0] for c in conditions(cfg)]
    shares = [s.winner_share(winner(s)) for s in finals]
    return mean_of("final winner share, all KL-0 runs", shares, cfg.bootstrap)


# ---------------------------------------------------------------- scale


def tv(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance between two format distributions, 0.5 * sum |p - q|."""
    return 0.5 * float(np.abs(p - q).sum())


def scale_effects(cfg, measured: Measured, family: int = 1) -> tuple[Effect | None, Effect | None]:
    """Between-scale TV of the final format distributions (same mixture and seed), and that
    minus the within-scale TV across seeds: (seeds, mixtures) values, built for ``family``
    parts. None below two scales and two seeds."""
    if len(cfg.scales) != 2 or len(cfg.seeds) < 2:
        return None, None
    final = {c: measured.final[c, 0.0].shares().mean(axis=0) for c in conditions(cfg)}

    def distance(a: Condition, b: Condition) -> float:
        return tv(final[a], final[b])

    small, large = cfg.scales
    between = np.zeros((len(cfg.seeds), len(cfg.mixtures)))  # (S, M)
    within = np.zeros_like(between)
    for (i, seed), (j, mix) in itertools.product(enumerate(cfg.seeds), enumerate(cfg.mixtures)):
        between[i, j] = distance(Condition(small, mix, seed), Condition(large, mix, seed))
        others = [(s, o) for s in cfg.scales for o in cfg.seeds if o != seed]
        within[i, j] = np.mean(
            [distance(Condition(s, mix, seed), Condition(s, mix, o)) for s, o in others]
        )
    gap = "TV between scales minus TV between seeds, final formats"
    apart = "TV between the scales' final format distributions"
    return (
        mean_of(gap, between - within, cfg.bootstrap, family),
        mean_of(apart, between, cfg.bootstrap, family),
    )


# ---------------------------------------------------------------- reported: predictors, KL


def hit_rates(cfg, measured: Measured) -> tuple[np.ndarray, np.ndarray]:
    """(seeds, conditions) indicators: the KL-0 winner is the base's best-accuracy format;
    the KL-0 winner is the base's most frequent format."""
    by_acc = np.zeros((len(cfg.seeds), len(cfg.scales) * len(cfg.mixtures)))
    by_freq = np.zeros_like(by_acc)
    for i, seed in enumerate(cfg.seeds):
        pairs = [(s, m) for m in cfg.mixtures for s in cfg.scales]
        for j, (scale, mix) in enumerate(pairs):
            cond = Condition(scale, mix, seed)
            won = winner(measured.final[cond, 0.0])
            by_acc[i, j] = won == best_accuracy(measured.bases[cond])
            by_freq[i, j] = won == most_frequent(measured.bases[cond])
    return by_acc, by_freq


def predictor_effects(cfg, measured: Measured) -> tuple[Effect, Effect]:
    by_acc, by_freq = hit_rates(cfg, measured)
    return (
        mean_of("runs whose winner is the best pre-RL format (accuracy)", by_acc, cfg.bootstrap),
        mean_of("runs whose winner is the most frequent pre-RL format", by_freq, cfg.bootstrap),
    )


def kl_effect(cfg, measured: Measured) -> Effect | None:
    """Final share of the KL-0 winner, KL 0 minus the largest KL, paired per problem."""
    if len(cfg.kl_coefs) < 2:
        return None
    kl = max(cfg.kl_coefs)
    diffs = []
    for cond in conditions(cfg):
        won = winner(measured.final[cond, 0.0])
        diffs.append(
            measured.final[cond, 0.0].winner_share(won) - measured.final[cond, kl].winner_share(won)
        )
    return mean_of(f"final winner share, KL 0 minus KL {kl:g}", diffs, cfg.bootstrap)


def base_accuracy(cfg, measured: Measured) -> list[Effect]:
    """Each scale's pre-RL accuracy (free samples) over its bases and problems."""
    found = []
    for scale in cfg.scales:
        rows = [
            measured.bases[c].free.correct.mean(axis=1) for c in conditions(cfg) if c.scale == scale
        ]
        found.append(mean_of(f"pre-RL accuracy, {scale}", rows, cfg.bootstrap))
    return found
