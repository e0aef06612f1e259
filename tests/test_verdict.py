"""Verdict assembly: premises gate, and a k-part verdict corrects its contradicting branch."""

import numpy as np
import pytest

from regimescope.studies.premises import NOT_WORSE, REWARD_ROSE, reward_rise, rl_premises
from regimescope.studies.stats import Resampled
from regimescope.studies.verdict import (
    Decision,
    Effect,
    Premise,
    combine,
    decide_parts,
    effect,
    effects_frame,
    equivalence_rule,
    gate,
    interval_rule,
    upper_rule,
)


def below_zero_effect(family: int) -> Effect:
    """95% interval below 0, the (1 - 0.05/k) one not: draws N(-0.1, 0.045)."""
    draws = np.random.default_rng(0).normal(-0.1, 0.045, size=20000)
    return effect("gain", Resampled(-0.1, draws), family=family)


def test_a_contradiction_at_95_percent_alone_does_not_contradict_three_parts():
    supports = Decision("supports", "fine")
    weak = below_zero_effect(family=1)
    assert weak.ci95[1] < 0  # contradicts on its own ...
    parts = {"a": interval_rule(weak, 0.05, 0.0), "b": supports, "c": supports}
    assert parts["a"].verdict == "contradicts"
    overall = combine(parts)  # ... but not at the family-wise level of 3 parts
    assert overall.verdict == "inconclusive" and "family-wise" in overall.reason


def test_the_family_interval_is_wider_and_decides_the_contradicting_branch():
    corrected = below_zero_effect(family=3)
    assert corrected.ci_family[0] < corrected.ci95[0] and corrected.ci_family[1] > 0
    assert interval_rule(corrected, 0.05, 0.0).verdict == "inconclusive"
    strong = effect(
        "gain", Resampled(-0.3, np.random.default_rng(1).normal(-0.3, 0.05, 20000)), family=3
    )
    decided = interval_rule(strong, 0.05, 0.0)
    assert decided.verdict == "contradicts" and decided.family == 3
    supports = Decision("supports", "fine")
    assert combine({"a": decided, "b": supports, "c": supports}).verdict == "contradicts"


def test_supporting_needs_every_part_and_no_correction():
    s = Decision("supports", "fine")
    assert combine({"a": s, "b": s, "c": s}).verdict == "supports"
    assert combine({"a": s, "b": Decision("inconclusive", "open")}).verdict == "inconclusive"


def test_a_failed_premise_makes_its_parts_inconclusive_never_contradicts():
    parts = {
        "rests on RL": Decision("contradicts", "RL lowered pass@1", family=2),
        "independent": Decision("supports", "fine"),
    }
    premises = {"RL worked": Premise(False, "reward fell")}
    gated = gate(parts, premises, {"rests on RL": ("RL worked",), "independent": ()})
    assert gated["rests on RL"].verdict == "inconclusive"
    assert "reward fell" in gated["rests on RL"].reason
    assert gated["independent"].verdict == "supports"
    overall, _ = decide_parts(parts, premises)  # every part rests on every premise
    assert overall.verdict == "inconclusive"
    held, _ = decide_parts(parts, {"RL worked": Premise(True, "reward rose")})
    assert held.verdict == "contradicts"


@pytest.mark.parametrize(
    ("rewards", "rose"),
    [
        ([np.linspace(0.1, 0.3, 100) + 0.01 * np.sin(np.arange(100))], True),
        ([np.full(100, 0.2) + 0.05 * np.sin(np.arange(100))], False),
        ([np.linspace(0.3, 0.1, 100)] * 2, False),
    ],
)
def test_the_rl_premise_reads_the_reward_curve(rewards, rose):
    rise = reward_rise(rewards, resamples=500)
    gain = Effect("pass@1 gain", 0.01, (-0.01, 0.03))
    premises = rl_premises(rise, gain)
    assert premises[REWARD_ROSE].holds is rose
    assert premises[NOT_WORSE].holds  # the interval reaches 0: not shown to be worse
    worse = rl_premises(rise, Effect("pass@1 gain", -0.05, (-0.08, -0.02)))
    assert not worse[NOT_WORSE].holds


def test_the_effects_table_carries_both_intervals():
    frame = effects_frame({"k": below_zero_effect(family=2), "m": Effect("x", 1.0, (0.5, 1.5))})
    assert list(frame["family"]) == [2, 1]
    assert frame["ci_family_low"][0] < frame["ci_low"][0] and np.isnan(frame["ci_family_low"][1])


@pytest.mark.parametrize(
    ("ci", "wide", "expected"),
    [
        ((0.5, 1.5), (0.4, 1.6), "supports"),
        ((4.5, 6.0), (4.2, 6.5), "contradicts"),
        ((4.5, 6.0), (3.9, 6.5), "inconclusive"),  # contradicts at 95% only
        ((1.5, 3.0), (1.4, 3.1), "inconclusive"),
    ],
)
def test_upper_rule_reaches_every_verdict(ci, wide, expected):
    found = Effect("ratio", sum(ci) / 2, ci, "ratio", family=2, ci_family=wide)
    assert upper_rule(found, 2.0, 4.0).verdict == expected


@pytest.mark.parametrize(
    ("ci", "expected"),
    [((-0.05, 0.08), "supports"), ((0.12, 0.18), "inconclusive"), ((0.25, 0.3), "contradicts")],
)
def test_equivalence_rule_with_a_wider_contradicting_margin(ci, expected):
    found = Effect("error", sum(ci) / 2, ci)
    assert equivalence_rule(found, 0.1, 0.2).verdict == expected
    with pytest.raises(ValueError):
        equivalence_rule(found, 0.1, 0.05)
