import math

import numpy as np
import pytest

from regimescope.studies import VERDICTS, Effect, run_study
from regimescope.studies import rl_weights as study
from regimescope.studies import rl_weights_effects as effects
from regimescope.studies import rl_weights_parts as parts


def e(low, high, name="x"):
    return Effect(name, (low + high) / 2, (low, high))


DENSE, SPARSE, MIXED = [e(0.9, 1.0)] * 2, [e(0.1, 0.3)] * 2, [e(0.1, 0.3), e(0.8, 0.9)]
SPARSER, SAME, FULL, LOW = e(0.3, 0.5), e(-0.02, 0.01), e(0.98, 1.0), e(0.1, 0.3)


@pytest.mark.parametrize(
    ("fp32", "advantage", "rank", "expected"),
    [
        (SPARSE, SPARSER, FULL, "supports"),  # the claim as published, in fp32
        (DENSE, SAME, FULL, "contradicts"),  # the precision artefact: dense, not sparser
        (SPARSE, SPARSER, LOW, "contradicts"),  # sparse but low rank
        (MIXED, SPARSER, FULL, "inconclusive"),  # sparse at some rates only
        (SPARSE, None, FULL, "inconclusive"),  # drift ranges do not overlap
        (SPARSE, e(0.0, 0.2), FULL, "inconclusive"),  # advantage straddles the margin
    ],
)
def test_decide_reaches_every_verdict(fp32, advantage, rank, expected):
    overall, decided = study.decide(fp32, SPARSE, advantage, None, None, rank, [])
    assert overall.verdict == expected
    assert decided[study.SPARSE_BF16].verdict == "supports"  # reported, never combined


def test_part_rules():
    assert study.sparse_rule([]).verdict == "inconclusive"
    assert study.rank_rule(e(0.6, 0.9)).verdict == "inconclusive"
    assert study.overlap_rule([0.1, 0.2]).verdict == "supports"
    assert study.overlap_rule([0.01, -0.015]).verdict == "contradicts"
    assert study.overlap_rule([0.01, 0.2]).verdict == "inconclusive"
    assert study.overlap_rule([]).verdict == "inconclusive"


def synthetic(rl_offset: float) -> parts.Measured:
    """Three regimes, three rates, two seeds, four equal tensors. Every regime changes a share
    (log10(drift) + 3) / 2 of the parameters, less `rl_offset` for RL, whose drifts lie
    inside gold SFT's range (1e-3 .. 1e-1)."""
    drifts = np.array([[1e-3, 1e-2, 1e-1], [2e-3, 5e-3, 2e-2], [1e-3, 1e-2, 1e-1]])  # (R, L)
    share = (np.log10(drifts) + 3) / 2  # 0, 0.5, 1 at drifts 1e-3, 1e-2, 1e-1
    share[parts.RL] -= rl_offset
    shape = (3, 3, 2, 4)
    params = np.full(shape, 1000.0)
    changed = share[:, :, None, None] * params
    return parts.Measured(
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
    effect = effects.matched_advantage(synthetic(offset), parts.RL, "bf16", resamples=50)
    assert effect.estimate == pytest.approx(offset)
    assert effect.ci95[0] == pytest.approx(offset) and effect.ci95[1] == pytest.approx(offset)
    assert "lr 1e-05, 0.0001, 0.001" in effect.name  # every RL drift lies in gold's range


def test_matched_advantage_none_outside_the_range():
    m = synthetic(0.0)
    m.cells["delta_sq"][parts.RL] *= 1e4  # RL drifts 100 times further than any gold run
    assert effects.matched_advantage(m, parts.RL, "bf16", resamples=10) is None


def test_rank_effect_drops_idle_runs_and_matrices():
    values = np.array([[[1.0, np.nan, 0.5]], [[np.nan, np.nan, np.nan]]])  # (L=2, S=1, T=3)
    effect = effects.rank_effect(values, "rank", resamples=20)
    assert effect.estimate == pytest.approx(0.75)
    assert effects.rank_effect(np.full((1, 1, 2), np.nan), "rank", 10) is None


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
    assert set(verdict.parts) >= {study.SPARSE_FP32, study.SPARSE_BF16}
