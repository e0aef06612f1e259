import json
import math

import numpy as np
import pytest

from regimescope.instruments import coverage as cov
from regimescope.studies import VERDICTS, Effect, run_study
from regimescope.studies.capability_origin import (
    A_LATENT,
    B_EDGE,
    C_MISSING,
    LABELS,
    PART_A,
    PART_B,
    PARTS,
    RESTS_ON,
    STUDY,
    decide,
    full,
    label,
    premises,
    quick,
    smoke,
)
from regimescope.studies.capability_origin.analysis import cell_effects, decided_effects
from regimescope.studies.premises import NOT_WORSE, REWARD_ROSE
from regimescope.studies.stats import Resampled, paired_effect
from regimescope.studies.verdict import Premise, effect, interval_rule


def eff(low, high, wide=None):
    """An effect built for the study's 2 parts; its family interval ``wide`` (default: the
    95% one widened by 0.01 on each side)."""
    wide = wide or (low - 0.01, high + 0.01)
    return Effect("x", (low + high) / 2, (low, high), family=PARTS, ci_family=wide)


HOLD = {name: Premise(True, "measured") for names in RESTS_ON.values() for name in names}
UP, FLAT, DOWN = eff(0.05, 0.15), eff(-0.01, 0.01), eff(-0.10, -0.03)  # pass@1 gain
NONE, SOME, MANY = eff(-0.03, 0.02), eff(0.01, 0.20), eff(0.20, 0.50)  # creation excess
ROSE = Effect("reward rise", 0.1, (0.05, 0.15), "reward")


@pytest.mark.parametrize(
    ("gain_a", "creation_a", "creation_b", "expected"),
    [
        (UP, NONE, MANY, "supports"),
        (UP, MANY, MANY, "contradicts"),  # RL creates on the latent family
        (UP, NONE, NONE, "contradicts"),  # nothing created where only atomics exist
        (FLAT, NONE, MANY, "inconclusive"),
        (UP, NONE, SOME, "inconclusive"),
        (UP, SOME, MANY, "inconclusive"),
    ],
)
def test_decide_reaches_every_verdict(gain_a, creation_a, creation_b, expected):
    decision, parts = decide(gain_a, creation_a, creation_b, HOLD)
    assert decision.verdict == expected
    assert set(parts) == {PART_A, PART_B}  # family C is a check, not a decided part


def cells(gain_a=UP, gain_b=UP, passn=(0.83, 0.1, 0.0), pass1_a=0.44, passn_gain_c=None):
    """The depth-2 cells' effects that the premises read."""
    found = {}
    for family, gain, solved in (("A", gain_a, passn[0]), ("B", gain_b, passn[1])):
        found[family, 2] = {
            "gain": gain,
            "base_pass1": Effect("base pass@1", pass1_a, (pass1_a, pass1_a)),
            "base_passn": Effect("base pass@n", solved, (solved, solved)),
        }
    found["C", 2] = {
        "base_passn": Effect("base pass@n", passn[2], (passn[2], passn[2])),
        "passn_gain": passn_gain_c or Effect("pass@n gain (C)", 0.0, (0.0, 0.0)),
    }
    return found


def test_premises_from_the_measurements_hold_on_the_design():
    gates = premises(cells(), {"A": ROSE, "B": ROSE}, reward_c=0.0)
    assert all(gates[name].holds for names in RESTS_ON.values() for name in names)
    assert gates[C_MISSING].holds
    assert decide(UP, NONE, MANY, gates)[0].verdict == "supports"


def test_a_fall_in_as_pass1_is_inconclusive_not_contradicts():
    """A's RL lowered its pass@1: A's RL premise fails, so part A is inconclusive (the old
    rule said "contradicts"); B is decided as usual."""
    gates = premises(cells(gain_a=DOWN), {"A": ROSE, "B": ROSE}, reward_c=0.0)
    assert not gates[f"{NOT_WORSE} (A)"].holds and gates[f"{NOT_WORSE} (B)"].holds
    decision, parts = decide(DOWN, NONE, MANY, gates)
    assert parts[PART_A].verdict == "inconclusive" and "premise failed" in parts[PART_A].reason
    assert parts[PART_B].verdict == "supports" and decision.verdict == "inconclusive"


def test_a_reward_that_did_not_rise_on_b_makes_b_inconclusive():
    flat = Effect("reward rise", 0.0, (-0.01, 0.01), "reward")
    gates = premises(cells(), {"A": ROSE, "B": flat}, reward_c=0.0)
    assert not gates[f"{REWARD_ROSE} (B)"].holds
    decision, parts = decide(UP, NONE, NONE, gates)  # B "creates nothing" ...
    assert parts[PART_B].verdict == "inconclusive"  # ... but GRPO never climbed on B
    assert decision.verdict == "inconclusive"
    assert decide(UP, NONE, NONE, HOLD)[0].verdict == "contradicts"


@pytest.mark.parametrize("passn_b", [0.9, 0.0])  # B latent too; B beyond the edge
def test_b_is_inconclusive_when_b_is_not_at_the_edge(passn_b):
    gates = premises(cells(passn=(0.83, passn_b, 0.0)), {"A": ROSE, "B": ROSE}, 0.0)
    assert not gates[B_EDGE].holds
    decision, parts = decide(UP, NONE, NONE, gates)
    assert decision.verdict == "inconclusive"
    assert "premise" in parts[PART_B].reason


@pytest.mark.parametrize(("pass1_a", "passn_a"), [(0.998, 1.0), (0.05, 0.3)])
def test_a_is_inconclusive_when_a_is_not_latent(pass1_a, passn_a):
    """A base that solves A outright (the 20% small base: pass@1 0.998) leaves no room to
    activate; one that rarely solves it holds nothing latent."""
    gates = premises(cells(pass1_a=pass1_a, passn=(passn_a, 0.1, 0.0)), {"A": ROSE, "B": ROSE}, 0)
    assert not gates[A_LATENT].holds
    _, parts = decide(UP, MANY, MANY, gates)  # would contradict with A latent
    assert parts[PART_A].verdict == "inconclusive" and "premise" in parts[PART_A].reason


def test_family_c_is_a_check_that_gates_no_part():
    """As built, C's gain is exactly 0 (zero reward, zero advantages), so it cannot decide;
    a failed check is reported, and A and B are decided as before."""
    moved = Effect("pass@n gain (C)", 0.2, (0.1, 0.3))
    gates = premises(cells(passn=(0.83, 0.1, 0.3), passn_gain_c=moved), {"A": ROSE, "B": ROSE}, 0.2)
    assert not gates[C_MISSING].holds and "0.300" in gates[C_MISSING].reason
    decision, parts = decide(UP, NONE, MANY, gates)
    assert decision.verdict == "supports" and set(parts) == {PART_A, PART_B}


def test_a_part_contradicts_only_on_its_family_wise_interval():
    """B's creation excess: 95% interval below 0.05, its 1 - 0.05/2 interval not. The old
    rule (95%, uncorrected) contradicted; the corrected one is inconclusive."""
    draws = np.random.default_rng(0).normal(0.0, 0.024, size=20000)
    corrected = effect("creation excess (B)", Resampled(0.0, draws), family=PARTS)
    assert corrected.ci95[1] < 0.05 < corrected.ci_family[1]
    decision, parts = decide(UP, NONE, corrected, HOLD)
    assert parts[PART_B].verdict == "inconclusive" and decision.verdict == "inconclusive"


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
    reference = np.array([[0, 0, 3, 0]])  # the second base draw solves only problem 2
    found = cell_effects(np.stack([base, tuned], axis=1), reference, ("A", 2), n, 50, PARTS)
    assert found["gain"].estimate == pytest.approx((8 - 1 - 2 + 4) / 8 / 4)
    assert found["creation"].estimate == pytest.approx(2 / 3)  # of 0, 1, 3: RL solves 1, 3
    assert found["creation_null"].estimate == pytest.approx(1 / 3)  # the base's own: 1
    assert found["creation_excess"].estimate == pytest.approx(1 / 3)
    assert found["loss"].estimate == pytest.approx(1.0) and found["loss_null"].estimate == 0
    assert found["passn_gain"].estimate == pytest.approx(0.0)
    assert found["net_coverage"].estimate == pytest.approx(0.0)
    assert found["gain"].family == found["creation_excess"].family == PARTS
    assert found["crossover"].family == 1
    assert cov.crossover_censored(np.array([0, 1]), np.array([8, 8]), n) == n + 1  # never


def a_like(rng, problems: int) -> np.ndarray:
    """Per-problem solve rates of an A-like base: 5% never solvable, the rest
    Beta(0.3, 0.35); pass@1 0.44 and pass@64 0.80 (quick's A: 0.44, 0.83)."""
    return np.where(rng.random(problems) < 0.05, 0.0, rng.beta(0.3, 0.35, problems))


@pytest.mark.parametrize(
    ("seeds", "problems", "old_at_least"),
    [
        (1, 48, 3),  # quick's cells
        (3, 200, 30),  # full's cells, at quick's n: the old rule's bias no longer hides
    ],
)
def test_noise_alone_rarely_creates(seeds, problems, old_at_least):
    """ "RL" drawn like the base (RL does nothing), 100 draws. The study's analysis and
    rule say "creates" (B supports, A contradicts) in at most ~5% of draws. Measured:
    quick-like (1 x 48), B supports 1, A contradicts 1 of 100; the old rule (raw creation
    rate above 0.05 at 95%) said "creates" in 5 (its rate averaging 0.12 against an excess
    of 0.01). Full-like (3 seeds x 200): new 0 and 0 of 100 against the old rule's 56."""
    rng = np.random.default_rng(0)
    n, draws = 64, 100
    created_b = created_a = old = 0
    for _ in range(draws):
        p = np.tile(a_like(rng, problems), (seeds, 1))  # every seed scored on the same problems
        base, tuned, reference = (rng.binomial(n, p) for _ in range(3))
        counts = np.stack([base, tuned], axis=1)
        found = decided_effects(counts, reference, ("B", 2), n, 300, PARTS)
        _, parts = decide(UP, found["creation_excess"], found["creation_excess"], HOLD)
        created_b += parts[PART_B].verdict == "supports"
        created_a += parts[PART_A].verdict == "contradicts"
        raw = paired_effect("creation rate", cov.creation_rate, (base, tuned), 300)
        old += interval_rule(raw, 0.05, 0.05).verdict == "supports"
    assert created_b <= 0.05 * draws and created_a <= 0.05 * draws
    assert old >= old_at_least and old > created_b


def test_presets_scale_up():
    s, q, f = smoke(), quick(), full()
    assert s.eval.sampling.n < q.eval.sampling.n < f.eval.sampling.n == 256
    assert s.eval.problems < q.eval.problems < f.eval.problems
    assert len(f.seeds) >= 3 and f.depths == (2, 3, 4) and f.base.task == "strings-pretrain-sparse"
    assert q.rl.recorder.every == 1  # every step's reward: the premise


def test_smoke_run_writes_tables_figures_and_a_verdict(store):
    verdict, run = run_study(STUDY, "smoke")
    assert verdict.verdict in VERDICTS and verdict.scale == "smoke"
    assert not verdict.full_design and "smoke" in verdict.notes
    assert set(verdict.parts) == {PART_A, PART_B}
    assert {A_LATENT, B_EDGE, C_MISSING, f"{REWARD_ROSE} (A)"} <= set(verdict.premises)
    assert all(
        math.isfinite(e.estimate) and all(map(math.isfinite, e.ci95)) for e in verdict.effects
    )
    tables = {p.stem for p in (run.path / "tables").glob("*.csv")}
    assert tables == {"passk", "per_problem", "creation", "competence", "rl_training", "effects"}
    assert "base (reference draw)" in (run.path / "tables" / "per_problem.csv").read_text()
    figures = {p.stem for p in (run.path / "figures").glob("*.png")}
    assert figures == {"passk_curves", "creation", "rl_rewards", "competence"}
    captions = json.loads((run.path / "figures" / "captions.json").read_text())
    assert all(captions[name] for name in figures)
    assert len(list((store / "rl").iterdir())) == 3  # one GRPO run per family
