"""The bootstrap resamples the way the data were made: seeds and problems crossed."""

import numpy as np
import pytest

from regimescope.studies.stats import bootstrap_mean, crossed_bootstrap

SEEDS, PROBLEMS, SIMULATIONS, RESAMPLES = 3, 100, 400, 1000


def crossed_design(rng) -> np.ndarray:
    """Every seed scored on the same problems; problem variance dominates; true mean 0."""
    problem = rng.normal(0.0, 1.0, size=(1, PROBLEMS))  # shared by all seeds
    seed = rng.normal(0.0, 0.05, size=(SEEDS, 1))
    noise = rng.normal(0.0, 0.5, size=(SEEDS, PROBLEMS))
    return problem + seed + noise  # (S, P)


def nested_interval(data: np.ndarray, rng) -> tuple[float, float]:
    """The interval of the bootstrap used before v2: problem columns drawn per seed row."""
    rows = rng.integers(0, SEEDS, size=(RESAMPLES, SEEDS))  # (R, S)
    cols = rng.integers(0, PROBLEMS, size=(RESAMPLES, SEEDS, PROBLEMS))  # (R, S, P)
    means = data[rows[:, :, None], cols].mean(axis=(1, 2))  # (R,)
    return tuple(np.percentile(means, [2.5, 97.5]))


def coverage(interval_of) -> float:
    rng = np.random.default_rng(7)
    hits = 0
    for i in range(SIMULATIONS):
        low, high = interval_of(crossed_design(rng), i)
        hits += low <= 0.0 <= high
    return hits / SIMULATIONS


def test_crossed_intervals_cover_at_their_nominal_level():
    covered = coverage(lambda d, i: bootstrap_mean(d, RESAMPLES, seed=i).interval())
    monte_carlo_se = np.sqrt(0.95 * 0.05 / SIMULATIONS)  # about 0.011
    assert abs(covered - 0.95) < 3 * monte_carlo_se


def test_the_nested_bootstrap_undercovers_on_the_same_design():
    rng = np.random.default_rng(3)
    covered = coverage(lambda d, i: nested_interval(d, rng))
    assert covered < 0.85  # about 0.77: why the crossed bootstrap replaced it


def test_a_sample_shared_by_all_seeds_is_resampled_once():
    """One base sample subtracted from every seed: its noise does not average over seeds."""
    rng = np.random.default_rng(0)
    base = rng.normal(0.0, 1.0, size=PROBLEMS)  # (P,) one base draw
    tuned = rng.normal(0.0, 0.01, size=(SEEDS, PROBLEMS))  # (S, P) near-identical seeds

    def gain(s, p):
        return float((tuned[np.ix_(s, p)] - base[p]).mean())

    low, high = crossed_bootstrap(gain, SEEDS, PROBLEMS, 2000).interval()
    assert high - low == pytest.approx(2 * 1.96 * base.std() / np.sqrt(PROBLEMS), rel=0.15)


def test_the_index_and_the_vectorised_forms_agree():
    data = np.random.default_rng(2).normal(size=(3, 50))
    by_index = crossed_bootstrap(lambda s, p: data[np.ix_(s, p)].mean(), 3, 50, 500, seed=4)
    vectorised = bootstrap_mean(data, 500, seed=4)
    assert np.allclose(by_index.draws, vectorised.draws)


def test_one_seed_is_the_ordinary_bootstrap():
    values = np.random.default_rng(0).normal(0.0, 1.0, size=(1, 400))
    low, high = bootstrap_mean(values, 2000).interval()
    assert high - low == pytest.approx(2 * 1.96 * values.std() / np.sqrt(400), rel=0.15)
