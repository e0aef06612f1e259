import math

import numpy as np
import pandas as pd
import pytest

from regimescope.studies import VERDICTS, Effect, run_study
from regimescope.studies import format_collapse as study
from regimescope.studies import format_collapse_effects as effects
from regimescope.studies import format_collapse_parts as parts
from regimescope.tasks import get_task


def e(low, high, name="x"):
    return Effect(name, (low + high) / 2, (low, high))


COLLAPSED, SPLIT, UNSURE = e(0.93, 0.99), e(0.4, 0.7), e(0.85, 0.95)
FRESH, PRIMED = e(0.3, 0.45), e(0.88, 0.97)  # the base's share of the winner
DOMINANT, DIFFUSE = e(0.8, 0.95), e(0.35, 0.6)  # final winner share, all runs
APART, ALIKE = e(0.5, 0.9), e(-0.1, 0.1)  # scale gap (between - within TV)
FAR, NEAR = e(0.6, 0.95), e(0.0, 0.15)  # between-scale TV


@pytest.mark.parametrize(
    ("first", "base", "final", "gap", "between", "expected"),
    [
        (COLLAPSED, FRESH, DOMINANT, APART, FAR, "supports"),  # the paper's picture
        (SPLIT, FRESH, DOMINANT, APART, FAR, "contradicts"),  # no collapse in the first pass
        (COLLAPSED, FRESH, DOMINANT, ALIKE, NEAR, "contradicts"),  # both scales pick alike
        (UNSURE, FRESH, DOMINANT, APART, FAR, "inconclusive"),
        (COLLAPSED, PRIMED, DOMINANT, APART, FAR, "inconclusive"),  # collapsed before RL
        (COLLAPSED, FRESH, DIFFUSE, ALIKE, NEAR, "inconclusive"),  # no winner to compare
        (COLLAPSED, FRESH, DOMINANT, e(0.1, 0.6), FAR, "inconclusive"),  # seed noise as big
        (None, None, DOMINANT, APART, FAR, "inconclusive"),  # no competent base
        (COLLAPSED, FRESH, DOMINANT, None, None, "inconclusive"),  # one seed
    ],
)
def test_decide_reaches_every_verdict(first, base, final, gap, between, expected):
    overall, decided = study.decide(first, base, final, gap, between, None, None)
    assert overall.verdict == expected
    assert set(decided) == {study.COLLAPSE, study.SCALE, study.PREDICTOR, study.KL}


@pytest.mark.parametrize(
    ("rate", "kl", "predictor", "kl_verdict"),
    [
        (e(0.7, 0.95), e(0.05, 0.2), "supports", "supports"),
        (e(0.1, 0.4), e(-0.2, -0.05), "contradicts", "contradicts"),
        (e(0.3, 0.8), e(-0.05, 0.1), "inconclusive", "inconclusive"),
    ],
)
def test_reported_parts_do_not_change_the_overall_verdict(rate, kl, predictor, kl_verdict):
    overall, decided = study.decide(COLLAPSED, FRESH, DOMINANT, APART, FAR, rate, kl)
    assert overall.verdict == "supports"
    assert decided[study.PREDICTOR].verdict == predictor
    assert decided[study.KL].verdict == kl_verdict


def test_a_run_shorter_than_a_pass_cannot_contradict_collapse():
    assert study.collapse_rule(SPLIT, FRESH, coverage=0.25).verdict == "inconclusive"
    assert study.collapse_rule(SPLIT, FRESH, coverage=1.0).verdict == "contradicts"
    assert study.collapse_rule(COLLAPSED, FRESH, coverage=0.25).verdict == "supports"


def test_forced_prefix_commits_to_each_format():
    task = get_task("arithmetic")
    for fmt in ("code", "nl", "tagged"):
        example = task.example(0, "test", fmt=fmt)
        prefix = parts.forced_prefix(example)
        first = str(example.meta["numbers"][0])
        assert prefix.endswith(first) and example.target.startswith(prefix)
        assert task.classify_format(example.target) == fmt


def test_shares_winner_and_distance():
    samples = parts.Samples(np.array([[0, 0, 2, 3], [0, 1, 0, 0]]), np.zeros((2, 4)))
    assert samples.shares()[0].tolist() == [0.5, 0.0, 0.25, 0.25]
    assert parts.winner(samples) == 0  # code: 5 of 8 samples
    assert effects.tv(np.array([1.0, 0, 0, 0]), np.array([0, 1.0, 0, 0])) == 1.0
    formatless = parts.Samples(np.full((2, 3), 3), np.zeros((2, 3)))  # every sample: none
    assert parts.NAMES[parts.winner(formatless)] == "none"
    assert formatless.winner_share(parts.winner(formatless)).tolist() == [0.0, 0.0]


def test_collapse_step_is_the_first_smoothed_crossing():
    steps = [2, 4, 6, 8]
    share = {"code": [0.5, 0.95, 0.95, 0.95], "nl": [0.3, 0.05, 0.05, 0.05]}
    rows = [
        {"step": s, "format": f, "share": share.get(f, [0.0] * 4)[i]}
        for i, s in enumerate(steps)
        for f in parts.NAMES
    ]
    frame = pd.DataFrame(rows)
    assert parts.collapse_step(frame, 0.9, smooth=1) == 4
    assert parts.collapse_step(frame, 0.9, smooth=3) == 8  # (0.95 * 3) / 3 from step 8 on
    assert math.isnan(parts.collapse_step(frame, 0.99))


def test_smoke_run_writes_tables_figures_and_a_verdict(store):
    verdict, run = run_study(study.STUDY, "smoke", store=store)
    for table in ("bases", "runs", "held_out_formats", "rollouts", "effects"):
        assert (run.path / "tables" / f"{table}.csv").is_file()
    for figure in ("format_shares", "format_accuracy", "pre_rl", "effects"):
        assert (run.path / "figures" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
    assert verdict.verdict in VERDICTS and not verdict.full_design and verdict.notes
    assert verdict.effects
    assert all(math.isfinite(x) for e in verdict.effects for x in (e.estimate, *e.ci95))
    runs = pd.read_csv(run.path / "tables" / "runs.csv")
    assert len(runs) == 2 * 2 * 2  # scales x seeds x KL coefficients


@pytest.mark.slow
def test_quick_run_reaches_a_verdict(store):
    verdict, run = run_study(study.STUDY, "quick", store=store)
    assert verdict.verdict in VERDICTS and not verdict.full_design
    assert "19% of the first pass" in verdict.notes
    assert (run.path / "tables" / "runs.csv").is_file()
