"""Study 6's effects: collapse after the first RL pass, scale, predictors of the winner,
the KL penalty, each with a hierarchical bootstrap interval over runs and problems.
"""

from __future__ import annotations

import itertools

import numpy as np

from regimescope.studies.format_collapse_parts import (
    Condition,
    Measured,
    best_accuracy,
    conditions,
    most_frequent,
    winner,
)
from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.verdict import Effect

# ---------------------------------------------------------------- effects


def effect(name: str, values, resamples: int, unit: str = "fraction") -> Effect:
    """Mean of ``values`` (units, problems) with a hierarchical bootstrap interval."""
    est, ci = hierarchical_bootstrap(np.asarray(values, dtype=float), np.mean, resamples)
    return Effect(name, est, ci, unit)


def qualifying(cfg, measured: Measured, floor: float) -> list[Condition]:
    """KL-0 conditions whose base solves at least ``floor`` of the problems (free samples)."""
    return [c for c in conditions(cfg) if measured.bases[c].free.correct.mean() >= floor]


def collapse_effects(cfg, measured: Measured, floor: float) -> tuple[Effect | None, Effect | None]:
    """Share of the final winner after the first pass, and in the base, over KL-0 runs whose
    base qualifies: (runs, problems) values. (None, None) when no run qualifies."""
    chosen = qualifying(cfg, measured, floor)
    if not chosen:
        return None, None
    wins = [winner(measured.final[c, 0.0]) for c in chosen]
    first = [measured.first[c, 0.0].winner_share(w) for c, w in zip(chosen, wins, strict=True)]
    base = [measured.bases[c].free.winner_share(w) for c, w in zip(chosen, wins, strict=True)]
    return (
        effect("share of the final winner after the first RL pass (KL 0)", first, cfg.bootstrap),
        effect("share of the same format in the base", base, cfg.bootstrap),
    )


def final_effect(cfg, measured: Measured) -> Effect:
    """Final share of each KL-0 run's winner (all runs): does any format dominate at all?"""
    finals = [measured.final[c, 0.0] for c in conditions(cfg)]
    shares = [s.winner_share(winner(s)) for s in finals]
    return effect("final winner share, all KL-0 runs", shares, cfg.bootstrap)


def tv(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance between two format distributions, 0.5 * sum |p - q|."""
    return 0.5 * float(np.abs(p - q).sum())


def scale_effects(cfg, measured: Measured) -> tuple[Effect | None, Effect | None]:
    """Between-scale TV of the final format distributions (same mixture and seed), and that
    minus the within-scale TV across seeds: (seeds, mixtures) values. None below 2x2."""
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
    return (
        effect(gap, between - within, cfg.bootstrap),
        effect("TV between the scales' final format distributions", between, cfg.bootstrap),
    )


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
        effect("runs whose winner is the best pre-RL format (accuracy)", by_acc, cfg.bootstrap),
        effect("runs whose winner is the most frequent pre-RL format", by_freq, cfg.bootstrap),
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
    return effect(f"final winner share, KL 0 minus KL {kl:g}", diffs, cfg.bootstrap)


def base_accuracy(cfg, measured: Measured) -> list[Effect]:
    """Each scale's pre-RL accuracy (free samples) over its bases and problems."""
    found = []
    for scale in cfg.scales:
        rows = [
            measured.bases[c].free.correct.mean(axis=1) for c in conditions(cfg) if c.scale == scale
        ]
        found.append(effect(f"pre-RL accuracy, {scale}", rows, cfg.bootstrap))
    return found
