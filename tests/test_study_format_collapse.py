import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from regimescope.errors import BadInput
from regimescope.studies import VERDICTS, Effect, Verdict, run_study
from regimescope.studies import format_collapse as study
from regimescope.studies.base import label_design
from regimescope.studies.format_collapse import analysis, experiment
from regimescope.studies.premises import NOT_WORSE, REWARD_ROSE
from regimescope.tasks import get_task


def e(low, high, name="x", family=study.FAMILY):
    """A decided part's effect: its family-wise interval is its 95% one (a tight case)."""
    return Effect(name, (low + high) / 2, (low, high), family=family, ci_family=(low, high))


COLLAPSED, SPLIT, UNSURE = e(0.93, 0.99), e(0.4, 0.7), e(0.85, 0.95)
UNPRIMED, PRIMED = e(0.3, 0.45), e(0.88, 0.97)  # the base's share of the winner
DOMINANT, DIFFUSE = e(0.8, 0.95), e(0.35, 0.6)  # final winner share, all runs
APART, ALIKE = e(0.5, 0.9), e(-0.1, 0.1)  # scale gap (between - within TV)
FAR, NEAR = e(0.6, 0.95), e(0.0, 0.15)  # between-scale TV
ROSE, FLAT = e(0.05, 0.2, family=1), e(-0.03, 0.04, family=1)  # training reward rise
KEPT, FELL = e(0.0, 0.1, family=1), e(-0.2, -0.05, family=1)  # held-out accuracy gain


def premises(base_share, rise=ROSE, gain=KEPT):
    """The premises of a design with two bases; no base share means no competent base."""
    if base_share is None:
        return study.premises_of(0, 2, None, None, None)
    return study.premises_of(1, 2, base_share, rise, gain)


@pytest.mark.parametrize(
    ("first", "base", "final", "gap", "between", "expected"),
    [
        (COLLAPSED, UNPRIMED, DOMINANT, APART, FAR, "supports"),  # the paper's picture
        (SPLIT, UNPRIMED, DOMINANT, APART, FAR, "contradicts"),  # no collapse in the first pass
        (COLLAPSED, UNPRIMED, DOMINANT, ALIKE, NEAR, "contradicts"),  # both scales pick alike
        (UNSURE, UNPRIMED, DOMINANT, APART, FAR, "inconclusive"),
        (COLLAPSED, PRIMED, DOMINANT, APART, FAR, "inconclusive"),  # collapsed before RL
        (COLLAPSED, UNPRIMED, DIFFUSE, ALIKE, NEAR, "inconclusive"),  # no winner to compare
        (COLLAPSED, UNPRIMED, DOMINANT, e(0.1, 0.6), FAR, "inconclusive"),  # seed noise as big
        (None, None, DOMINANT, APART, FAR, "inconclusive"),  # no competent base
        (COLLAPSED, UNPRIMED, DOMINANT, None, None, "inconclusive"),  # one seed
    ],
)
def test_decide_reaches_every_verdict(first, base, final, gap, between, expected):
    overall, decided = study.decide(first, final, gap, between, None, None, premises(base))
    assert overall.verdict == expected
    assert set(decided) == {study.COLLAPSE, study.SCALE, study.PREDICTOR, study.KL}


@pytest.mark.parametrize(
    ("rate", "kl", "predictor", "kl_verdict"),
    [
        (e(0.7, 0.95, family=1), e(0.05, 0.2, family=1), "supports", "supports"),
        (e(0.1, 0.4, family=1), e(-0.2, -0.05, family=1), "contradicts", "contradicts"),
        (e(0.3, 0.8, family=1), e(-0.05, 0.1, family=1), "inconclusive", "inconclusive"),
    ],
)
def test_reported_parts_do_not_change_the_overall_verdict(rate, kl, predictor, kl_verdict):
    ok = premises(UNPRIMED)
    overall, decided = study.decide(COLLAPSED, DOMINANT, APART, FAR, rate, kl, ok)
    assert overall.verdict == "supports"
    assert decided[study.PREDICTOR].verdict == predictor
    assert decided[study.KL].verdict == kl_verdict


@pytest.mark.parametrize(("rise", "gain"), [(FLAT, KEPT), (ROSE, FELL)])
def test_a_failed_rl_premise_gives_inconclusive_not_contradicts(rise, gain):
    """v2: RL that did not raise its reward, or lowered held-out accuracy (the 3e-4 run),
    says nothing about what RL selects: no part may contradict."""
    gated = premises(UNPRIMED, rise, gain)
    assert not (gated[REWARD_ROSE].holds and gated[NOT_WORSE].holds)
    kl = e(-0.2, -0.05, family=1)
    overall, decided = study.decide(SPLIT, DOMINANT, ALIKE, NEAR, None, kl, gated)
    assert overall.verdict == "inconclusive"
    assert all(d.verdict == "inconclusive" for d in decided.values())
    assert "premise failed" in decided[study.SCALE].reason


def test_a_contradiction_needs_the_family_wise_interval():
    """v2: two decided parts: a 95% interval below the line whose 97.5% one is not leaves
    the part inconclusive (the old combine contradicted on the 95% interval alone)."""
    split = Effect("first pass", 0.8, (0.7, 0.88), family=2, ci_family=(0.65, 0.92))
    ok = premises(UNPRIMED)
    overall, decided = study.decide(split, DOMINANT, APART, FAR, None, None, ok)
    assert decided[study.COLLAPSE].verdict == "inconclusive"
    assert overall.verdict == "inconclusive"
    near = Effect("between", 0.1, (0.0, 0.2), family=2, ci_family=(-0.05, 0.3))
    assert study.scale_rule(DOMINANT, ALIKE, near).verdict == "inconclusive"
    assert study.scale_rule(DOMINANT, ALIKE, NEAR).verdict == "contradicts"


def test_a_run_shorter_than_a_pass_cannot_contradict_collapse():
    assert study.collapse_rule(SPLIT, coverage=0.25).verdict == "inconclusive"
    assert study.collapse_rule(SPLIT, coverage=1.0).verdict == "contradicts"
    assert study.collapse_rule(COLLAPSED, coverage=0.25).verdict == "supports"


def test_config_nests_the_rl_template_and_plans_every_run():
    cfg = study.quick()
    plan = experiment.plan(cfg)
    assert len(plan) == len(experiment.conditions(cfg)) * (1 + len(cfg.kl_coefs))
    rl_runs = plan[1 :: 1 + len(cfg.kl_coefs)]
    assert all(r.lr == 1e-4 and r.checkpoint_every == cfg.first_pass_step for r in rl_runs)
    assert all(r.recorder.every == 1 for r in rl_runs)  # the premise reads every step's reward
    assert study.full().rl.steps == 384 and study.smoke().kl_coefs == (0.0, 0.1)
    with pytest.raises(BadInput):
        study.check(dataclasses.replace(cfg, rl=dataclasses.replace(cfg.rl, kl_coef=0.1)))


def test_quick_is_labelled_a_reduced_design():
    blank = Verdict("format-collapse", "c", "inconclusive", "r", "rule", [])
    assert not label_design(blank, study.STUDY, study.quick()).full_design
    assert label_design(blank, study.STUDY, study.full()).full_design


def synthetic(seeds: int, share: np.ndarray, rewards=None, base_correct: float = 0.5):
    """Every base and run identical: problem p has a share ``share[p]`` of code samples
    (the rest prose) after the first pass and at the end, half of it in the base."""
    cfg = dataclasses.replace(study.smoke(), seeds=tuple(range(seeds)), kl_coefs=(0.0,))
    n = 10

    def samples(shares, correct):
        formats = (np.arange(n)[None, :] >= np.round(shares * n)[:, None]).astype(int)
        return experiment.Samples(formats, np.full(formats.shape, correct))

    conds = experiment.conditions(cfg)
    free = samples(share / 2, base_correct)
    bases = {c: experiment.BaseSamples(free, {}) for c in conds}
    after = {(c, 0.0): samples(share, base_correct + 0.1) for c in conds}
    steps = rewards if rewards is not None else np.linspace(0.1, 0.5, 20)
    runs = {(c, 0.0): list(steps) for c in conds}
    return dataclasses.replace(cfg, bootstrap=2000), experiment.Measured(bases, after, after, runs)


def test_runs_and_problems_are_resampled_crossed():
    """v2: every run is scored on the same problems. With identical runs the problems are
    the only noise, so the interval must not shrink with more runs; the old nested
    bootstrap drew problems per run row and shrank it by about 1/sqrt(runs)."""
    share = np.random.default_rng(0).uniform(0.3, 1.0, 60)

    def width(seeds: int) -> float:
        cfg, measured = synthetic(seeds, share)
        first, _ = analysis.collapse_effects(cfg, measured, 0.1, study.FAMILY)
        assert first.family == study.FAMILY and first.ci_family is not None
        return first.ci95[1] - first.ci95[0]

    assert width(4) / width(1) == pytest.approx(1.0, abs=0.12)  # 8 runs against 2


@pytest.mark.parametrize(
    ("rewards", "correct", "rose"),
    [(None, 0.5, True), ([0.3] * 20, 0.5, False), (None, 0.05, None)],
)
def test_the_rl_premise_reads_kl0_runs_of_competent_bases(rewards, correct, rose):
    cfg, measured = synthetic(2, np.full(8, 0.6), rewards, base_correct=correct)
    rise, gain = analysis.rl_worked(cfg, measured, study.MIN_BASE_ACCURACY)
    if rose is None:  # no base solves 0.1: nothing to measure, every premise fails
        assert rise is None and gain is None
        found = study.premises_of(0, 4, None, rise, gain)
        assert not any(p.holds for p in found.values())
        return
    assert gain.estimate == pytest.approx(0.1)
    found = study.premises_of(4, 4, None, rise, gain)
    assert found[REWARD_ROSE].holds is rose and found[NOT_WORSE].holds


def test_forced_prefix_commits_to_each_format():
    task = get_task("arithmetic")
    for fmt in ("code", "nl", "tagged"):
        example = task.example(0, "test", fmt=fmt)
        prefix = experiment.forced_prefix(example)
        first = str(example.meta["numbers"][0])
        assert prefix.endswith(first) and example.target.startswith(prefix)
        assert task.classify_format(example.target) == fmt


def test_shares_winner_and_distance():
    samples = experiment.Samples(np.array([[0, 0, 2, 3], [0, 1, 0, 0]]), np.zeros((2, 4)))
    assert samples.shares()[0].tolist() == [0.5, 0.0, 0.25, 0.25]
    assert analysis.winner(samples) == 0  # code: 5 of 8 samples
    assert analysis.tv(np.array([1.0, 0, 0, 0]), np.array([0, 1.0, 0, 0])) == 1.0
    formatless = experiment.Samples(np.full((2, 3), 3), np.zeros((2, 3)))  # every sample: none
    assert experiment.NAMES[analysis.winner(formatless)] == "none"
    assert formatless.winner_share(analysis.winner(formatless)).tolist() == [0.0, 0.0]


def test_collapse_step_is_the_first_smoothed_crossing():
    steps = [2, 4, 6, 8]
    share = {"code": [0.5, 0.95, 0.95, 0.95], "nl": [0.3, 0.05, 0.05, 0.05]}
    rows = [
        {"step": s, "format": f, "share": share.get(f, [0.0] * 4)[i]}
        for i, s in enumerate(steps)
        for f in experiment.NAMES
    ]
    frame = pd.DataFrame(rows)
    assert analysis.collapse_step(frame, 0.9, smooth=1) == 4
    assert analysis.collapse_step(frame, 0.9, smooth=3) == 8  # (0.95 * 3) / 3 from step 8 on
    assert math.isnan(analysis.collapse_step(frame, 0.99))


def test_smoke_run_writes_tables_figures_and_a_verdict(store):
    verdict, run = run_study(study.STUDY, "smoke", store=store)
    for table in ("bases", "runs", "held_out_formats", "rollouts", "effects"):
        assert (run.path / "tables" / f"{table}.csv").is_file()
    for figure in ("format_shares", "format_accuracy", "pre_rl", "effects"):
        assert (run.path / "figures" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
    assert verdict.verdict in VERDICTS and not verdict.full_design and verdict.notes
    assert verdict.effects
    assert all(math.isfinite(x) for e in verdict.effects for x in (e.estimate, *e.ci95))
    assert set(verdict.premises) == {study.COMPETENT, study.FRESH, REWARD_ROSE, NOT_WORSE}
    runs = pd.read_csv(run.path / "tables" / "runs.csv")
    assert len(runs) == 2 * 2 * 2  # scales x seeds x KL coefficients


@pytest.mark.slow
def test_quick_run_reaches_a_verdict(store):
    verdict, run = run_study(study.STUDY, "quick", store=store)
    assert verdict.verdict in VERDICTS and not verdict.full_design
    assert "19% of the first pass" in verdict.notes
    assert (run.path / "tables" / "runs.csv").is_file()
