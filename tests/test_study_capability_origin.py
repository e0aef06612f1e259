import json
import math

import numpy as np
import pytest

from regimescope.studies import VERDICTS, Effect, run_study
from regimescope.studies.capability_origin import (
    LABELS,
    STUDY,
    decide,
    full,
    label,
    quick,
    smoke,
)
from regimescope.studies.capability_origin_parts import cell_effects, creation_rate, crossover


def eff(low, high):
    return Effect("x", (low + high) / 2, (low, high))


UP, FLAT, DOWN = eff(0.05, 0.15), eff(-0.01, 0.01), eff(-0.10, -0.03)  # pass@1 gain
NONE, SOME, MANY = eff(0.0, 0.02), eff(0.01, 0.20), eff(0.20, 0.50)  # creation rate
STILL, MOVED, WOBBLY = eff(0.0, 0.0), eff(0.10, 0.30), eff(-0.01, 0.05)  # C's pass@n gain
UNSEEN = 0.1  # B's base pass@n: most B problems unsolved


@pytest.mark.parametrize(
    ("gain_a", "creation_a", "creation_b", "stall_c", "expected"),
    [
        (UP, NONE, MANY, STILL, "supports"),
        (UP, MANY, MANY, STILL, "contradicts"),  # RL creates on the latent family
        (DOWN, NONE, MANY, STILL, "contradicts"),  # RL lowers the latent family's pass@1
        (UP, NONE, NONE, STILL, "contradicts"),  # nothing created where only atomics exist
        (UP, NONE, MANY, MOVED, "contradicts"),  # RL learns without atomic skills
        (FLAT, NONE, MANY, STILL, "inconclusive"),
        (UP, NONE, SOME, STILL, "inconclusive"),
        (UP, NONE, MANY, WOBBLY, "inconclusive"),
    ],
)
def test_decide_reaches_every_verdict(gain_a, creation_a, creation_b, stall_c, expected):
    decision, parts = decide(gain_a, creation_a, creation_b, UNSEEN, stall_c)
    assert decision.verdict == expected
    assert len(parts) == 3 and all(d.verdict in VERDICTS for d in parts.values())


@pytest.mark.parametrize("base_passn_b", [0.9, 0.0])  # B latent too; B beyond the edge
def test_decide_is_inconclusive_on_b_when_b_is_not_at_the_edge(base_passn_b):
    decision, parts = decide(UP, NONE, NONE, base_passn_b, STILL)
    assert decision.verdict == "inconclusive"
    assert "premise" in parts["atomic-only family B: creation"].reason


@pytest.mark.parametrize(
    ("gain", "creation", "expected"),
    [
        (UP, NONE, "activation"),
        (FLAT, MANY, "creation"),
        (FLAT, NONE, "stall"),
        (UP, SOME, "undetermined"),
        (eff(0.0, 0.1), NONE, "undetermined"),
    ],
)
def test_labels(gain, creation, expected):
    assert label(gain, creation) == expected and expected in LABELS


def test_cell_effects_on_known_counts():
    n = 8
    base = np.array([[0, 1, 2, 0]])  # (S=1, P=4): base solves problems 1 and 2
    tuned = np.array([[0, 8, 0, 4]])  # RL sharpens 1, loses 2, creates 3
    found = cell_effects(np.stack([base, tuned], axis=1), "A", 2, n, resamples=50)
    assert found["gain"].estimate == pytest.approx((8 - 1 - 2 + 4) / 8 / 4)
    assert found["creation"].estimate == pytest.approx(0.5)  # 1 of 2 unsolved
    assert found["passn_gain"].estimate == pytest.approx(0.0)
    assert creation_rate(np.array([1, 2]), np.array([0, 0])) == 0.0  # nothing unsolved
    assert crossover(n)(np.array([0, 1]), np.array([8, 8])) == n + 1  # censored: never


def test_presets_scale_up():
    s, q, f = smoke(), quick(), full()
    assert s.n < q.n < f.n == 256 and s.problems < q.problems < f.problems
    assert len(f.seeds) >= 3 and f.depths == (2, 3, 4)


def test_smoke_run_writes_tables_figures_and_a_verdict(store):
    verdict, run = run_study(STUDY, "smoke")
    assert verdict.verdict in VERDICTS and verdict.scale == "smoke"
    assert not verdict.full_design and "smoke" in verdict.notes
    assert all(
        math.isfinite(e.estimate) and all(map(math.isfinite, e.ci95)) for e in verdict.effects
    )
    tables = {p.stem for p in (run.path / "tables").glob("*.csv")}
    assert tables == {"passk", "per_problem", "creation", "competence", "rl_training", "effects"}
    figures = {p.stem for p in (run.path / "figures").glob("*.png")}
    assert figures == {"passk_curves", "creation", "rl_rewards", "competence"}
    captions = json.loads((run.path / "figures" / "captions.json").read_text())
    assert all(captions[name] for name in figures)
    assert len(list((store / "rl").iterdir())) == 3  # one GRPO run per family
