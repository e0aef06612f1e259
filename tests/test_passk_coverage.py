"""Coverage sets, creation rate, crossover k* and the accuracy histogram on made-up counts."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest

from regimescope.instruments.coverage import accuracy_histogram, coverage, crossover_k, solved


def mean_pass(correct: list[int], n: int, k: int) -> Fraction:
    return sum(1 - Fraction(comb(n - c, k), comb(n, k)) for c in correct) / len(correct)


def brute_crossover(base: list[int], other: list[int], n: int) -> int | None:
    for k in range(1, n + 1):
        if mean_pass(base, n, k) >= mean_pass(other, n, k):
            return k
    return None


def test_coverage_sets_and_creation_rate():
    counts = {
        "base": [3, 0, 0, 0, 5, 1],
        "rl": [8, 2, 0, 0, 0, 1],
        "sft": [0, 0, 1, 0, 4, 0],
    }
    cover = coverage(counts, n_base=8)
    assert cover.solved == {"base": [0, 4, 5], "rl": [0, 1, 5], "sft": [2, 4]}
    assert cover.only == {"base": [], "rl": [1], "sft": [2]}
    assert cover.base_unsolved == 3  # problems 1, 2, 3
    assert cover.creation == {"rl": [1], "sft": [2]}
    assert cover.creation_rate == pytest.approx(2 / 3)  # 1 and 2 created, 3 never solved
    assert cover.creation_rate_by_model == {"rl": pytest.approx(1 / 3), "sft": pytest.approx(1 / 3)}
    assert cover.unseen_bound == pytest.approx(3 / 8)  # rule of three


def test_creation_rate_is_none_when_the_base_solves_everything():
    cover = coverage({"base": [1, 2], "rl": [0, 2]}, n_base=4)
    assert cover.base_unsolved == 0
    assert cover.creation_rate is None
    assert coverage({"base": [0, 1]}, n_base=4).creation_rate is None  # one model: no creation


@pytest.mark.parametrize(
    ("base", "other", "n"),
    [
        ([1, 1, 1, 1, 0, 0], [8, 8, 0, 0, 0, 0], 8),  # spread base overtakes a sharpened model
        ([2, 1, 0, 3, 1, 0, 1], [6, 5, 0, 7, 4, 0, 0], 8),
        ([1, 1, 1, 1, 1, 0], [8, 8, 8, 8, 8, 8], 8),  # base never reaches: None
        ([4, 4], [1, 1], 8),  # base ahead from the start: 1
    ],
)
def test_crossover_matches_brute_force(base, other, n):
    assert crossover_k(base, other, n) == brute_crossover(base, other, n)


def test_crossover_values():
    assert crossover_k([1, 1, 1, 1, 1, 0], [8] * 6, 8) is None
    assert crossover_k([4, 4], [1, 1], 8) == 1
    assert crossover_k([0, 0], [0, 0], 8) == 1  # equal curves: reached at once
    assert 1 < crossover_k([1, 1, 1, 1, 0, 0], [8, 8, 0, 0, 0, 0], 8) <= 8


def test_accuracy_histogram_masses_at_zero_and_one():
    hist = accuracy_histogram([0, 0, 4, 8, 8, 8, 1], n=8, bins=4)
    assert hist.at_zero == 2 and hist.at_one == 3 and hist.problems == 7
    assert hist.counts == [3, 0, 1, 3]  # [0, .25) [.25, .5) [.5, .75) [.75, 1]
    assert hist.edges == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert solved([0, 2, 0, 1]) == [1, 3]
