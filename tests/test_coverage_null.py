"""Creation against a null: a second base draw, and the mirror (loss rate, net coverage)."""

import numpy as np

from regimescope.instruments import coverage as cov
from regimescope.studies.stats import crossed_bootstrap

N, PROBLEMS = 64, 100


def quick_like_base(rng) -> np.ndarray:
    """Per-problem solve rates of a latent base: pass@1 about 0.065, pass@64 about 0.6."""
    return np.where(rng.random(PROBLEMS) < 0.3, 0.0, rng.beta(0.35, 4.0, PROBLEMS))


def draw(p, rng) -> np.ndarray:
    return rng.binomial(N, p)  # c per problem


def test_an_unchanged_model_coupled_to_the_base_draw_has_no_excess():
    """The sampler gives every model of a seed the same random numbers: an unchanged "RL"
    model repeats the base's draw exactly, and its excess must be 0, not negative."""
    rng = np.random.default_rng(4)
    p = quick_like_base(rng)
    base, reference = draw(p, rng), draw(p, rng)
    assert cov.creation_excess(reference, base, base.copy()) == 0.0
    assert cov.creation_excess(base, reference, base.copy()) < 0  # roles swapped: biased


def test_noise_alone_inflates_the_creation_rate_but_not_its_excess():
    rng = np.random.default_rng(0)
    rates, excess = [], []
    for _ in range(200):
        p = quick_like_base(rng)
        base, again, same = draw(p, rng), draw(p, rng), draw(p, rng)  # "RL" = the base
        rates.append(cov.creation_rate(base, same))
        excess.append(cov.creation_excess(base, again, same))
    assert np.mean(rates) > 0.05 and np.mean(np.array(rates) > 0.05) > 0.8
    assert abs(np.mean(excess)) < 0.02


def test_deciding_creation_on_its_excess_rarely_finds_it_under_the_null():
    """The rule "creation excess interval above 0" fires in about 5% of null draws at most."""
    rng = np.random.default_rng(1)
    found = 0
    for i in range(100):
        p = quick_like_base(rng)
        base, again, same = draw(p, rng), draw(p, rng), draw(p, rng)

        def excess(s, q, base=base, again=again, same=same):
            return cov.creation_excess(base[q], again[q], same[q])

        boot = crossed_bootstrap(excess, 1, PROBLEMS, 400, i)
        found += boot.interval()[0] > 0
    assert found <= 10  # ~5% expected; 10 of 100 is 2 binomial SEs above it


def test_real_creation_is_found_and_its_mirror_reports_loss():
    rng = np.random.default_rng(2)
    p = quick_like_base(rng)
    created = np.where(p == 0, 0.3, p)  # RL solves problems the base cannot
    base, again, tuned = draw(p, rng), draw(p, rng), draw(created, rng)
    assert cov.creation_excess(base, again, tuned) > 0.3
    lost = np.where(p > 0.2, 0.0, p)  # RL loses the base's easy problems
    worse = draw(lost, rng)
    assert cov.loss_rate(base, worse) > 0.1 and cov.net_coverage(base, worse) < 0


def test_coverage_reports_the_mirror_and_the_null_per_model():
    found = cov.coverage({"base": [0, 0, 3, 5], "rl": [1, 0, 0, 4]}, 8, base_again=[0, 2, 1, 1])
    assert found.creation_rate_by_model["rl"] == 0.5  # against the base's own draw
    assert found.null_creation_rate == 0.0  # the second draw leaves problem 0 unsolved ...
    assert found.creation_excess_by_model["rl"] == 1.0  # ... which only RL solves
    assert found.loss_rate_by_model["rl"] == 0.5  # problem 2 lost
    assert found.net_coverage_by_model["rl"] == 0.0
