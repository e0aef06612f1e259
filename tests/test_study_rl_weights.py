import dataclasses
import math

import numpy as np
import pytest

from regimescope.errors import BadInput
from regimescope.regimes.rl import RLConfig
from regimescope.studies import VERDICTS, Effect, Verdict, run_study
from regimescope.studies import rl_weights as study
from regimescope.studies.base import label_design
from regimescope.studies.premises import REWARD_ROSE
from regimescope.studies.rl_weights import analysis, experiment


def e(low, high, name="x", family=study.FAMILY):
    """A decided part's effect: its family-wise interval is its 95% one (a tight case)."""
    return Effect(name, (low + high) / 2, (low, high), family=family, ci_family=(low, high))


ROSE = study.premises_of(e(0.05, 0.2, "reward rise", family=1))
FLAT = study.premises_of(e(-0.02, 0.03, "reward rise", family=1))
DENSE, SPARSE, MIXED = [e(0.9, 1.0)] * 2, [e(0.1, 0.3)] * 2, [e(0.1, 0.3), e(0.8, 0.9)]
SPARSER, SAME, FULL, LOW = e(0.3, 0.5), e(-0.02, 0.01), e(0.98, 1.0), e(0.1, 0.3)


@pytest.mark.parametrize(
    ("advantage", "rank", "expected"),
    [
        (SPARSER, FULL, "supports"),  # the claim as published, in the paper's own view
        (SAME, FULL, "contradicts"),  # the precision artefact: not sparser at equal drift
        (SPARSER, LOW, "contradicts"),  # sparser, but low rank
        (None, FULL, "inconclusive"),  # drift ranges do not overlap
        (e(0.0, 0.2), FULL, "inconclusive"),  # advantage straddles the margin
    ],
)
def test_decide_reaches_every_verdict(advantage, rank, expected):
    overall, parts = study.decide(advantage, rank, ROSE, bf16=SPARSE)
    assert overall.verdict == expected
    assert parts[study.SPARSE_BF16].verdict == "supports"  # reported, never combined


def test_fp32_density_is_reported_not_decided():
    """v2: dense in fp32 was a decided part that always contradicted; now it is the
    correction, an effect and a sentence, and cannot move the verdict."""
    overall, parts = study.decide(SPARSER, FULL, ROSE, bf16=DENSE)
    assert overall.verdict == "supports"
    assert not any("fp32" in name for name in parts)
    sentence = study.correction(DENSE)
    assert "not decided" in sentence and "AdamW" in sentence
    assert "fp32" not in study.CLAIM and "fp32" in study.CORRECTION


def test_a_failed_reward_premise_gives_inconclusive_not_contradicts():
    """v2: RL that did not raise its reward cannot contradict a claim about RL."""
    overall, parts = study.decide(SAME, LOW, FLAT, self_advantage=SPARSER)
    assert overall.verdict == "inconclusive"
    assert parts[study.EQUAL_DRIFT].verdict == "inconclusive"
    assert "premise failed" in parts[study.RANK].reason
    assert parts[study.SELF_SPARSER].verdict == "supports"  # rests on no RL premise
    assert not study.premises_of(None)[REWARD_ROSE].holds


def test_a_contradiction_needs_the_family_wise_interval():
    """v2: with two decided parts, a 95% interval below the margin whose 97.5% interval is
    not below it leaves the verdict inconclusive (the old combine contradicted)."""
    wide = Effect("advantage", 0.0, (-0.02, 0.04), family=2, ci_family=(-0.03, 0.06))
    overall, parts = study.decide(wide, FULL, ROSE)
    assert parts[study.EQUAL_DRIFT].verdict == "inconclusive"
    assert overall.verdict == "inconclusive"
    uncorrected = dataclasses.replace(SAME, family=1, ci_family=None)
    assert study.decide(uncorrected, FULL, ROSE)[0].verdict == "inconclusive"


def test_part_rules():
    assert study.sparse_rule([]).verdict == "inconclusive"
    assert study.sparse_rule(MIXED).verdict == "inconclusive"
    assert study.sparse_rule(DENSE).verdict == "contradicts"
    assert study.rank_rule(e(0.6, 0.9)).verdict == "inconclusive"
    assert study.overlap_rule([0.1, 0.2]).verdict == "supports"
    assert study.overlap_rule([0.01, -0.015]).verdict == "contradicts"
    assert study.overlap_rule([0.01, 0.2]).verdict == "inconclusive"
    assert study.overlap_rule([]).verdict == "inconclusive"


def test_config_nests_the_rl_template_and_plans_every_run():
    cfg = study.quick()
    plan = experiment.plan(cfg, "base/model")
    assert plan[0] == cfg.base and len(plan) == 1 + 3 * len(cfg.lrs) * len(cfg.seeds)
    rl_runs = [c for c in plan[1:] if isinstance(c, RLConfig)]
    assert sorted({c.lr for c in rl_runs}) == sorted(cfg.lrs)
    assert all(c.steps == cfg.rl.steps and c.model == "base/model" for c in plan[1:])
    assert all(c.recorder.every == 1 for c in rl_runs)  # the premise reads every step's reward
    with pytest.raises(BadInput):
        study.check(dataclasses.replace(cfg, rl=dataclasses.replace(cfg.rl, lr=1e-4)))


def test_quick_is_labelled_a_reduced_design():
    """v2: the study no longer labels itself (the old code said full_design at quick)."""
    blank = Verdict("rl-weights", "c", "inconclusive", "r", "rule", [])
    assert not label_design(blank, study.STUDY, study.quick()).full_design
    assert label_design(blank, study.STUDY, study.full()).full_design


def synthetic(rl_offset: float, seeds: int = 2, tensors: int = 4, spread: float = 0.0):
    """Three regimes, three rates, ``seeds`` identical seeds, equal tensors. Every regime
    changes a share (log10(drift) + 3) / 2 of the parameters, less ``rl_offset`` for RL,
    whose drifts lie inside gold SFT's range (1e-3 .. 1e-1); ``spread`` varies the share
    from tensor to tensor (the same in every seed)."""
    drifts = np.array([[1e-3, 1e-2, 1e-1], [2e-3, 5e-3, 2e-2], [1e-3, 1e-2, 1e-1]])  # (R, L)
    share = (np.log10(drifts) + 3) / 2  # 0, 0.5, 1 at drifts 1e-3, 1e-2, 1e-1
    share[experiment.RL] -= rl_offset
    shape = (3, 3, seeds, tensors)
    tilt = spread * np.linspace(-1, 1, tensors)
    params = np.full(shape, 1000.0)
    changed = (share[:, :, None, None] + tilt) * params
    return experiment.Measured(
        tuned=[],
        result=None,
        lrs=(1e-5, 1e-4, 1e-3),
        tolerances=(),
        cells={
            "fp32": params,
            "bf16": changed,
            "params": params,
            "weight_sq": params,
            "delta_sq": params * (drifts**2)[:, :, None, None],
        },
        rank=np.ones(shape),
        stable=np.ones(shape),
    )


@pytest.mark.parametrize("offset", [0.0, 0.2])
def test_matched_advantage_interpolates_in_log_drift(offset):
    found = analysis.matched_advantage(synthetic(offset), experiment.RL, "bf16", 50, family=2)
    assert found.estimate == pytest.approx(offset)
    assert found.ci95[0] == pytest.approx(offset) and found.ci95[1] == pytest.approx(offset)
    assert found.family == 2 and found.ci_family is not None
    assert "lr 1e-05, 0.0001, 0.001" in found.name  # every RL drift lies in gold's range


def test_matched_advantage_none_outside_the_range():
    m = synthetic(0.0)
    m.cells["delta_sq"][experiment.RL] *= 1e4  # RL drifts 100 times further than any gold run
    assert analysis.matched_advantage(m, experiment.RL, "bf16", resamples=10) is None


def test_seeds_and_tensors_are_resampled_crossed():
    """v2: every seed has the same tensors. With identical seeds the tensors are the only
    noise, so the interval must be as wide as with one seed; the old nested bootstrap
    drew tensors per seed row and shrank it by about 1/sqrt(seeds) (here 1/2)."""

    def width(seeds: int) -> float:
        m = synthetic(0.0, seeds=seeds, tensors=40, spread=0.4)
        found = analysis.bootstrap(m, analysis.one_fraction(m, "bf16", experiment.GOLD, 1), 2000)
        low, high = found.interval()
        return high - low

    assert width(4) / width(1) == pytest.approx(1.0, abs=0.12)


def test_rank_effect_drops_idle_runs_and_matrices():
    values = np.array([[[1.0, np.nan, 0.5]], [[np.nan, np.nan, np.nan]]])  # (L=2, S=1, T=3)
    found = analysis.rank_effect(values, "rank", resamples=20, family=2)
    assert found.estimate == pytest.approx(0.75) and found.family == 2
    assert analysis.rank_effect(np.full((1, 1, 2), np.nan), "rank", 10) is None


@pytest.mark.parametrize(
    ("rewards", "rose"), [(np.linspace(0.0, 0.5, 20), True), ([0.3] * 20, False)]
)
def test_the_reward_premise_reads_every_rl_run(rewards, rose):
    rl_runs = [experiment.Tuned("rl", 1e-4, s, None, {}, None, tuple(rewards)) for s in (0, 1)]
    gold = experiment.Tuned("gold", 1e-4, 0, None, {}, None, ())
    m = dataclasses.replace(synthetic(0.0), tuned=[*rl_runs, gold])
    found = analysis.effects(m, analysis.changed_table(m, 20), 20, study.FAMILY)
    assert found.advantage.family == found.rank.family == study.FAMILY
    assert found.rise.estimate == pytest.approx(np.mean(rewards[-2:]) - np.mean(rewards[:2]))
    assert study.premises_of(found.rise)[REWARD_ROSE].holds is rose


def test_smoke_run_writes_tables_figures_and_a_verdict(store):
    verdict, run = run_study(study.STUDY, "smoke", store=store)
    for table in ("runs", "changed", "ranks", "overlap", "effects", "tensors"):
        assert (run.path / "tables" / f"{table}.csv").is_file()
    for figure in ("changed_vs_drift", "tolerance_sweep", "structure"):
        assert (run.path / "figures" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
    assert verdict.verdict in VERDICTS and not verdict.full_design and verdict.notes
    assert verdict.effects and all(
        math.isfinite(x) for e in verdict.effects for x in (e.estimate, *e.ci95)
    )
    assert set(verdict.parts) >= {study.EQUAL_DRIFT, study.RANK, study.SPARSE_BF16}
    assert set(verdict.premises) == {REWARD_ROSE}
    assert "Correction (reported, not decided)" in verdict.reason
    assert any(e.name.startswith("training reward") for e in verdict.effects)
