"""Unbiased pass@k with bootstrap intervals over problems, and majority voting (maj@k).

pass@k of one problem, from n samples of which c are correct (Chen et al. 2021,
arXiv 2107.03374, "Evaluating Large Language Models Trained on Code", eq. 1):

    pass@k = 1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n-c+1}^{n} (1 - k / i)

the probability that at least one of k samples drawn without replacement from the n is
correct; 1 when n - c < k. The product form never forms a large binomial. Unit: a
probability in [0, 1]; averaged over problems it is the expected share of problems
solved within k attempts. Intervals resample problems, not samples: samples of one
problem are correlated, problems are the independent units.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from regimescope.errors import BadInput


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with ``c`` correct among ``n`` samples.

    >>> pass_at_k(4, 1, 2)  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    0.5
    """
    check_k(n, k)
    if not 0 <= c <= n:
        raise BadInput(f"correct count c={c} must lie in [0, n={n}]")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def check_k(n: int, k: int) -> None:
    """BadInput unless 1 <= k <= n."""
    if n < 1:
        raise BadInput(f"n (samples per problem) must be >= 1, got {n}")
    if not 1 <= k <= n:
        raise BadInput(f"k={k} must lie in [1, n={n}]; pass@k needs at least k samples")


def k_grid(n: int) -> list[int]:
    """Powers of two up to n, and n itself: the k at which curves are reported.

    >>> k_grid(100)
    [1, 2, 4, 8, 16, 32, 64, 100]
    """
    check_k(n, 1)
    grid = [2**i for i in range(n.bit_length()) if 2**i <= n]
    return grid if grid[-1] == n else [*grid, n]


def pass_at_k_table(correct: Sequence[int], n: int, ks: Sequence[int]) -> np.ndarray:
    """pass@k of every problem at every k: array [problems, len(ks)]."""
    for k in ks:
        check_k(n, k)
    return np.array([[pass_at_k(n, int(c), k) for k in ks] for c in correct]).reshape(
        len(correct), len(ks)
    )


def pass_at_k_all(correct: Sequence[int], n: int) -> np.ndarray:
    """Mean pass@k over problems for every k = 1 .. n: array [n] (entry k-1 is pass@k).

    Uses the ratio C(n-c, k) / C(n, k) = prod_{j<k} (n-c-j) / (n-j), built cumulatively
    per problem, so the whole curve costs O(problems * n).
    """
    check_k(n, 1)
    counts = np.asarray(correct, dtype=float)  # [P]
    j = np.arange(n, dtype=float)  # [n]
    factors = np.clip((n - counts[:, None] - j) / (n - j), 0.0, None)  # [P, n]
    return 1.0 - np.cumprod(factors, axis=1).mean(axis=0)  # [n]


def bootstrap_ci(
    table: np.ndarray, resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap interval of the column means of ``table`` [problems, columns].

    Problems are resampled with replacement ``resamples`` times; returns (low, high),
    each [columns]. A deterministic function of ``seed``.
    """
    data = np.asarray(table, dtype=float)
    if data.ndim == 1:
        data = data[:, None]
    if data.shape[0] == 0:
        nan = np.full(data.shape[1], np.nan)
        return nan, nan
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, data.shape[0], size=(resamples, data.shape[0]))  # [R, P]
    means = data[draws].mean(axis=1)  # [R, P, C] -> [R, C]
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail], axis=0)  # [C] each
    return low, high


def majority_vote(answers: Sequence[str | None]) -> str | None:
    """The answer with the most votes; ties go to the one first seen. None if none parsed.

    Every sample votes once for its parsed answer (unparsed samples abstain); a common
    bug counts each distinct answer once, which makes the "majority" arbitrary.

    >>> majority_vote(["7", "3", "3", None, "7"])
    '7'
    """
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return None
    top = max(votes.values())
    return next(a for a in answers if a is not None and votes[a] == top)


def maj_at_k(answers: Sequence[str | None], correct: Sequence[bool], k: int) -> float:
    """maj@k of one problem: how often the majority answer of k samples is a correct one.

    The n samples are split, in order, into n // k blocks of k (the rest is unused); each
    block is an independent maj@k trial, so the mean is an unbiased estimate. A block
    scores the share of its samples carrying the winning answer that the verifier marked
    correct: 1 or 0 when the verifier judges the answer alone (the usual case), and a
    fraction where it checks more (a countdown plan) and voters of one answer differ.
    A block with no parsed answer scores 0. Unit: probability in [0, 1].
    """
    check_k(len(answers), k)
    if len(correct) != len(answers):
        raise BadInput(f"{len(correct)} correctness flags for {len(answers)} answers")
    blocks, total = len(answers) // k, 0.0
    for b in range(blocks):
        votes, flags = answers[b * k : (b + 1) * k], correct[b * k : (b + 1) * k]
        winner = majority_vote(votes)
        backing = [
            bool(f) for a, f in zip(votes, flags, strict=True) if a == winner and a is not None
        ]
        total += sum(backing) / len(backing) if backing else 0.0
    return total / blocks
