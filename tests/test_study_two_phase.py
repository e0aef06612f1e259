import math

import numpy as np
import pandas as pd
import pytest

from regimescope.studies import VERDICTS, Effect, run_study
from regimescope.studies import two_phase as study
from regimescope.studies import two_phase_curves as curves
from regimescope.studies import two_phase_effects as effects
from regimescope.studies import two_phase_parts as parts


def e(low, high, name="x"):
    return Effect(name, (low + high) / 2, (low, high))


GAIN, NO_GAIN = e(0.02, 0.1), e(-0.01, 0.03)
FALLS, RISES, FLAT = e(-0.5, -0.1), e(0.1, 0.5), e(-0.2, 0.2)
STEEPER, LATER = e(-0.6, -0.1), e(0.1, 0.4)
MORE_PLANS, FEWER_PLANS = e(0.05, 0.3), e(-0.4, -0.1)
BETTER, WORSE, SAME = e(0.01, 0.05), e(-0.06, -0.01), e(-0.03, 0.03)
NAN = Effect("x", math.nan, (math.nan, math.nan))


@pytest.mark.parametrize(
    ("gain", "slope", "change", "rise", "expected"),
    [
        (GAIN, FALLS, STEEPER, MORE_PLANS, "supports"),  # the paper's picture
        (GAIN, FALLS, STEEPER, FEWER_PLANS, "contradicts"),  # plans collapse in phase 2
        (GAIN, RISES, STEEPER, MORE_PLANS, "contradicts"),  # execution entropy rises early
        (GAIN, FALLS, LATER, MORE_PLANS, "contradicts"),  # execution entropy falls later
        (GAIN, FLAT, STEEPER, MORE_PLANS, "inconclusive"),
        (GAIN, FALLS, STEEPER, FLAT, "inconclusive"),
        (NO_GAIN, FALLS, STEEPER, MORE_PLANS, "inconclusive"),  # RL moved nothing
        (GAIN, NAN, NAN, NAN, "inconclusive"),  # nothing labelled to measure
    ],
)
def test_decide_reaches_every_verdict(gain, slope, change, rise, expected):
    overall, decided = study.decide(gain, slope, change, rise, SAME, SAME)
    assert overall.verdict == expected
    assert set(decided) == {study.EXEC_FIRST, study.PLAN_RISES, study.HICRA_WINS, study.BONUS_IDLE}


@pytest.mark.parametrize(
    ("hicra", "bonus", "hicra_verdict", "bonus_verdict"),
    [
        (BETTER, SAME, "supports", "inconclusive"),
        (WORSE, WORSE, "contradicts", "supports"),
        (SAME, e(0.03, 0.08), "inconclusive", "contradicts"),
    ],
)
def test_secondary_parts_reach_every_verdict(hicra, bonus, hicra_verdict, bonus_verdict):
    overall, decided = study.decide(GAIN, FALLS, STEEPER, MORE_PLANS, hicra, bonus)
    assert overall.verdict == "supports"  # the secondary parts do not enter the verdict
    assert decided[study.HICRA_WINS].verdict == hicra_verdict
    assert decided[study.BONUS_IDLE].verdict == bonus_verdict


STEPS = (10, 20, 30, 40, 50, 60)


def synthetic_frame(exec_entropy, plan_entropy, problems: int = 6, seeds=(0, 1)) -> pd.DataFrame:
    """Per-problem rows whose mean curves are given (index 0 = the base), with noise."""
    rng = np.random.default_rng(0)
    columns = {c for num, den, _ in parts.METRICS.values() for c in (num, den) if c}
    rows = []
    cells = [("base", -1, 0)] + [(a, s, t) for a in parts.ARMS for s in seeds for t in STEPS]
    for arm, seed, step in cells:
        at = 0 if step == 0 else STEPS.index(step) + 1
        for p in range(problems):
            row = dict.fromkeys(columns, 1.0) | {
                "arm": arm,
                "seed": seed,
                "step": step,
                "problem": p,
            }
            row["h_exec"] = 10 * (exec_entropy[at] + rng.normal(0, 0.005))  # 10 exec tokens
            row["n_exec"] = 10.0
            row["plan_entropy"] = plan_entropy[at] + rng.normal(0, 0.005)
            row["accuracy"] = 0.1 + 0.05 * at + 0.1 * (arm == "hicra")
            rows.append(row)
    return pd.DataFrame(rows)


def test_arc_finds_the_boundary_and_the_phases():
    frame = synthetic_frame(
        [1.0, 0.8, 0.6, 0.6, 0.6, 0.6, 0.6], [1.0, 0.9, 0.8, 0.9, 1.0, 1.1, 1.2]
    )
    data = curves.arm_data(frame, "grpo", (0, 1))
    assert list(data.steps) == [0, *STEPS] and data.columns["h_exec"].shape == (12, 7)
    found = curves.arc(data)
    assert found["boundary"] == 20
    assert found["slope_before"] == pytest.approx(-2.0, abs=0.05)  # nats per 100 steps
    assert found["slope_change"] == pytest.approx(-2.0, abs=0.05)
    assert found["plan_rise"] == pytest.approx(0.4, abs=0.01)


def test_effects_and_decision_on_a_known_arc():
    frame = synthetic_frame(
        [1.0, 0.8, 0.6, 0.6, 0.6, 0.6, 0.6], [1.0, 0.9, 0.8, 0.9, 1.0, 1.1, 1.2]
    )
    arms = {arm: curves.arm_data(frame, arm, (0, 1)) for arm in parts.ARMS}
    found = effects.effects(arms, [], study.smoke())
    assert found.gain.estimate == pytest.approx(0.3)
    assert found.hicra.estimate == pytest.approx(0.1)
    assert found.bonus.estimate == pytest.approx(0.0)
    overall, decided = study.decide(
        found.gain,
        found.arc["slope_before"],
        found.arc["slope_change"],
        found.arc["plan_rise"],
        found.hicra,
        found.bonus,
    )
    assert overall.verdict == "supports"
    assert decided[study.HICRA_WINS].verdict == "supports"
    assert decided[study.BONUS_IDLE].verdict == "supports"


def test_relative_perplexity_starts_at_one():
    frame = synthetic_frame([1.0] * 7, [1.0] * 7)
    data = curves.arm_data(frame, "grpo", (0, 1))
    values = curves.curve(data, "execution-token relative perplexity")
    assert values[0] == pytest.approx(1.0)


def test_smoke_run_writes_tables_figures_and_a_verdict(store):
    verdict, run = run_study(study.STUDY, "smoke", store=store)
    for table in ("per_problem", "curves", "phases", "effects", "ngram_proxy", "rollouts"):
        assert (run.path / "tables" / f"{table}.csv").is_file()
    for figure in ("arc", "rollouts", "ngram_proxy"):
        assert (run.path / "figures" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
    assert verdict.verdict in VERDICTS and not verdict.full_design and verdict.notes
    assert verdict.effects and all(
        math.isfinite(x) for e in verdict.effects for x in (e.estimate, *e.ci95)
    )
    assert set(verdict.parts) == {
        study.EXEC_FIRST,
        study.PLAN_RISES,
        study.HICRA_WINS,
        study.BONUS_IDLE,
    }
