"""Which problems each model can solve at all: coverage sets, creation rate, crossover k*.

Following Yue et al. 2025 (arXiv 2504.13837, "Does Reinforcement Learning Really
Incentivize Reasoning Capacity in LLMs Beyond the Base Model?"): a problem is *solved*
by a model when at least one of its n samples is correct (pass@n > 0). Comparing the
solved sets of a base model and its tuned descendants separates reweighting (the tuned
set lies inside the base set) from creation (the tuned model solves problems the base
never did). A base with 0 correct of n samples may still solve a problem with
probability p; by the rule of three, p < 3/n at 95% confidence, the bound reported
with every creation rate. The crossover k* is the smallest k at which the base's pass@k
reaches the tuned model's.

A creation rate is biased upward by sampling noise alone: a problem the base solves with
probability 0.01 shows 0 correct in n = 64 base samples about half the time, and a second
draw of the very same base then "creates" it as often. So creation is decided against a
null drawn the same way (``creation_excess``: over the problems an independent base draw
leaves unsolved, creation of the tuned model minus creation of the base's draw with the
tuned model's sampling seed) and shown with its mirror, the ``loss_rate`` (base-solved
problems the tuned model no longer solves), and the ``net_coverage`` (pass@n tuned −
pass@n base).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from regimescope.instruments.passk import pass_at_k_all


@dataclass(frozen=True)
class Coverage:
    solved: dict[str, list[int]]  # per model: indices of problems with c > 0
    only: dict[str, list[int]]  # per model: problems it alone solves
    creation: dict[str, list[int]]  # per later model: base-unsolved problems it solves
    base_unsolved: int  # problems with 0 correct base samples
    creation_rate: float | None  # share of base-unsolved problems some later model solves
    creation_rate_by_model: dict[str, float | None]  # the same share, per later model
    unseen_bound: float  # rule of three: base solve rate < 3 / n_base (95%) where c = 0
    loss_rate_by_model: dict[str, float]  # per later model: base-solved problems it lost
    net_coverage_by_model: dict[str, float]  # per later model: pass@n(model) - pass@n(base)
    creation_excess_by_model: dict[str, float] | None = None  # per later model: creation
    # over the second draw's unsolved problems, minus the base's own (``creation_excess``)
    null_creation_rate: float | None = None  # the base's creation over the second draw's
    # unsolved problems: what noise alone gives


def solved(correct: Sequence[int]) -> list[int]:
    """Indices of problems with at least one correct sample."""
    return [i for i, c in enumerate(correct) if c > 0]


def coverage(
    correct: Mapping[str, Sequence[int]],
    n_base: int,
    base_again: Sequence[int] | None = None,
) -> Coverage:
    """Coverage sets of models given c per problem each; the first model is the base.

    ``correct`` maps model name -> list of c (same problems, same order), every model drawn
    with one sampling seed; ``base_again``, if given, is c per problem of a second base draw
    with another seed: the reference of ``creation_excess`` (each tuned model against the
    base's draw of its own seed, on the problems ``base_again`` leaves unsolved).
    creation rate = |{p : c_base(p) = 0 and some later model has c(p) > 0}|
                    / |{p : c_base(p) = 0}|   (None if the base solves every problem).
    """
    names = list(correct)
    sets = {name: set(solved(correct[name])) for name in names}
    only = {
        name: sorted(sets[name] - set().union(*(sets[o] for o in names if o != name)))
        for name in names
    }
    base = names[0]
    unsolved = {i for i, c in enumerate(correct[base]) if c == 0}
    creation = {name: sorted(sets[name] & unsolved) for name in names[1:]}
    created_any = set().union(*creation.values()) if creation else set()

    def rate(found: set[int]) -> float | None:
        return len(found) / len(unsolved) if unsolved else None

    return Coverage(
        solved={name: sorted(sets[name]) for name in names},
        only=only,
        creation=creation,
        base_unsolved=len(unsolved),
        creation_rate=rate(created_any) if len(names) > 1 else None,
        creation_rate_by_model={name: rate(set(found)) for name, found in creation.items()},
        unseen_bound=3.0 / n_base,
        loss_rate_by_model={n: loss_rate(correct[base], correct[n]) for n in names[1:]},
        net_coverage_by_model={n: net_coverage(correct[base], correct[n]) for n in names[1:]},
        creation_excess_by_model=None
        if base_again is None
        else {n: creation_excess(base_again, correct[base], correct[n]) for n in names[1:]},
        null_creation_rate=None if base_again is None else creation_rate(base_again, correct[base]),
    )


def crossover_k(base: Sequence[int], other: Sequence[int], n: int) -> int | None:
    """Smallest k in 1 .. n with mean pass@k(base) >= mean pass@k(other), else None.

    Both models have n samples per problem on the same problems. A k of 1 means the base
    is never below; None means the base stays below at every k up to n. A tolerance of
    1e-12 absorbs rounding when the curves meet exactly (both 1 at k = n, say).
    """
    gap = pass_at_k_all(base, n) - pass_at_k_all(other, n)  # [n], entry k-1
    reached = np.nonzero(gap >= -1e-12)[0]
    return int(reached[0]) + 1 if reached.size else None


def crossover_censored(base: Sequence[int], other: Sequence[int], n: int) -> float:
    """``crossover_k`` as a number that can be averaged and bootstrapped: k*, or n + 1
    (censored) when the base stays below at every k up to n. Arrays of any shape (seeds x
    problems, say) pool their cells."""
    k = crossover_k(np.ravel(base), np.ravel(other), n)
    return float(n + 1 if k is None else k)


def creation_rate(base: Sequence[int], tuned: Sequence[int]) -> float:
    """|{p : c_base(p) = 0, c_tuned(p) > 0}| / |{p : c_base(p) = 0}|, a fraction of the
    base-unsolved problems (0 when the base solves every problem). Arrays of any shape
    (seeds x problems, say) pool their cells."""
    unsolved = np.asarray(base) == 0
    return float((unsolved & (np.asarray(tuned) > 0)).sum() / max(int(unsolved.sum()), 1))


def loss_rate(base: Sequence[int], tuned: Sequence[int]) -> float:
    """|{p : c_base(p) > 0, c_tuned(p) = 0}| / |{p : c_base(p) > 0}|: the mirror of the
    creation rate, base-solved problems the tuned model no longer solves (0 if none)."""
    held = np.asarray(base) > 0
    return float((held & (np.asarray(tuned) == 0)).sum() / max(int(held.sum()), 1))


def net_coverage(base: Sequence[int], tuned: Sequence[int]) -> float:
    """pass@n(tuned) − pass@n(base): share of problems solved, tuned minus base, in
    [-1, 1]; creation and loss together."""
    return float(np.mean(np.asarray(tuned) > 0) - np.mean(np.asarray(base) > 0))


def creation_excess(reference: Sequence[int], base: Sequence[int], tuned: Sequence[int]) -> float:
    """creation_rate(reference, tuned) − creation_rate(reference, base): the creation that
    sampling noise cannot explain, as a fraction of the reference-unsolved problems.

    ``reference`` is a base draw independent of the other two (another sampling seed); its
    unsolved problems are the ones creation is counted on. ``base`` is the base's draw with
    the tuned model's sampling seed. The sampler draws every model of one seed with the same
    random numbers, so the tuned model's samples are coupled to ``base``'s: comparing the
    tuned model with that coupled draw, each against the same independent reference, makes
    an unchanged model score exactly 0 (compared with the first draw, an unchanged model
    would "create" nothing while the null creates about 0.2, a bias toward no creation).
    """
    return creation_rate(reference, tuned) - creation_rate(reference, base)


def only_excess(reference: Sequence[int], base: Sequence[int], tuned: Sequence[int]) -> float:
    """Share of problems the tuned model solves and ``reference`` never does, minus the same
    share for ``base`` (roles as in ``creation_excess``): the "tuned-only" share net of
    sampling noise."""
    unsolved = np.asarray(reference) == 0
    tuned_only = np.mean(unsolved & (np.asarray(tuned) > 0))
    return float(tuned_only - np.mean(unsolved & (np.asarray(base) > 0)))


@dataclass(frozen=True)
class Histogram:
    edges: list[float]  # bin edges over per-problem accuracy c / n, from 0 to 1
    counts: list[int]  # problems per bin (last bin closed on the right); includes at_zero
    # (in the first bin) and at_one (in the last): subtract them to plot the masses apart
    at_zero: int  # problems with accuracy exactly 0 (no correct sample)
    at_one: int  # problems with accuracy exactly 1 (every sample correct)
    problems: int  # total problems


def accuracy_histogram(correct: Sequence[int], n: int, bins: int = 10) -> Histogram:
    """Histogram of per-problem accuracy c / n, with the mass at exactly 0 and exactly 1."""
    acc = np.asarray(correct, dtype=float) / n  # [P]
    counts, edges = np.histogram(acc, bins=bins, range=(0.0, 1.0))
    return Histogram(
        edges=[round(float(e), 9) for e in edges],
        counts=[int(c) for c in counts],
        at_zero=int(np.sum(acc == 0.0)),
        at_one=int(np.sum(acc == 1.0)),
        problems=int(acc.size),
    )
