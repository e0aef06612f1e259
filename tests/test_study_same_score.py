import numpy as np
import pandas as pd
import pytest
import torch

from regimescope.errors import BadInput
from regimescope.regimes.modular import ModularRunConfig
from regimescope.studies import VERDICTS, Effect, run_study, study_config
from regimescope.studies import same_score as study
from regimescope.studies.same_score import analysis, experiment, generalisation
from regimescope.studies.verdict import Premise


def e(low, high):
    """An effect of the 3-part verdict; its family-wise interval 0.01 wider each side."""
    return Effect(
        "x", (low + high) / 2, (low, high), family=study.FAMILY, ci_family=(low - 0.01, high + 0.01)
    )


HELD, FAILED = Premise(True, "synthetic"), Premise(False, "synthetic")
APART, NONE, UNSURE = e(0.4, 0.7), e(-0.3, -0.1), e(0.05, 0.3)


SPREAD, TIGHT = e(0.2, 0.35), e(-0.02, 0.01)  # part B: OOD spread beyond ID, or none


@pytest.mark.parametrize(
    ("effects", "premise", "expected"),
    [
        ((APART, APART, e(0.1, 0.2), SPREAD), HELD, "supports"),
        ((NONE, APART, e(0.1, 0.2), SPREAD), HELD, "contradicts"),
        ((APART, APART, e(-0.2, -0.05), SPREAD), HELD, "contradicts"),
        ((APART, APART, e(0.1, 0.2), TIGHT), HELD, "contradicts"),  # no hidden spread
        ((APART, UNSURE, e(0.1, 0.2), SPREAD), HELD, "inconclusive"),
        ((NONE, NONE, e(-0.2, -0.05), SPREAD), FAILED, "inconclusive"),  # scores differ
    ],
)
def test_decide_reaches_every_verdict(effects, premise, expected):
    overall, parts = study.decide(*effects, premise=premise, premise_b=HELD)
    assert overall.verdict == expected and len(parts) == study.FAMILY


def test_each_premise_gates_only_its_own_part():
    overall, parts = study.decide(APART, APART, e(0.1, 0.2), TIGHT, HELD, FAILED)
    assert overall.verdict == "inconclusive" and parts[study.PART_B].verdict == "inconclusive"
    assert parts["symmetricity differs by α"].verdict == "supports"
    _, parts = study.decide(NONE, APART, e(0.1, 0.2), SPREAD, FAILED, HELD)
    assert parts[study.PART_B].verdict == "supports"
    assert parts["symmetricity differs by α"].verdict == "inconclusive"


def test_part_b_spread_counts_seeds_not_prompt_noise():
    """Eight seeds alike in distribution (0.98) but from 0.2 to 0.9 where the shortcut is
    wrong: the spread gap is their sd (0.245); seeds alike in both give a gap near 0."""
    rng = np.random.default_rng(0)

    def rows(shares):
        return np.stack([(rng.random(400) < p).astype(float) for p in shares])

    spread = {"test": rows([0.98] * 8), "conflict": rows(np.linspace(0.2, 0.9, 8))}
    gap = generalisation.spread_gap(spread, np.arange(8), 400, study.FAMILY)
    assert 0.2 < gap.estimate < 0.3 and gap.ci95[0] > study.SPREAD_GAP
    alike = {"test": rows([0.98] * 8), "conflict": rows([0.6] * 8)}
    flat = generalisation.spread_gap(alike, np.arange(8), 400, study.FAMILY)
    assert abs(flat.estimate) < 0.05 and flat.ci95[1] < study.SPREAD_GAP
    assert list(generalisation.in_band({"test": rows([0.99, 0.5, 0.97])}, 0.95)) == [0, 2]


def models(values: dict[float, list[float]], column="symmetricity") -> pd.DataFrame:
    rows = [
        {"alpha": a, "seed": s, column: v, "test_accuracy": 1.0}
        for a, vs in values.items()
        for s, v in enumerate(vs)
    ]
    return pd.DataFrame(rows)


def test_group_gap_is_the_difference_of_group_means_with_a_seed_interval():
    frame = models({0.0: [0.95, 0.97, 0.99], 1.0: [0.3, 0.5, 0.4]})
    gap = analysis.group_gap(frame, "symmetricity", 0.0, 1.0, 500, family=1)
    assert gap.estimate == pytest.approx(0.97 - 0.4)
    assert 0.4 < gap.ci95[0] < gap.estimate < gap.ci95[1] < 0.75
    same = analysis.group_gap(
        models({0.0: [0.4, 0.6, 0.5], 1.0: [0.5, 0.4, 0.6]}), "symmetricity", 0.0, 1.0, 500, 1
    )
    assert same.ci95[0] < 0 < same.ci95[1]


def planted_states(shared_within: bool) -> dict:
    """Residual states of 3 seeds x 2 α: with ``shared_within``, the models of one α share
    a representation up to noise; otherwise every model is its own random basis."""
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((64, 8))
    bases = {a: rng.standard_normal((8, 16)) for a in (0.0, 1.0)}
    states = {}
    for a in (0.0, 1.0):
        for s in range(3):
            basis = bases[a] if shared_within else rng.standard_normal((8, 16))
            states[(a, s)] = torch.tensor(inputs @ basis + 0.1 * rng.standard_normal((64, 16)))
    return states


def test_cka_gap_finds_planted_groups_and_nothing_where_none_are():
    grouped = analysis.cka_gap(analysis.cka_table(planted_states(True)), (0.0, 1.0), 300, 1)
    assert grouped.ci95[0] > 0.1
    mixed = analysis.cka_gap(analysis.cka_table(planted_states(False)), (0.0, 1.0), 300, 1)
    assert mixed.ci95[0] < 0.05 < grouped.ci95[0]


def test_cka_gap_never_counts_a_model_against_itself():
    """Unrelated models: a resample that draws one seed twice would add a pair with CKA 1
    (by identity) to the within-group mean in most resamples and lift the upper bound far
    above 0; those pairs are left out, so the interval stays near 0."""
    unrelated = analysis.cka_gap(analysis.cka_table(planted_states(False)), (0.0, 1.0), 300, 1)
    assert unrelated.ci95[0] > -0.1 and unrelated.ci95[1] < 0.1


def test_models_of_different_alpha_never_share_a_start():
    cfg = study.quick()
    runs = [r for r in experiment.plan(cfg) if isinstance(r, ModularRunConfig)]
    assert len(runs) == len(cfg.alphas) * len(cfg.seeds)
    assert len({(r.seed, r.data_seed) for r in runs}) == len(runs)
    shortcut = experiment.plan(cfg)[len(runs) :]
    assert [r.loop.seed for r in shortcut] == list(cfg.shortcut.seeds)


def test_the_design_is_checked_before_anything_runs():
    with pytest.raises(BadInput, match="alphas must include"):
        study_config(study.STUDY, "quick", sets=["alphas=0.5,1.0"])
    with pytest.raises(BadInput, match="2 seeds"):
        study_config(study.STUDY, "quick", seeds=1)


def test_smoke_run_writes_tables_figures_and_a_verdict(store):
    verdict, run = run_study(study.STUDY, "smoke", store=store)
    assert verdict.verdict in VERDICTS and len(verdict.parts) == study.FAMILY
    for table in ("models", "summary", "cka_pairs", "shortcut"):
        assert (run.path / "tables" / f"{table}.csv").is_file()
    for figure in study.outputs.CAPTIONS:
        assert (run.path / "figures" / f"{figure}.png").is_file()
