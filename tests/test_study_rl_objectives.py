import math

import numpy as np
import pytest

from regimescope.studies import VERDICTS, Effect, run_study, study_config
from regimescope.studies import rl_objectives as study
from regimescope.studies.base import label_design
from regimescope.studies.rl_objectives import analysis, experiment
from regimescope.studies.verdict import Premise, Verdict


def e(low, high, wide=None, name="x"):
    """An effect entering the 3-part verdict: 95% interval (low, high), family-wise
    interval ``wide`` (default: the 95% one widened by 0.01 on each side)."""
    wide = wide or (low - 0.01, high + 0.01)
    return Effect(name, (low + high) / 2, (low, high), family=study.PARTS, ci_family=wide)


CARRIES, LOSES, UNSURE = e(0.01, 0.05), e(-0.08, -0.02), e(-0.02, 0.02)
KEPT, DROPPED = e(-0.02, 0.02), e(-0.2, -0.1)
FELL, FLAT = e(-0.1, -0.01), e(-0.03, 0.03)

ALL = (study.GRPO_GAINED, study.ROOM, *study.arm("grpo"), *study.arm("nsr"), *study.arm("psr"))


def held(*failed: str) -> dict[str, Premise]:
    """Every premise holding except ``failed``."""
    return {name: Premise(name not in failed, "synthetic") for name in ALL}


@pytest.mark.parametrize(
    ("carry", "nsr", "psr", "failed", "expected"),
    [
        (CARRIES, KEPT, FELL, (), "supports"),  # the paper's picture
        (LOSES, KEPT, FELL, (), "contradicts"),  # NSR gains less than half of GRPO
        (CARRIES, DROPPED, FELL, (), "contradicts"),  # NSR loses coverage
        (CARRIES, KEPT, FLAT, (), "contradicts"),  # PSR keeps coverage
        (UNSURE, KEPT, FELL, (), "inconclusive"),
        (CARRIES, KEPT, e(-0.1, 0.01), (), "inconclusive"),
        (CARRIES, KEPT, FELL, (study.GRPO_GAINED,), "inconclusive"),  # no gain to carry
        (CARRIES, KEPT, FELL, (study.ROOM,), "inconclusive"),  # the base cannot fall
    ],
)
def test_decide_reaches_every_verdict(carry, nsr, psr, failed, expected):
    overall, decided = study.decide(carry, nsr, psr, held(*failed))
    assert overall.verdict == expected
    assert set(decided) == {study.CARRY, study.KEEPS, study.FALLS}


def test_falls_rule_prefers_a_clear_small_drop():
    assert study.falls_rule(e(-0.03, -0.01)).verdict == "supports"


def test_a_psr_run_that_did_not_train_does_not_contradict():
    """v2 premises: PSR whose reward never rose stays at the base, so its pass@n "keeps
    coverage"; that part rests on PSR's RL premise and is inconclusive (it contradicted)."""
    rose, _ = study.arm("psr")
    overall, decided = study.decide(CARRIES, KEPT, FLAT, held(rose))
    assert decided[study.FALLS].verdict == "inconclusive"
    assert rose in decided[study.FALLS].reason
    assert overall.verdict == "inconclusive"
    # the same for NSR: an idle NSR "keeps" pass@n but its parts cannot be read
    nsr_rose, _ = study.arm("nsr")
    _, decided = study.decide(LOSES, KEPT, FELL, held(nsr_rose))
    assert {decided[study.CARRY].verdict, decided[study.KEEPS].verdict} == {"inconclusive"}
    assert decided[study.FALLS].verdict == "supports"  # PSR's part does not rest on NSR


def test_premises_read_each_arm_and_the_base():
    gain, flat = Effect("gain", 0.1, (0.05, 0.15)), Effect("gain", 0.0, (-0.02, 0.02))
    rose, idle = Effect("rise", 0.2, (0.1, 0.3)), Effect("rise", 0.0, (-0.05, 0.05))
    rises = {"grpo": rose, "nsr": rose, "psr": idle}
    gains = {"grpo": gain, "nsr": gain, "psr": flat}
    found = study.premises(gain, Effect("base pass@64", 0.6, (0.5, 0.7)), rises, gains)
    assert set(found) == set(ALL)
    assert not found[study.arm("psr")[0]].holds and found[study.arm("psr")[1]].holds
    assert all(p.holds for name, p in found.items() if name != study.arm("psr")[0])
    floor = study.premises(flat, Effect("base", 0.03, (0.0, 0.04)), rises, gains)
    assert not floor[study.GRPO_GAINED].holds and not floor[study.ROOM].holds


def test_a_contradiction_at_95_but_not_family_wise_is_not_counted():
    """v2 multiplicity: with 3 parts, PSR's pass@n must stay above −margin on its
    (1 − 0.05/3) interval to contradict; at 95% alone it no longer does."""
    narrow = e(-0.04, 0.02, wide=(-0.06, 0.03))
    assert study.falls_rule(narrow).verdict == "inconclusive"
    overall, _ = study.decide(CARRIES, KEPT, narrow, held())
    assert overall.verdict == "inconclusive"


def counts(tuned: dict[str, list[list[int]]], base: list[int], n: int = 4) -> experiment.Counts:
    return experiment.Counts(n, np.array(base), {k: np.array(v) for k, v in tuned.items()}, {})


def test_effects_are_paired_differences():
    c = counts({"grpo": [[4, 0], [2, 0]], "nsr": [[2, 0], [2, 0]]}, base=[0, 0])
    gain = analysis.versus_base(c, "pass@1", "grpo", resamples=50)
    assert gain.estimate == pytest.approx((1.0 + 0.5) / 4)  # mean over (seed, problem)
    carry = analysis.carry_effect(c, 0.5, resamples=50)
    assert carry.estimate == pytest.approx(0.25 - 0.5 * 0.375)
    solved = analysis.versus_base(c, "fully solved", "grpo", resamples=50)
    assert solved.estimate == pytest.approx(0.25)
    assert analysis.versus_base(c, "pass@n", "nsr", 50).name == "NSR − base, pass@4"
    with_base = counts({"grpo": [[4, 2]], "nsr": [[4, 2]]}, base=[2, 2])
    carry = analysis.carry_effect(with_base, 0.5, resamples=50)  # gains 0.25: 0.25 - 0.125
    assert carry.estimate == pytest.approx(0.125)


def test_seeds_that_agree_add_no_information_about_the_problems():
    """v2 crossed bootstrap: three seeds with identical per-problem results are one sample
    of problems, so the interval is as wide as one seed's. The old bootstrap drew problem
    columns per seed and shrank it by about sqrt(3)."""
    rng = np.random.default_rng(0)
    row = rng.integers(0, 5, size=80)
    base = rng.integers(0, 5, size=80)
    width = {}
    for seeds in (1, 3):
        c = counts({"grpo": [row] * seeds}, base=base)
        low, high = analysis.versus_base(c, "pass@1", "grpo", resamples=2000).ci95
        width[seeds] = high - low
    assert width[3] == pytest.approx(width[1], rel=0.1)


def fake_curves(rise: float, steps: int = 40) -> dict[str, dict[str, list[list[float]]]]:
    reward = list(np.linspace(0.1, 0.1 + rise, steps) + 0.01 * np.sin(np.arange(steps)))
    curve = {o: [reward, reward] for o in experiment.OBJECTIVES}
    return {"reward": curve, "entropy": curve}


def test_decided_effects_carry_the_family_of_the_verdict():
    c = counts({o: [[4, 1, 0], [3, 2, 0]] for o in experiment.OBJECTIVES}, base=[1, 1, 0])
    found = analysis.effects(c, fake_curves(0.3), 0.5, study.PARTS, resamples=100)
    for decided in (found.carry, found.nsr_passk, found.psr_passk):
        assert decided.family == study.PARTS and decided.ci_family is not None
        assert decided.ci_family[0] <= decided.ci95[0] and decided.ci95[1] <= decided.ci_family[1]
    assert found.grpo_gain.family == 1  # a premise, not a part
    assert found.rises["psr"].ci95[0] > 0
    idle = analysis.effects(c, fake_curves(0.0), 0.5, study.PARTS, resamples=100)
    assert not idle.rises["psr"].ci95[0] > 0


def test_the_learning_rate_lives_in_rl_and_reaches_every_run():
    cfg = study_config(study.STUDY, "quick", sets=["rl.lr=1e-4"])
    assert cfg.rl.lr == 1e-4
    runs = experiment.plan(cfg, "base-folder")
    assert runs[0] == cfg.base and len(runs) == 1 + len(experiment.OBJECTIVES) * len(cfg.seeds)
    assert {r.lr for r in runs[1:]} == {1e-4} and {r.model for r in runs[1:]} == {"base-folder"}
    assert {r.objective for r in runs[1:]} == set(experiment.OBJECTIVES)


@pytest.mark.parametrize("scale", ["quick", "full"])
def test_the_grpo_runs_are_two_phases_so_the_store_trains_them_once(scale):
    from regimescope.studies import two_phase
    from regimescope.studies.two_phase import experiment as two_phase_experiment

    cfg = getattr(study, scale)()
    ours = experiment.plan(cfg, "base")
    theirs = two_phase_experiment.plan(getattr(two_phase, scale)(), "base")
    assert ours[0] == theirs[0]  # one base
    shared = set(ours[1:]) & set(theirs[1:])
    assert {(run.objective, run.entropy_coef) for run in shared} == {("grpo", 0.0)}
    assert len(shared) == len(cfg.seeds)


def test_only_the_full_config_is_labelled_a_full_design():
    verdict = Verdict("rl-objectives", "c", "inconclusive", "r", "rule", [])
    assert not label_design(verdict, study.STUDY, study.quick()).full_design
    assert label_design(verdict, study.STUDY, study.full()).full_design
    assert study.full().rl.lr == study.quick().rl.lr == study.smoke().rl.lr


def test_smoke_run_writes_tables_figures_and_a_verdict(store):
    verdict, run = run_study(study.STUDY, "smoke", store=store)
    for table in ("counts", "passk", "training", "effects"):
        assert (run.path / "tables" / f"{table}.csv").is_file()
    for figure in ("passk", "training", "summary"):
        assert (run.path / "figures" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
    assert verdict.verdict in VERDICTS and not verdict.full_design and verdict.notes
    assert all(math.isfinite(x) for e in verdict.effects for x in (e.estimate, *e.ci95))
    assert set(verdict.parts) == {study.CARRY, study.KEEPS, study.FALLS}
    assert set(verdict.premises) == set(ALL)
