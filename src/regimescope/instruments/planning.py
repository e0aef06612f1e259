"""Planning instruments: plan-choice entropy, phase boundaries, and strategic n-gram mining.

Pure functions over plain Python sequences and numpy arrays, so they apply to any model's
samples (an organism's or a real checkpoint's):

- ``choice_entropy``: the entropy of the distribution of plans (strategies) a model picks
  for one problem: the ground-truth version of HICRA's *semantic entropy*;
- ``hinge_fit``: the phase boundary of a training curve, as the knot of the best
  continuous two-segment linear fit;
- ``mine_ngrams`` + ``ngram_mask`` + ``mask_counts`` + ``precision_recall``: the
  Strategic-Gram proxy real-model studies use to find planning tokens, scored against
  ground-truth plan labels.

Source: Wang, Xu, Liu, Wu, Lin & Chen 2025, *Emergent Hierarchical Reasoning in LLMs
through Reinforcement Learning* (HICRA), arXiv 2509.03646; semantic entropy after Kuhn,
Gal & Farquhar 2023, arXiv 2302.09664.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------- plan diversity


def choice_entropy(choices: Sequence[Hashable]) -> float:
    """H = -sum_j p_j log p_j over the empirical distribution of ``choices``, nats.

    ``choices`` are the plans of the n samples of one problem (any hashable label: a plan
    string, a cluster id); p_j is the share of samples choosing plan j. 0 when every sample
    picks the same plan, log n when all differ. This is the plug-in estimate, biased low
    for small n (compare values only at equal n). HICRA's semantic entropy is the same
    formula over Strategic-Gram clusters in sampled solutions (arXiv 2509.03646).

    >>> round(choice_entropy(["a", "a", "b", "b"]), 4)
    0.6931
    """
    if not choices:
        return float("nan")
    counts = np.array(list(Counter(choices).values()), dtype=float)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


# ---------------------------------------------------------------- phase boundary


@dataclass(frozen=True)
class Hinge:
    boundary: float  # the knot: the step where the curve changes slope
    slope_before: float  # slope of the first segment, units of y per unit of x
    slope_after: float  # slope of the second segment
    level: float  # fitted value at the knot
    sse: float  # residual sum of squares of the fit


def hinge_fit(x: Sequence[float], y: Sequence[float]) -> Hinge:
    """The best continuous two-segment linear fit of y(x), with its knot at an interior x.

    y ~ level + slope_before * min(x - k, 0) + slope_after * max(x - k, 0), least squares
    for each candidate knot k in x[1:-1]; the knot with the smallest residual sum of squares
    wins (the first on ties). The knot is the detected phase boundary: for HICRA's phase 1
    the execution-token entropy falls steeply before it and plateaus after
    (slope_before < slope_after <= 0). Needs at least three points, x strictly increasing.

    >>> fit = hinge_fit([0, 1, 2, 3, 4], [4.0, 2.0, 0.0, 0.0, 0.0])
    >>> (fit.boundary, round(fit.slope_before, 6), abs(round(fit.slope_after, 6)))
    (2.0, -2.0, 0.0)
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.size < 3 or xs.shape != ys.shape:
        raise ValueError(f"need at least 3 points of equal length, got {xs.size} and {ys.size}")
    if np.any(np.diff(xs) <= 0):
        raise ValueError("x must be strictly increasing")
    best: Hinge | None = None
    for knot in xs[1:-1]:
        design = np.stack(
            [np.ones_like(xs), np.minimum(xs - knot, 0), np.maximum(xs - knot, 0)], axis=1
        )  # (N, 3)
        coef, *_ = np.linalg.lstsq(design, ys, rcond=None)
        sse = float(((design @ coef - ys) ** 2).sum())
        if best is None or sse < best.sse - 1e-12:
            best = Hinge(float(knot), float(coef[1]), float(coef[2]), float(coef[0]), sse)
    assert best is not None  # xs has at least one interior point
    return best


# ---------------------------------------------------------------- strategic n-grams


def ngrams(doc: Sequence[Hashable], n: int) -> list[tuple]:
    """The n-grams of one token sequence, in order (with repeats)."""
    return [tuple(doc[i : i + n]) for i in range(len(doc) - n + 1)]


def mine_ngrams(
    docs: Sequence[Sequence[Hashable]],
    n_min: int = 3,
    n_max: int = 5,
    top_fraction: float = 0.2,
    min_df: int = 2,
) -> list[tuple]:
    """Strategic-Gram mining without the semantic clustering: the most widespread n-grams.

    Collect every n-gram (n_min <= n <= n_max tokens) of ``docs`` (the *correct* solutions),
    count its document frequency df (the number of docs that contain it at least once),
    drop those with df < ``min_df``, and keep the top ``top_fraction`` of the distinct
    n-grams by df (at least one; ties broken by the n-gram itself, so the result is
    deterministic). HICRA ranks semantic clusters of 3-5-word n-grams by cluster document
    frequency (arXiv 2509.03646); the top share it keeps is not verified here (~20% from
    secondary sources), hence the parameter. Returns the kept n-grams, most frequent first.

    >>> mine_ngrams(["abcx", "abcy", "zabc"], 3, 3, top_fraction=0.5)
    [('a', 'b', 'c')]
    """
    if not 0 < top_fraction <= 1 or n_min < 1 or n_max < n_min:
        raise ValueError("need 0 < top_fraction <= 1 and 1 <= n_min <= n_max")
    df: Counter = Counter()
    for doc in docs:
        df.update({g for n in range(n_min, n_max + 1) for g in ngrams(doc, n)})
    ranked = sorted((g for g, c in df.items() if c >= min_df), key=lambda g: (-df[g], g))
    if not ranked:
        return []
    return ranked[: max(1, int(round(top_fraction * len(ranked))))]


def ngram_mask(doc: Sequence[Hashable], grams: Sequence[tuple]) -> list[bool]:
    """True on every position of ``doc`` covered by an occurrence of any of ``grams``:
    the planning tokens the proxy predicts.

    >>> ngram_mask("xabcx", [("a", "b", "c")])
    [False, True, True, True, False]
    """
    wanted = set(grams)
    mask = [False] * len(doc)
    for n in sorted({len(g) for g in wanted}):
        for i, gram in enumerate(ngrams(doc, n)):
            if gram in wanted:
                mask[i : i + n] = [True] * n
    return mask


def mask_counts(predicted: Sequence[bool], truth: Sequence[bool]) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of a predicted token mask."""
    if len(predicted) != len(truth):
        raise ValueError(f"masks differ in length: {len(predicted)} vs {len(truth)}")
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    return tp, fp, sum(truth) - tp


def precision_recall(tp: float, fp: float, fn: float) -> tuple[float, float]:
    """precision = tp / (tp + fp), recall = tp / (tp + fn), fractions; nan when undefined.

    >>> precision_recall(3, 1, 3)
    (0.75, 0.5)
    """
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    return precision, recall
