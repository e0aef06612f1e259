import json
import math
import shutil

import numpy as np
import pytest

from regimescope.sampler import decode as sampling
from regimescope.studies import VERDICTS, Effect, run_study
from regimescope.studies.rl_catalyst import STUDY, decide, full, quick, smoke
from regimescope.studies.rl_catalyst_parts import creation_rate, crossover, effects


def eff(low, high):
    return Effect("x", (low + high) / 2, (low, high))


LATENT = {"base_pass1": 0.06, "base_passn": 0.75}  # a base that holds the task latently
UP, FLAT, DOWN = eff(0.05, 0.10), eff(-0.01, 0.03), eff(-0.08, -0.02)  # pass@1 gain
OVER, TIE, UNDER = eff(0.10, 0.30), eff(-0.02, 0.02), eff(-0.20, -0.05)  # base - RL at k = n
NONE_NEW, SOME_NEW, MANY_NEW = eff(0.0, 0.02), eff(0.01, 0.08), eff(0.10, 0.20)  # RL-only


@pytest.mark.parametrize(
    ("gain", "gap", "new", "expected"),
    [
        (UP, OVER, NONE_NEW, "supports"),
        (DOWN, OVER, NONE_NEW, "contradicts"),  # RL lowers pass@1
        (UP, UNDER, NONE_NEW, "contradicts"),  # RL stays above the base at k = n
        (UP, OVER, MANY_NEW, "contradicts"),  # RL solves many problems the base never does
        (FLAT, OVER, NONE_NEW, "inconclusive"),
        (UP, TIE, NONE_NEW, "inconclusive"),  # both saturate at k = n
        (UP, OVER, SOME_NEW, "inconclusive"),
    ],
)
def test_decide_reaches_every_verdict(gain, gap, new, expected):
    decision, parts = decide(gain, gap, new, **LATENT)
    assert decision.verdict == expected
    assert set(parts) == {
        "RL raises pass@1",
        "base overtakes at large k",
        "RL solves almost nothing new",
    }


@pytest.mark.parametrize(
    "base", [{"base_pass1": 0.7, "base_passn": 0.95}, {"base_pass1": 0.0, "base_passn": 0.2}]
)
def test_decide_is_inconclusive_when_the_base_is_not_latent(base):
    decision, parts = decide(UP, OVER, NONE_NEW, **base)
    assert decision.verdict == "inconclusive" and "premise" in decision.reason
    assert all(d.verdict == "supports" for d in parts.values())  # parts still reported


def test_effects_on_known_counts():
    n = 8
    base = np.array([[0, 1, 2, 0]])  # (S=1, P=4): base solves problems 1 and 2
    final = np.array([[0, 8, 0, 4]])  # RL sharpens problem 1, loses 2, creates 3
    found = effects(np.stack([base, final], axis=1), n, resamples=50)
    assert found["pass1_gain"].estimate == pytest.approx((8 - 1 - 2 + 4) / 8 / 4)
    assert found["large_k_gap"].estimate == pytest.approx(0.0)  # 2 solved each
    assert found["rl_only"].estimate == pytest.approx(0.25)
    assert creation_rate(base[0], final[0]) == pytest.approx(0.5)  # 1 of 2 unsolved
    assert crossover(n)(base[0], final[0]) == n  # the curves meet only at k = n (2 solved each)
    assert crossover(n)(np.array([0, 1]), np.array([8, 8])) == n + 1  # censored: never
    assert crossover(n)(np.array([4, 4]), np.array([0, 7])) == 1  # base never below


def test_presets_scale_up():
    s, q, f = smoke(), quick(), full()
    assert s.n < q.n < f.n == 256 and s.problems < q.problems < f.problems
    assert len(f.seeds) >= 3 and f.base_scale == "full"


def test_smoke_run_writes_tables_figures_and_a_verdict(store):
    verdict, run = run_study(STUDY, "smoke")
    assert verdict.verdict in VERDICTS and verdict.scale == "smoke"
    assert not verdict.full_design and "smoke" in verdict.notes
    assert all(
        math.isfinite(e.estimate) and all(map(math.isfinite, e.ci95)) for e in verdict.effects
    )
    tables = {p.stem for p in (run.path / "tables").glob("*.csv")}
    assert tables == {
        "passk",
        "per_problem",
        "coverage",
        "accuracy_histogram",
        "perplexity",
        "perplexity_by_class",
        "rl_training",
        "effects",
    }
    figures = {p.stem for p in (run.path / "figures").glob("*.png")}
    assert figures == {
        "passk_curves",
        "rl_steps",
        "coverage",
        "accuracy_histogram",
        "perplexity",
        "perplexity_by_class",
    }
    captions = json.loads((run.path / "figures" / "captions.json").read_text())
    assert all(captions[name] for name in figures)
    assert (store / "rl").is_dir() and (store / "pretrain").is_dir()  # runs shared via store


def test_a_rerun_reads_its_samples_back_and_redraws_nothing(store, monkeypatch):
    """A study killed after sampling resumes from the sample cache: same verdict, same
    tables, and the sampler is never called."""
    first, run = run_study(STUDY, "smoke")
    tables = {p.name: p.read_text() for p in (run.path / "tables").glob("*.csv")}
    assert list((store / "samples").rglob("*.npz"))
    shutil.rmtree(run.path)

    def draw(*args, **kwargs):
        raise AssertionError("sampled again")

    monkeypatch.setattr(sampling, "_draw", draw)
    lines = []
    again, run = run_study(STUDY, "smoke", progress=lines.append)
    assert again == first
    assert "sampled base, seed 0 (1/" in "\n".join(lines)  # one line per model sampled
    assert {p.name: p.read_text() for p in (run.path / "tables").glob("*.csv")} == tables


def test_class_drift_places_the_rise_on_the_class_whose_perplexity_rose():
    import pandas as pd

    from regimescope.studies.rl_catalyst_tables import class_drift, drift_text

    rows = []
    for seed, plan_rise in ((0, 1.0), (1, 2.0)):  # exec doubles in both seeds
        rows += [(seed, 0, "exec", 1.0), (seed, 400, "exec", 2.0)]
        rows += [(seed, 0, "plan", 1.2), (seed, 400, "plan", 1.2 * plan_rise)]
    table = pd.DataFrame(rows, columns=["seed", "rl_step", "class", "ppl"])
    drift = class_drift(table)
    assert drift == pytest.approx({"exec": 2.0, "plan": 1.5})
    text = drift_text(drift)
    assert "rose exec x2.00, plan x1.50" in text and "most on exec tokens" in text
    assert "cannot be placed" in drift_text(class_drift(table.iloc[0:0]))
