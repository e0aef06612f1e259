import math

import numpy as np
import pandas as pd
import pytest
import torch

from regimescope.errors import BadInput
from regimescope.organisms.mlp import MLPConfig, build_mlp, mlp_parameters
from regimescope.regimes.student import (
    StudentConfig,
    per_example_gradients,
    train_student,
)
from regimescope.studies import VERDICTS, Effect, run_study, study_config
from regimescope.studies import learning_mechanics as study
from regimescope.studies.learning_mechanics import analysis, experiment
from regimescope.studies.verdict import Premise
from regimescope.tasks.teacher import TeacherConfig, teacher_batch

# --- the organism, the task and the regime ------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_mlp_parameter_count_matches_the_built_model(depth):
    cfg = MLPConfig(inputs=5, width=7, depth=depth)
    assert mlp_parameters(cfg) == sum(p.numel() for p in build_mlp(cfg).parameters())


def test_teacher_slices_are_the_same_whatever_else_was_drawn():
    cfg = TeacherConfig(width=32)
    x, y = teacher_batch(cfg, "train", 0, 700, data_seed=3)
    x2, y2 = teacher_batch(cfg, "train", 250, 300, data_seed=3)
    assert torch.equal(x[250:550], x2) and torch.equal(y[250:550], y2)
    other, _ = teacher_batch(cfg, "train", 0, 700, data_seed=4)
    evaluation, _ = teacher_batch(cfg, "eval", 0, 700, data_seed=3)
    assert not torch.equal(x, other) and not torch.equal(x, evaluation)


def test_teacher_targets_have_unit_variance_and_noise_adds_its_square():
    _, y = teacher_batch(TeacherConfig(width=64), "eval", 0, 20000)
    assert y.var().item() == pytest.approx(1.0, abs=0.05)
    noisy = TeacherConfig(width=64, noise=0.5)
    _, y_noisy = teacher_batch(noisy, "eval", 0, 20000)
    assert (y_noisy - y).var().item() == pytest.approx(0.25, abs=0.02)


def test_per_example_gradients_equal_one_backward_per_example():
    model = build_mlp(MLPConfig(inputs=8, width=6), seed=1)
    x, y = teacher_batch(TeacherConfig(width=16), "train", 0, 5)
    found = per_example_gradients(model, x, y)  # [5, P]
    for i in range(5):
        model.zero_grad()
        ((model(x[i : i + 1]) - y[i : i + 1]) ** 2).mean().backward()
        expected = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        torch.testing.assert_close(found[i], expected)


def tiny(**changes) -> StudentConfig:
    base = StudentConfig(
        organism=MLPConfig(width=8),
        teacher=TeacherConfig(width=16),
        train_examples=64,
        batch_size=64,
        steps=30,
        eval_every=5,
        eval_examples=128,
    )
    return StudentConfig(**{**base.__dict__, **changes})


def test_a_run_stops_at_its_target_and_is_reused_from_the_store(store):
    run = train_student(tiny(target_loss=0.9, lr=0.2), store)
    summary = run.summary()
    last = run.read_metrics()[-1]
    assert summary["reached_at"] == last["step"] and last["eval_loss"] <= 0.9
    assert train_student(tiny(target_loss=0.9, lr=0.2), store).path == run.path


def test_a_diverging_run_ends_early_and_says_so(store):
    summary = train_student(tiny(lr=50.0, steps=500), store).summary()
    assert summary["diverged"] and summary["reached_at"] is None and summary["steps"] < 500


def test_readings_land_at_their_steps(store):
    run = train_student(tiny(sharpness_every=10, noise_scale_every=15, noise_batch=8), store)
    records = run.read_metrics()
    assert [r["step"] for r in records if "sharpness" in r] == [0, 10, 20, 30]
    assert [r["step"] for r in records if "noise_scale" in r] == [0, 15, 30]
    assert all(r["sharpness"] > 0 for r in records if "sharpness" in r)
    assert records[-1]["step"] == 30 and "eval_loss" in records[-1]


def test_bad_regime_configs_are_refused_in_one_line(store):
    with pytest.raises(BadInput, match="choose from"):
        train_student(tiny(optimizer="lbfgs"), store)
    with pytest.raises(BadInput, match="train_examples"):
        train_student(tiny(train_examples=0), store)


# --- the analysis on planted data ---------------------------------------------------------


def edge_trace(rate, onset, hover, steps=400, fall=0.5, wobble=True):
    """A synthetic full-batch GD trace: sharpness rises linearly to ``hover`` x 2/η at
    ``onset`` and stays; the loss falls by ``fall`` after it, with every other step up."""
    rows = []
    for t in range(steps + 1):
        sharp = (2 / rate) * (hover * min(1.0, t / onset) if onset else hover)
        progress = max(0, t - onset) / (steps - onset)
        loss = 1.0 - fall * progress + (0.01 if wobble and t % 2 else 0.0)
        rows.append({"step": t, "train_loss": loss, "sharpness": sharp if t % 10 == 0 else np.nan})
    return pd.DataFrame(rows)


def test_edge_statistics_recover_a_planted_trace():
    stats = analysis.edge_of_stability(edge_trace(0.2, onset=100, hover=1.0), 0.2)
    assert stats["onset"] == 90  # the first reading at 0.9 x 2/η
    assert stats["in_time"]
    assert stats["hover"] == pytest.approx(1.0)
    assert stats["fall"] > 0.4
    assert stats["ups"] == pytest.approx(0.5, abs=0.01)
    monotone = analysis.edge_of_stability(edge_trace(0.2, 100, 1.0, wobble=False), 0.2)
    assert monotone["ups"] == 0.0


def test_a_run_that_never_reaches_the_edge_has_no_statistics():
    stats = analysis.edge_of_stability(edge_trace(0.2, onset=100, hover=0.5), 0.2)
    assert math.isnan(stats["onset"]) and not stats["in_time"] and math.isnan(stats["hover"])
    late = analysis.edge_of_stability(edge_trace(0.2, onset=300, hover=1.0), 0.2)
    assert not late["in_time"]


def test_critical_batch_fit_recovers_a_planted_law():
    sizes = np.array([8, 32, 128, 512, 2048])
    steps = pd.DataFrame({"batch_size": sizes, "steps": 50 * (1 + 64 / sizes)})
    fit = analysis.critical_batch(steps)
    assert fit["s_min"] == pytest.approx(50) and fit["b_crit"] == pytest.approx(64)
    assert math.isnan(analysis.critical_batch(steps.iloc[:2])["b_crit"])


def test_steps_to_target_takes_the_best_rate_and_keeps_unreached_sizes():
    batches = pd.DataFrame(
        {
            "seed": [0] * 4,
            "batch_size": [8, 8, 32, 32],
            "rate": [0.1, 0.2, 0.1, 0.2],
            "reached_at": [300, 200, None, None],
        }
    )
    best = analysis.steps_to_target(batches).set_index("batch_size")
    assert best.loc[8, "steps"] == 200 and best.loc[8, "rate"] == 0.2
    assert math.isnan(best.loc[32, "steps"])


def test_noise_scale_prediction_averages_its_terms_before_the_ratio():
    steps = pd.DataFrame({"batch_size": [8, 32], "steps": [100, 50], "rate": [0.2, 0.1]})
    noise = pd.DataFrame(
        {
            "batch_size": [8, 8, 8, 8],
            "rate": [0.2, 0.2, 0.2, 0.1],
            "eval_loss": [0.9, 0.5, 0.4, 0.4],
            "trace_cov": [100.0, 30.0, 10.0, 999.0],
            "gradient_sq": [1.0, 1.0, 0.0, 1.0],
        }
    )
    # readings at loss <= 2 x 0.3 of the best-rate reference run: (30 + 10) / (1 + 0)
    assert analysis.predicted_noise_scale(noise, steps, 0.3) == pytest.approx(40.0)


def planted_sizes(alpha=0.5, off=0.0, seeds=4, noise=0.01):
    """Final losses of an exact power law L = 0.05 + 3 N^-α with seed noise; the largest
    size off the law by the factor (1 + ``off``)."""
    rng = np.random.default_rng(0)
    sizes = [50, 150, 450, 1350, 4050]
    losses = {}
    for n in sizes:
        law = 0.05 + 3 * n**-alpha
        losses[n] = (
            law * (1 + (off if n == sizes[-1] else 0)) * (1 + noise * rng.standard_normal(seeds))
        )
    return losses


def test_scaling_prediction_holds_on_a_planted_law_and_catches_a_planted_miss():
    held, _, point = analysis.scaling_prediction(planted_sizes(), 4050, 200, family=1)
    assert abs(held.estimate) < 0.05 and -0.1 < held.ci95[0] < held.ci95[1] < 0.1
    assert point["law"].exponent == pytest.approx(0.5, abs=0.1)
    missed, _, _ = analysis.scaling_prediction(planted_sizes(off=0.3), 4050, 200, family=1)
    assert missed.ci95[0] > 0.2


def curve_frame(shape, sizes=(4, 8, 16), seeds=6, noise=0.02):
    """Size-sweep rows whose normalised curves follow ``shape(width, x)``."""
    rng = np.random.default_rng(1)
    rows = []
    for width in sizes:
        steps = 40 * width
        for seed in range(seeds):
            wiggle = 1 + noise * rng.standard_normal()
            for t in np.linspace(0, steps, 41).astype(int):
                x = max(t / steps, 1e-3)
                loss = (1.0 / width) * shape(width, x) ** wiggle
                rows.append(
                    {
                        "width": width,
                        "parameters": width * 10,
                        "seed": seed,
                        "step": t,
                        "eval_loss": loss,
                    }
                )
    return pd.DataFrame(rows)


def test_collapse_ratio_is_small_for_collapsed_curves_and_large_otherwise():
    collapsed = analysis.collapse_ratio(curve_frame(lambda w, x: x**-0.5), 0.0, 200, family=1)
    fanned = analysis.collapse_ratio(curve_frame(lambda w, x: x ** -(0.1 * w)), 0.0, 200, family=1)
    assert collapsed.ci95[1] < 2.0
    assert fanned.ci95[0] > 4.0


# --- the rule -----------------------------------------------------------------------------


def e(low, high, name="x"):
    """An effect of the 6-part verdict; its family-wise interval 0.01 wider each side."""
    return Effect(
        name,
        (low + high) / 2,
        (low, high),
        family=study.FAMILY,
        ci_family=(low - 0.01, high + 0.01),
    )


GOOD = {
    "hover": e(-0.03, 0.04),
    "fall": e(0.3, 0.6),
    "ups": e(0.2, 0.4),
    "scaling": e(-0.05, 0.06),
    "batch": e(-0.2, 0.3),
    "collapse": e(0.8, 1.6),
}
BAD = {
    "hover": e(0.3, 0.5),
    "fall": e(-0.3, -0.1),
    "ups": Effect("x", 0.001, (0.0, 0.003), family=study.FAMILY, ci_family=(0.0, 0.004)),
    "scaling": e(0.25, 0.4),
    "batch": e(1.2, 1.6),
    "collapse": e(5.0, 9.0),
}
OPEN = {
    "hover": e(0.05, 0.15),
    "fall": e(0.05, 0.2),
    "ups": e(0.02, 0.06),
    "scaling": e(0.05, 0.15),
    "batch": e(0.3, 0.8),
    "collapse": e(1.5, 3.0),
}


def held(*failed: str) -> dict[str, Premise]:
    names = (study.REACHED_EDGE, study.LAW_FITTED, study.TARGET_REACHED)
    return {name: Premise(name not in failed, "synthetic") for name in names}


def test_the_rule_supports_when_every_prediction_holds():
    overall, parts = study.decide(**GOOD, premises=held())
    assert overall.verdict == "supports" and len(parts) == study.FAMILY


@pytest.mark.parametrize("failing", sorted(BAD))
def test_any_failed_prediction_contradicts(failing):
    overall, parts = study.decide(**{**GOOD, failing: BAD[failing]}, premises=held())
    assert overall.verdict == "contradicts"
    assert sum(d.verdict == "contradicts" for d in parts.values()) == 1


@pytest.mark.parametrize("unsure", sorted(OPEN))
def test_a_prediction_in_its_tolerance_band_is_inconclusive(unsure):
    overall, parts = study.decide(**{**GOOD, unsure: OPEN[unsure]}, premises=held())
    assert overall.verdict == "inconclusive"


@pytest.mark.parametrize(
    ("premise", "gated"),
    [
        (study.REACHED_EDGE, ("hover", "fall", "ups")),
        (study.LAW_FITTED, ("scaling", "collapse")),
        (study.TARGET_REACHED, ("batch",)),
    ],
)
def test_a_failed_premise_makes_its_parts_inconclusive_never_contradicting(premise, gated):
    effects = {**GOOD, **{name: BAD[name] for name in gated}}
    overall, parts = study.decide(**effects, premises=held(premise))
    assert overall.verdict == "inconclusive"
    assert not any(d.verdict == "contradicts" for d in parts.values())


def test_the_design_is_checked_before_anything_runs():
    with pytest.raises(BadInput, match="predict_width"):
        study_config(study.STUDY, "quick", sets=["predict_width=16"])
    with pytest.raises(BadInput, match="2 seeds"):
        study_config(study.STUDY, "quick", seeds=1)


def test_plan_lists_every_run_once():
    cfg = study.quick()
    runs = experiment.plan(cfg)
    expected = len(cfg.seeds) * (
        len(cfg.eos_rates) + len(cfg.fit_widths) + 1 + len(cfg.batch_sizes) * len(cfg.batch_rates)
    )
    assert len(runs) == expected == len(set(runs))


def test_smoke_run_writes_tables_figures_and_a_verdict(store):
    verdict, run = run_study(study.STUDY, "smoke", store=store)
    assert verdict.verdict in VERDICTS and len(verdict.parts) == study.FAMILY
    for table in ("eos_trace", "eos_runs", "sizes", "steps", "batch_fits", "noise"):
        assert (run.path / "tables" / f"{table}.csv").is_file()
    for figure in study.outputs.CAPTIONS:
        assert (run.path / "figures" / f"{figure}.png").is_file()


def test_the_follow_up_names_a_refuted_prediction_before_an_undecided_one():
    from regimescope.studies.learning_mechanics import outputs
    from regimescope.studies.verdict import Decision

    parts = {
        "sharpness hovers at 2/η": Decision("supports", "x"),
        "scaling law predicts the larger model": Decision("inconclusive", "y"),
        "loss curves collapse across sizes": Decision("contradicts", "z"),
    }
    assert outputs.follow_up(parts).startswith("loss curves collapse across sizes (contradicts)")
    held = {name: Decision("supports", "x") for name in parts}
    assert "transformer organisms" in outputs.follow_up(held)
