import math

import numpy as np
import pytest

from regimescope.studies import VERDICTS, Effect, run_study
from regimescope.studies import rl_objectives as study
from regimescope.studies import rl_objectives_parts as parts


def e(low, high, name="x"):
    return Effect(name, (low + high) / 2, (low, high))


GAIN, NO_GAIN = e(0.05, 0.15), e(-0.02, 0.03)
CARRIES, LOSES, UNSURE = e(0.01, 0.05), e(-0.08, -0.02), e(-0.02, 0.02)
ROOM, FLOOR = e(0.3, 0.5), e(0.0, 0.04)
KEPT, DROPPED = e(-0.02, 0.02), e(-0.2, -0.1)
FELL, FLAT = e(-0.1, -0.01), e(-0.03, 0.03)


@pytest.mark.parametrize(
    ("grpo", "carry", "base", "nsr", "psr", "expected"),
    [
        (GAIN, CARRIES, ROOM, KEPT, FELL, "supports"),  # the paper's picture
        (GAIN, LOSES, ROOM, KEPT, FELL, "contradicts"),  # NSR gains less than half of GRPO
        (GAIN, CARRIES, ROOM, DROPPED, FELL, "contradicts"),  # NSR loses coverage
        (GAIN, CARRIES, ROOM, KEPT, FLAT, "contradicts"),  # PSR keeps coverage
        (NO_GAIN, CARRIES, ROOM, KEPT, FELL, "inconclusive"),  # no gain to carry
        (GAIN, UNSURE, ROOM, KEPT, FELL, "inconclusive"),
        (GAIN, CARRIES, FLOOR, KEPT, FELL, "inconclusive"),  # the base has no room to fall
        (GAIN, CARRIES, ROOM, KEPT, e(-0.1, 0.01), "inconclusive"),
    ],
)
def test_decide_reaches_every_verdict(grpo, carry, base, nsr, psr, expected):
    overall, decided = study.decide(grpo, carry, base, nsr, psr)
    assert overall.verdict == expected
    assert set(decided) == {study.CARRY, study.KEEPS, study.FALLS}


def test_falls_rule_prefers_a_clear_small_drop():
    assert study.falls_rule(e(-0.03, -0.01)).verdict == "supports"


def counts(tuned: dict[str, list[list[int]]], base: list[int], n: int = 4) -> parts.Counts:
    return parts.Counts(n, np.array(base), {k: np.array(v) for k, v in tuned.items()}, {})


def test_effects_are_paired_differences():
    c = counts({"grpo": [[4, 0], [2, 0]], "nsr": [[2, 0], [2, 0]]}, base=[0, 0])
    gain = parts.versus_base(c, "pass@1", "grpo", resamples=50)
    assert gain.estimate == pytest.approx((1.0 + 0.5) / 4)  # mean over (seed, problem)
    carry = parts.carry_effect(c, 0.5, resamples=50)
    assert carry.estimate == pytest.approx(0.25 - 0.5 * 0.375)
    solved = parts.versus_base(c, "fully solved", "grpo", resamples=50)
    assert solved.estimate == pytest.approx(0.25)
    assert parts.versus_base(c, "pass@n", "nsr", 50).name == "NSR − base, pass@4"


def test_smoke_run_writes_tables_figures_and_a_verdict(store):
    verdict, run = run_study(study.STUDY, "smoke", store=store)
    for table in ("counts", "passk", "training", "effects"):
        assert (run.path / "tables" / f"{table}.csv").is_file()
    for figure in ("passk", "training", "summary"):
        assert (run.path / "figures" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
    assert verdict.verdict in VERDICTS and not verdict.full_design and verdict.notes
    assert all(math.isfinite(x) for e in verdict.effects for x in (e.estimate, *e.ci95))
    assert set(verdict.parts) == {study.CARRY, study.KEEPS, study.FALLS}
