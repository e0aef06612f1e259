import math

import numpy as np
import pandas as pd
import pytest

from regimescope.studies import VERDICTS, Effect, run_study, study_config
from regimescope.studies import two_phase as study
from regimescope.studies.base import label_design
from regimescope.studies.two_phase import analysis, experiment
from regimescope.studies.verdict import Premise, Verdict, interval_rule


def e(low, high, wide=None, family=study.ARC_TESTS):
    """An effect: 95% interval (low, high), family-wise interval ``wide`` (default: the
    95% one widened by 0.01 on each side; none for family 1)."""
    if family > 1:
        wide = wide or (low - 0.01, high + 0.01)
    return Effect("x", (low + high) / 2, (low, high), family=family, ci_family=wide)


FALLS, RISES, FLAT = e(-0.5, -0.1), e(0.1, 0.5), e(-0.2, 0.2)
STEEPER, LATER = e(-0.6, -0.1), e(0.1, 0.4)
MORE_PLANS, FEWER_PLANS = e(0.08, 0.3), e(-0.4, -0.1)
SECONDARY = {"family": 1}  # secondary parts do not enter the verdict's combine
BETTER, WORSE, SAME = (e(*ci, **SECONDARY) for ci in ((0.01, 0.05), (-0.06, -0.01), (-0.03, 0.03)))
NAN = Effect("x", math.nan, (math.nan, math.nan))

ALL = (study.GRPO_GAINED, *study.arm("grpo"), *study.arm("hicra"), *study.arm("entropy"))
PARTS = {study.EXEC_FIRST, study.PLAN_RISES, study.HICRA_WINS, study.BONUS_IDLE}


def held(*failed: str) -> dict[str, Premise]:
    """Every premise holding except ``failed``."""
    return {name: Premise(name not in failed, "synthetic") for name in ALL}


@pytest.mark.parametrize(
    ("slope", "change", "rise", "failed", "expected"),
    [
        (FALLS, STEEPER, MORE_PLANS, (), "supports"),  # the paper's picture
        (FALLS, STEEPER, FEWER_PLANS, (), "contradicts"),  # valid plans lost in phase 2
        (RISES, STEEPER, MORE_PLANS, (), "contradicts"),  # execution entropy rises early
        (FALLS, LATER, MORE_PLANS, (), "contradicts"),  # execution entropy falls later
        (FLAT, STEEPER, MORE_PLANS, (), "inconclusive"),
        (FALLS, STEEPER, FLAT, (), "inconclusive"),
        (FALLS, STEEPER, e(0.01, 0.1), (), "inconclusive"),  # a rise within the margin
        (FALLS, STEEPER, MORE_PLANS, (study.GRPO_GAINED,), "inconclusive"),  # RL moved nothing
        (NAN, NAN, NAN, (), "inconclusive"),  # nothing labelled to measure
    ],
)
def test_decide_reaches_every_verdict(slope, change, rise, failed, expected):
    overall, decided = study.decide(slope, change, rise, SAME, SAME, held(*failed))
    assert overall.verdict == expected
    assert set(decided) == PARTS


@pytest.mark.parametrize(
    ("hicra", "bonus", "hicra_verdict", "bonus_verdict"),
    [
        (BETTER, SAME, "supports", "inconclusive"),
        (WORSE, WORSE, "contradicts", "supports"),
        (SAME, e(0.03, 0.08, **SECONDARY), "inconclusive", "contradicts"),
    ],
)
def test_secondary_parts_reach_every_verdict(hicra, bonus, hicra_verdict, bonus_verdict):
    overall, decided = study.decide(FALLS, STEEPER, MORE_PLANS, hicra, bonus, held())
    assert overall.verdict == "supports"  # the secondary parts do not enter the verdict
    assert decided[study.HICRA_WINS].verdict == hicra_verdict
    assert decided[study.BONUS_IDLE].verdict == bonus_verdict


def test_failed_rl_premises_gate_their_parts_and_never_contradict():
    """v2 premises: GRPO's reward did not rise -> the arc is inconclusive even where it
    read "contradicts"; a HICRA run that did not train cannot contradict "HICRA beats
    GRPO" (it did before), and the bonus arm's part does not rest on HICRA."""
    grpo_rose, _ = study.arm("grpo")
    overall, decided = study.decide(RISES, STEEPER, FEWER_PLANS, SAME, SAME, held(grpo_rose))
    assert overall.verdict == "inconclusive"
    assert all(d.verdict == "inconclusive" for d in decided.values())
    hicra_rose, _ = study.arm("hicra")
    _, decided = study.decide(FALLS, STEEPER, MORE_PLANS, WORSE, WORSE, held(hicra_rose))
    assert decided[study.HICRA_WINS].verdict == "inconclusive"
    assert decided[study.BONUS_IDLE].verdict == "supports"
    assert decided[study.PLAN_RISES].verdict == "supports"


def test_premises_read_each_arm():
    gain, flat = Effect("gain", 0.1, (0.05, 0.15)), Effect("gain", 0.0, (-0.02, 0.02))
    rose, idle = Effect("rise", 0.2, (0.1, 0.3)), Effect("rise", 0.0, (-0.05, 0.05))
    found = study.premises(
        {"grpo": flat, "hicra": gain, "entropy": gain},
        {"grpo": rose, "hicra": idle, "entropy": rose},
    )
    assert set(found) == set(ALL)
    assert not found[study.GRPO_GAINED].holds  # a flat GRPO gain is not worse, but no gain
    assert found[study.arm("grpo")[1]].holds and not found[study.arm("hicra")[0]].holds


def test_a_contradiction_at_95_but_not_family_wise_is_not_counted():
    """v2 multiplicity: the arc's 3 contradicting tests are read on (1 - 0.05/3) intervals."""
    early = e(0.01, 0.2, wide=(-0.01, 0.22))  # rises at 95%, not family-wise
    assert study.exec_first_rule(early, STEEPER).verdict == "inconclusive"
    lost = e(-0.2, -0.06, wide=(-0.22, -0.04))  # a fall beyond the margin at 95% only
    assert study.plan_rule(lost).verdict == "inconclusive"
    overall, _ = study.decide(FALLS, STEEPER, lost, SAME, SAME, held())
    assert overall.verdict == "inconclusive"


STEPS = (10, 20, 30, 40, 50, 60)
ARC_EXEC = [1.0, 0.8, 0.6, 0.6, 0.6, 0.6, 0.6]  # falls to step 20, then flat


def synthetic_frame(exec_entropy, plan_columns, problems: int = 6, seeds=(0, 1)) -> pd.DataFrame:
    """Per-problem rows whose execution-entropy curve is given (index 0 = the base), with
    noise; ``plan_columns(at, arm, seed, problem)`` gives the plan measures of a cell."""
    rng = np.random.default_rng(0)
    columns = {c for num, den, _ in experiment.METRICS.values() for c in (num, den) if c}
    rows = []
    cells = [("base", -1, 0)] + [(a, s, t) for a in experiment.ARMS for s in seeds for t in STEPS]
    for arm, seed, step in cells:
        at = 0 if step == 0 else STEPS.index(step) + 1
        for p in range(problems):
            row = dict.fromkeys(columns, 1.0) | {"arm": arm, "seed": seed, "step": step}
            row |= {"problem": p, "n_exec": 10.0}  # 10 exec tokens
            row["h_exec"] = 10 * (exec_entropy[at] + rng.normal(0, 0.005))
            row["accuracy"] = 0.1 + 0.05 * at + 0.1 * (arm == "hicra")
            row |= plan_columns(at, arm, seed, p)
            rows.append(row)
    return pd.DataFrame(rows)


def smooth_plans(coverage):
    rng = np.random.default_rng(1)
    return lambda at, *_: {"coverage": coverage[at] + rng.normal(0, 0.005)}


def rollouts(rise: float) -> pd.DataFrame:
    """The recorder's per-step rewards of every arm and seed, rising by ``rise``."""
    rows = [
        (arm, seed, step, 0.1 + rise * step / 60 + 0.01 * math.sin(step), *[np.nan] * 5)
        for arm in experiment.ARMS
        for seed in (0, 1)
        for step in range(1, 61)
    ]
    return pd.DataFrame(rows, columns=["arm", "seed", "step", *experiment.ROLLOUT_KEYS])


def test_arc_finds_the_boundary_and_the_phases():
    frame = synthetic_frame(ARC_EXEC, smooth_plans([0.5, 0.45, 0.4, 0.5, 0.6, 0.7, 0.8]))
    data = analysis.arm_data(frame, "grpo", (0, 1))
    assert list(data.steps) == [0, *STEPS] and data.columns["h_exec"].shape == (12, 7)
    found = analysis.arc(data)
    assert found["boundary"] == 20
    assert found["slope_before"] == pytest.approx(-2.0, abs=0.05)  # nats per 100 steps
    assert found["slope_change"] == pytest.approx(-2.0, abs=0.05)
    assert found["plan_rise"] == pytest.approx(0.4, abs=0.01)


def test_effects_premises_and_decision_on_a_known_arc():
    frame = synthetic_frame(ARC_EXEC, smooth_plans([0.5, 0.45, 0.4, 0.5, 0.6, 0.7, 0.8]))
    arms = {arm: analysis.arm_data(frame, arm, (0, 1)) for arm in experiment.ARMS}
    found = analysis.effects(arms, rollouts(0.3), [], study.smoke(), study.ARC_TESTS)
    assert found.gains["grpo"].estimate == pytest.approx(0.3)
    assert found.hicra.estimate == pytest.approx(0.1)
    assert found.bonus.estimate == pytest.approx(0.0)
    assert found.arc["plan_rise"].family == study.ARC_TESTS  # v2 multiplicity
    assert found.arc["boundary"].family == 1  # reported, not decided
    premises = study.premises(found.gains, found.rises)
    assert all(p.holds for p in premises.values())
    arc = found.arc
    args = (arc["slope_before"], arc["slope_change"], arc["plan_rise"], found.hicra, found.bonus)
    overall, decided = study.decide(*args, premises)
    assert overall.verdict == "supports"
    assert decided[study.HICRA_WINS].verdict == "supports"
    assert decided[study.BONUS_IDLE].verdict == "supports"
    idle = analysis.effects(arms, rollouts(0.0), [], study.smoke(), study.ARC_TESTS)
    overall, _ = study.decide(*args, study.premises(idle.gains, idle.rises))
    assert overall.verdict == "inconclusive"  # the reward never rose


def test_seeds_that_agree_add_no_information_about_the_problems():
    """v2 crossed bootstrap: seeds with identical per-problem accuracy (and the base tiled
    into every seed) are one sample of problems; the old bootstrap narrowed the interval."""
    rng = np.random.default_rng(0)
    level = rng.uniform(0, 1, size=40)
    plans = lambda at, arm, seed, p: {"accuracy": level[p] * at / 6}  # noqa: E731
    width = {}
    for seeds in ((0,), (0, 1, 2)):
        frame = synthetic_frame(ARC_EXEC, plans, problems=40, seeds=seeds)
        data = analysis.arm_data(frame, "grpo", seeds)
        low, high = analysis.gain(data, "GRPO", resamples=2000).ci95
        width[len(seeds)] = high - low
    assert width[3] == pytest.approx(width[1], rel=0.1)


# ---------------------------------------------------------------- the plan measure (v2 correction)

VALID = ("A", "B", "C")  # a problem's valid plans
WRONG = ("w0", "w1", "w2", "w3", None)  # wrong or missing plans


def sharpened(t: float) -> dict:
    """Pure sharpening: the policy moves a share ``t`` of its wrong plans' mass onto its
    most likely plan (A, which is valid); every valid plan keeps its own mass."""
    wrong = 0.1 * (1 - t)
    return {"A": 0.3 + 0.5 * t, "B": 0.1, "C": 0.1} | dict.fromkeys(WRONG, wrong)


def sampled_plans(rng, n: int = 16):
    def columns(at, arm, seed, problem):
        policy = sharpened(0.9 * at / 6)  # sharper at every checkpoint
        labels = list(policy)
        picks = rng.choice(len(labels), size=n, p=list(policy.values()))
        plans = [labels[i] for i in picks]
        return experiment.plan_measures(plans, [p in VALID for p in plans], len(VALID))

    return columns


def test_sharpening_lowers_the_old_plan_measure_but_not_the_new_one():
    """v2 correction: plan-choice entropy over all samples falls when a policy only
    concentrates mass on its most likely (valid) plan, so the old rule read "contradicts";
    valid-plan coverage, which the rule now reads, registers no fall it would call one."""
    frame = synthetic_frame(ARC_EXEC, sampled_plans(np.random.default_rng(2)), problems=40)
    found = analysis.arc_effects(analysis.arm_data(frame, "grpo", (0, 1)), 1000, study.ARC_TESTS)
    assert found["boundary"].estimate == 20
    old = found["entropy_rise"]
    assert old.ci95[1] < -0.3  # the old measure falls ...
    assert interval_rule(old, 0.0, 0.0).verdict == "contradicts"  # ... and the old rule said so
    new = found["plan_rise"]
    assert new.contradict_interval[1] > -study.PLAN_MARGIN
    assert study.plan_rule(new).verdict != "contradicts"


def test_plan_measures_of_one_problem():
    found = experiment.plan_measures(
        ["A", "A", "B", None, "w"], [True, True, True, False, False], 4
    )
    assert found["valid_plans"] == 2 and found["coverage"] == pytest.approx(0.5)
    assert found["simpson"] == pytest.approx(1 - 2 / 6) and found["simpson_n"] == 1.0
    assert found["plan_entropy"] == pytest.approx(-(0.4 * math.log(0.4) + 3 * 0.2 * math.log(0.2)))
    lone = experiment.plan_measures(["A", None], [True, False], 2)
    assert lone["simpson"] == 0.0 and lone["simpson_n"] == 0.0


def test_valid_plans_are_what_the_verifier_accepts():
    from regimescope.tasks import get_task
    from regimescope.tasks.countdown import plan_text, solutions

    task = get_task("countdown")
    example = task.example(0, "test", 0)  # nums 4 4 9 -> 40
    found = experiment.valid_plans(example.meta["numbers"], example.meta["target"])
    assert ((4, 9, 4), ("*", "+")) in found
    for plan in found:
        answer = f"plan {plan_text(plan)}\nans {example.answer}"
        assert task.verify(example, answer).details["plan_ok"]
    full = set(solutions(example.meta["numbers"], example.meta["target"], 10**6))
    assert full <= found  # every full plan, and any valid plan over fewer numbers


def test_relative_perplexity_starts_at_one():
    frame = synthetic_frame([1.0] * 7, smooth_plans([0.5] * 7))
    data = analysis.arm_data(frame, "grpo", (0, 1))
    values = analysis.curve(data, "execution-token relative perplexity")
    assert values[0] == pytest.approx(1.0)


# ---------------------------------------------------------------- config, plan, design label


def test_the_plan_and_the_nested_config():
    cfg = study_config(study.STUDY, "quick", sets=["rl.lr=3e-5"])
    runs = experiment.plan(cfg, "base-folder")
    assert runs[0] == cfg.base and len(runs) == 1 + len(experiment.ARMS) * len(cfg.seeds)
    assert {r.lr for r in runs[1:]} == {3e-5} and {r.checkpoint_every for r in runs[1:]} == {10}
    assert {r.entropy_coef for r in runs[1:]} == {0.0, cfg.entropy_coef}
    assert {r.objective for r in runs[1:]} == {"grpo", "hicra"}


def test_only_the_full_config_is_labelled_a_full_design():
    verdict = Verdict("two-phase", "c", "inconclusive", "r", "rule", [])
    assert not label_design(verdict, study.STUDY, study.quick()).full_design
    assert label_design(verdict, study.STUDY, study.full()).full_design


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
    assert set(verdict.parts) == PARTS and set(verdict.premises) == set(ALL)
