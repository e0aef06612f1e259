"""Study 4's effects: per (family, depth) cell, the family's RL model against its base.

Inputs (``experiment``): per cell, ``counts`` (S, 2, P) of the base and the RL model, drawn
with the seed's sampling seed, and ``reference`` (S, P), the base's second, independent
draw. Every interval is the crossed bootstrap of ``studies.stats`` (seeds and problems
resampled jointly). Creation is decided on its excess over the base's own draw, counted
on the problems the reference leaves unsolved; the raw rate, its null, the loss rate and
the net coverage are shown beside it (``studies.creation``, shared with Study 2).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from regimescope.instruments import coverage as cov
from regimescope.studies.creation import excess_effects, reported_coverage
from regimescope.studies.stats import bootstrap_mean, paired_effect
from regimescope.studies.verdict import Effect, effect


def decided_effects(
    counts: np.ndarray,
    reference: np.ndarray,
    cell: tuple[str, int],
    n: int,
    resamples: int,
    family: int = 1,
) -> dict[str, Effect]:
    """What the rule and the labels read in one cell: the pass@1 gain and the creation
    excess (with the RL-only excess), built for a verdict of ``family`` parts."""
    base, tuned = counts[:, 0], counts[:, 1]  # (S, P) each
    tag = f" ({cell[0]}, depth {cell[1]})"
    gain = bootstrap_mean((tuned - base) / n, resamples)
    return {
        "gain": effect(f"pass@1 gain RL - base{tag}", gain, family=family),
        **excess_effects(reference, base, tuned, resamples, family, tag),
    }


def cell_effects(
    counts: np.ndarray,
    reference: np.ndarray,
    cell: tuple[str, int],
    n: int,
    resamples: int,
    family: int = 1,
) -> dict[str, Effect]:
    """Every effect of one cell, RL against base: ``decided_effects``, then the raw
    creation rate and its null, the loss rate and its null, the net coverage, pass@1 and
    pass@n of each model and the crossover k*."""
    base, tuned = counts[:, 0], counts[:, 1]  # (S, P) each
    tag = f" ({cell[0]}, depth {cell[1]})"

    def mean(name: str, values: np.ndarray) -> Effect:
        return effect(name + tag, bootstrap_mean(values, resamples))

    solved_b, solved_r = (base > 0).astype(float), (tuned > 0).astype(float)
    return {
        **decided_effects(counts, reference, cell, n, resamples, family),
        **reported_coverage(reference, base, tuned, resamples, tag),
        "passn_gain": mean(f"pass@{n} gain RL - base", solved_r - solved_b),
        "base_pass1": mean("base pass@1", base / n),
        "base_passn": mean(f"base pass@{n}", solved_b),
        "rl_pass1": mean("RL pass@1", tuned / n),
        "rl_passn": mean(f"RL pass@{n}", solved_r),
        "crossover": paired_effect(
            f"crossover k*{tag}; n+1 = {n + 1}: never",
            partial(cov.crossover_censored, n=n),
            (base, tuned),
            resamples,
            "samples",
        ),
    }


def all_effects(
    cell_counts: dict,
    reference: dict,
    n: int,
    resamples: int,
    decided: dict[tuple[str, int], int],
) -> dict[tuple[str, int], dict[str, Effect]]:
    """Every cell's effects; ``decided`` maps the cells a verdict part reads to the number
    of parts of that verdict (their family), the other cells get family 1."""
    return {
        cell: cell_effects(counts, reference[cell], cell, n, resamples, decided.get(cell, 1))
        for cell, counts in cell_counts.items()
    }


def atomic_effects(atomic: dict, n: int, resamples: int) -> dict[str, Effect]:
    """The base's pass@1 on each family's atomic functions (depth 1)."""
    return {
        f"atomic_{family.lower()}": effect(
            f"base pass@1 on atomic functions ({family})", bootstrap_mean(counts / n, resamples)
        )
        for family, counts in atomic.items()
    }
