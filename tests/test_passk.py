"""The pass@k estimator, its bootstrap interval, and majority voting."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import numpy as np
import pytest

from regimescope.errors import BadInput
from regimescope.instruments.passk import (
    bootstrap_ci,
    k_grid,
    maj_at_k,
    majority_vote,
    pass_at_k,
    pass_at_k_all,
    pass_at_k_table,
)


def exact(n: int, c: int, k: int) -> Fraction:
    """1 - C(n-c, k) / C(n, k) in exact rational arithmetic."""
    return 1 - Fraction(comb(n - c, k), comb(n, k))


def test_estimator_matches_exact_binomials():
    rng = np.random.default_rng(0)
    cases = [(n, c, k) for n in (1, 2, 3, 5, 10, 17) for c in range(n + 1) for k in range(1, n + 1)]
    for n in (256, 1024):
        cases += [(n, int(rng.integers(0, n + 1)), int(rng.integers(1, n + 1))) for _ in range(200)]
    for n, c, k in cases:
        assert pass_at_k(n, c, k) == pytest.approx(float(exact(n, c, k)), abs=1e-12), (n, c, k)


def test_estimator_edges():
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 6, 5) == 1.0  # n - c < k: every k-subset holds a correct one
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is the accuracy


def test_whole_curve_matches_the_table():
    correct, n = [0, 1, 5, 16, 3], 16
    curve = pass_at_k_all(correct, n)
    table = pass_at_k_table(correct, n, list(range(1, n + 1)))
    assert np.allclose(curve, table.mean(axis=0), atol=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(4, 1, 5), (4, 1, 0), (0, 0, 1), (4, 5, 1)])
def test_bad_n_c_k_are_bad_input(n, c, k):
    with pytest.raises(BadInput):
        pass_at_k(n, c, k)


def test_k_grid():
    assert k_grid(1) == [1]
    assert k_grid(256) == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert k_grid(12) == [1, 2, 4, 8, 12]


def test_bootstrap_interval_has_the_known_spread():
    values = np.tile([0.0, 1.0], 200)  # 400 problems, mean 0.5, sd 0.5 -> se 0.025
    low, high = bootstrap_ci(values[:, None], resamples=4000, seed=1)
    assert low[0] == pytest.approx(0.5 - 1.96 * 0.025, abs=0.006)
    assert high[0] == pytest.approx(0.5 + 1.96 * 0.025, abs=0.006)
    constant_low, constant_high = bootstrap_ci(np.full((50, 2), 0.25))
    assert constant_low.tolist() == constant_high.tolist() == [0.25, 0.25]
    again = bootstrap_ci(values[:, None], resamples=4000, seed=1)
    assert again[0][0] == low[0]  # deterministic in the seed


def test_majority_vote_counts_every_vote():
    assert majority_vote(["3", "7", "7", "3", "7"]) == "7"
    assert majority_vote(["a", "b", "b"]) == "b"  # counting distinct answers once would tie
    assert majority_vote(["b", "a", "a", "b"]) == "b"  # tie: the answer seen first
    assert majority_vote(["a", "b"]) == "a"
    assert majority_vote([None, None, "4"]) == "4"  # unparsed samples abstain
    assert majority_vote([None, None]) is None
    assert majority_vote([]) is None


def test_maj_at_k_over_disjoint_blocks():
    answers = ["1", "2", "2", "1", "1", "3", None, None]
    right = [a == "1" for a in answers]  # an answer-only verifier: gold is "1"
    assert maj_at_k(answers, right, 1) == pytest.approx(3 / 8)
    # blocks of 2: (1 2) -> 1 on the tie, (2 1) -> 2, (1 3) -> 1, (- -) -> no answer
    assert maj_at_k(answers, right, 2) == pytest.approx(2 / 4)
    assert maj_at_k(answers, [a == "2" for a in answers], 3) == pytest.approx(1 / 2)
    assert maj_at_k(answers, right, 8) == 1.0  # 1 has three votes, 2 has two
    with pytest.raises(BadInput):
        maj_at_k(answers, right, 9)


def test_maj_at_k_scores_the_voters_of_the_winner():
    # a verifier that checks more than the answer (a plan): voters of "9" differ
    answers = ["9", "9", "9", "4"]
    assert maj_at_k(answers, [True, False, False, True], 4) == pytest.approx(1 / 3)
    assert maj_at_k(answers, [False, False, False, True], 4) == 0.0  # the right one lost
