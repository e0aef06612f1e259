import json
import random
from dataclasses import replace

import numpy as np
import pytest

from regimescope.errors import BadInput
from regimescope.regimes.distractor import seeded, train_distractor
from regimescope.studies import VERDICTS, Effect, run_study, study_config
from regimescope.studies import paired_analysis as study
from regimescope.studies.paired_analysis import analysis
from regimescope.studies.paired_analysis.experiment import SeedMeasures
from regimescope.studies.verdict import Premise
from regimescope.tasks.base import is_heldout
from regimescope.tasks.distractor import HELDOUT_FRACTION, DistractorTask, Quadruple, draw


def e(low, high):
    """An effect of the 3-part verdict; its family-wise interval 0.01 wider each side."""
    return Effect(
        "x", (low + high) / 2, (low, high), family=study.FAMILY, ci_family=(low - 0.01, high + 0.01)
    )


HELD, FAILED = Premise(True, "synthetic"), Premise(False, "synthetic")
ALL_HELD = {study.SOLVES: HELD, study.UNUSED: HELD, study.PRESENT: HELD}
ALIKE, APART = e(-0.05, 0.05), e(0.3, 0.5)  # selectivity gap: probing cannot / can tell
SEPARATED, FLAT = e(0.7, 1.0), e(-0.1, 0.1)  # the intervention tells them apart / does not
GAIN, NO_GAIN = e(0.5, 0.8), e(-0.05, 0.05)  # IIA over the random-init copy


@pytest.mark.parametrize(
    ("effects", "expected"),
    [
        ((ALIKE, SEPARATED, GAIN), "supports"),
        ((APART, SEPARATED, GAIN), "contradicts"),  # probing alone would have done
        ((ALIKE, FLAT, GAIN), "contradicts"),  # the intervention cannot tell them apart
        ((ALIKE, SEPARATED, NO_GAIN), "contradicts"),  # no better than random features
        ((e(0.05, 0.25), SEPARATED, GAIN), "inconclusive"),
    ],
)
def test_decide_reaches_every_verdict(effects, expected):
    overall, parts = study.decide(*effects, gates=ALL_HELD)
    assert overall.verdict == expected and len(parts) == study.FAMILY


def test_an_unused_distractor_that_is_used_gates_the_two_pairing_parts_only():
    gates = {**ALL_HELD, study.UNUSED: FAILED}
    overall, parts = study.decide(APART, FLAT, GAIN, gates=gates)
    assert overall.verdict == "inconclusive"  # never contradicts on a failed premise
    assert parts["probing alone rates D like C"].verdict == "inconclusive"
    assert parts["the intervention tells them apart"].verdict == "inconclusive"
    assert parts["C's subspace beats the random-init copy"].verdict == "supports"


# ---------------------------------------------------------------- the task


def test_a_swap_flips_its_variable_and_nothing_else():
    q = Quadruple((7, 2, 1, 5))
    assert (q.causal, q.distractor, q.answer, q.prompt) == (1, 0, "Y", "7215=")
    c, d = q.swapped("causal"), q.swapped("distractor")
    assert (c.causal, c.distractor, c.answer) == (0, 0, "N")
    assert (d.causal, d.distractor, d.answer) == (1, 1, "Y")
    with pytest.raises(BadInput, match="causal, distractor"):
        q.swapped("x3")


def test_splits_agree_as_designed_and_held_out_prompts_are_never_trained_on():
    task = DistractorTask()
    agree = {
        split: np.mean(
            [
                (q.causal == q.distractor)
                for q in map(lambda i, s=split: task.quadruple(i, s), range(2000))
            ]
        )
        for split in ("train", "test", "decorrelated")
    }
    assert agree["train"] > 0.96 and agree["test"] > 0.96
    assert 0.45 < agree["decorrelated"] < 0.55
    trained = {task.quadruple(i, "train").x for i in range(3000)}
    held = {task.quadruple(i, "decorrelated").x for i in range(500)}
    assert not trained & held
    every = [
        (a, b, c, d)
        for a in range(10)
        for b in range(10)
        for c in range(10)
        for d in range(10)
        if a != b and c != d
    ]
    share = np.mean([is_heldout(f"distractor|{x}", HELDOUT_FRACTION) for x in every])
    assert abs(share - HELDOUT_FRACTION) < 0.03
    rng = random.Random(0)
    drawn = [draw(rng, task.config, 0.5, heldout=True).x for _ in range(200)]
    assert all(is_heldout(f"distractor|{x}", HELDOUT_FRACTION) for x in drawn)


def test_example_is_deterministic_and_verified_on_its_first_token():
    task = DistractorTask()
    a, b = task.example(5, "test", seed=3), task.example(5, "test", seed=3)
    assert a == b and a.target in ("Y", "N") and a.meta["causal"] == "NY".index(a.target)
    assert task.verify(a, a.target + "junk").reward == 1.0
    assert task.verify(a, "").reward == 0.0


def test_the_regime_reuses_a_finished_run(tmp_path):
    cfg = study.smoke().run
    run = train_distractor(seeded(cfg, 0), tmp_path)
    stamp = (run.path / "complete.json").stat().st_mtime_ns
    again = train_distractor(seeded(cfg, 0), tmp_path)
    assert again.path == run.path and (again.path / "complete.json").stat().st_mtime_ns == stamp
    other = train_distractor(seeded(cfg, 1), tmp_path)
    assert other.path != run.path
    with pytest.raises(BadInput, match="agreement"):
        train_distractor(replace(cfg, task=replace(cfg.task, agreement=1.5)), tmp_path)
    with pytest.raises(BadInput, match="label"):
        train_distractor(replace(cfg, loop=replace(cfg.loop, task="arithmetic")), tmp_path)


# ---------------------------------------------------------------- the analysis


def planted(seeds: int, c_sel: float, d_sel: float, moved_d: float) -> list[SeedMeasures]:
    """Seed measures whose probes are right on a share ``c_sel`` (C) / ``d_sel`` (D) of the
    held-out examples more often than their control probes, and whose C direction moves
    the whole swing while D's moves ``moved_d`` of it."""
    rng = np.random.default_rng(0)
    n, site = 400, "blocks.1.hook_resid_post"
    measures = []
    for _ in range(seeds):

        def correct(share):
            return (rng.random(n) < share).astype(float)

        found = {
            "causal|" + site + "|task": correct(0.5 + c_sel),
            "causal|" + site + "|control": correct(0.5),
            "distractor|" + site + "|task": correct(0.5 + d_sel),
            "distractor|" + site + "|control": correct(0.5),
        }
        swing = 4 + rng.standard_normal(n)
        measures.append(
            SeedMeasures(
                accuracy={"test": np.ones(n), "decorrelated": np.ones(n)},
                probes={"model": found, "random_init": found},
                sites=[site],
                effects={"causal": swing.copy(), "distractor": moved_d * swing},
                swing=swing,
                patching=np.zeros((1, 6)),
                patch_sites=[site],
                iia={"model": {1: correct(1.0)}, "random_init": {1: correct(0.5)}},
            )
        )
    return measures


def test_the_effects_recover_planted_selectivity_separation_and_iia():
    alike = planted(3, 0.45, 0.45, 0.0)
    gap = analysis.selectivity_gap(alike, 500, study.FAMILY)
    assert abs(gap.estimate) < 0.05 and gap.ci95[0] < 0 < gap.ci95[1]
    apart = analysis.selectivity_gap(planted(3, 0.45, 0.05, 0.0), 500, study.FAMILY)
    assert apart.ci95[0] > 0.3
    sep = analysis.separation(alike, 500, study.FAMILY)
    assert sep.estimate == pytest.approx(1.0) and sep.ci95[0] > 0.95
    used = analysis.separation(planted(3, 0.45, 0.45, 0.8), 500, study.FAMILY)
    assert used.estimate == pytest.approx(0.2)
    iia = analysis.interchange_gain(alike, 500, study.FAMILY)
    assert 0.4 < iia.estimate < 0.6


# ---------------------------------------------------------------- the study end to end


def test_smoke_study_writes_its_outputs_and_gates_an_unlearned_organism(store):
    verdict, run = run_study(study.STUDY, "smoke")
    assert verdict.verdict in VERDICTS and len(verdict.parts) == study.FAMILY
    assert set(verdict.premises) == {study.SOLVES, study.UNUSED, study.PRESENT}
    if not verdict.premises[study.SOLVES].holds:  # 200 steps at width 32 learn little
        assert verdict.verdict == "inconclusive"
    for name in ("probes", "patching", "interventions"):
        assert (run.path / "tables" / f"{name}.csv").is_file()
        assert (run.path / "figures" / f"{name}.png").is_file()
    stored = json.loads((run.path / "verdict.json").read_text())
    assert stored["rule"] == study.RULE and stored["seeds"] == [0, 1]


def test_check_refuses_designs_the_rule_cannot_score():
    with pytest.raises(BadInput, match="2 seeds"):
        study.check(replace(study.smoke(), seeds=(0,)))
    with pytest.raises(BadInput, match="das_ks"):
        study.check(replace(study.smoke(), das_ks=(2, 3)))
    assert study_config(study.STUDY, "quick").seeds == (0, 1, 2)
