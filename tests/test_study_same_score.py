import numpy as np
import pandas as pd
import pytest
import torch

from regimescope.errors import BadInput
from regimescope.regimes.modular import ModularRunConfig
from regimescope.studies import VERDICTS, Effect, run_study, study_config
from regimescope.studies import same_score as study
from regimescope.studies.same_score import analysis, costs, experiment, generalisation
from regimescope.studies.verdict import Premise


def e(low, high):
    """An effect of the verdict's family; its family-wise interval 0.01 wider each side."""
    return Effect(
        "x", (low + high) / 2, (low, high), family=study.FAMILY, ci_family=(low - 0.01, high + 0.01)
    )


HELD, FAILED = Premise(True, "synthetic"), Premise(False, "synthetic")
APART, NONE, UNSURE = e(0.4, 0.7), e(-0.3, -0.1), e(0.05, 0.3)


SPREAD, TIGHT = e(0.2, 0.35), e(-0.02, 0.01)  # part B: OOD spread beyond ID, or none
COSTLY = (e(0.05, 0.1), e(0.1, 0.4), e(0.06, 0.2))  # part C: ECE up, EAD down, AOC down


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
    overall, parts = study.decide(
        *effects, *COSTLY, premise=premise, premise_b=HELD, premise_c=HELD
    )
    assert overall.verdict == expected and len(parts) == study.FAMILY


@pytest.mark.parametrize(
    ("cost", "expected"),
    [
        (e(0.1, 0.3), "supports"),  # the cost clears its margin (0.02, 0.05, 0.05)
        (e(-0.3, -0.1), "contradicts"),  # it went the other way
        (e(-0.02, 0.3), "inconclusive"),  # straddles
        (e(0.005, 0.015), "inconclusive"),  # moved the claim's way, below every margin
    ],
)
@pytest.mark.parametrize("metric", sorted(study.PART_C))
def test_each_cost_of_part_c_reaches_every_verdict(metric, cost, expected):
    found = dict(zip(("ece", "diversity", "aoc"), COSTLY, strict=True)) | {metric: cost}
    a_and_b = (APART, APART, e(0.1, 0.2), SPREAD)
    overall, parts = study.decide(*a_and_b, **found, premise=HELD, premise_b=HELD, premise_c=HELD)
    assert parts[study.PART_C[metric]].verdict == expected
    assert overall.verdict == expected
    _, gated = study.decide(*a_and_b, **found, premise=HELD, premise_b=HELD, premise_c=FAILED)
    assert all(gated[name].verdict == "inconclusive" for name in study.PART_C.values())
    assert gated[study.PART_B].verdict == "supports"


def test_each_premise_gates_only_its_own_part():
    overall, parts = study.decide(APART, APART, e(0.1, 0.2), TIGHT, *COSTLY, HELD, FAILED, HELD)
    assert overall.verdict == "inconclusive" and parts[study.PART_B].verdict == "inconclusive"
    assert parts["symmetricity differs by α"].verdict == "supports"
    assert parts[study.PART_C["ece"]].verdict == "supports"
    _, parts = study.decide(NONE, APART, e(0.1, 0.2), SPREAD, *COSTLY, FAILED, HELD, HELD)
    assert parts[study.PART_B].verdict == "supports"
    assert parts["symmetricity differs by α"].verdict == "inconclusive"


def readings(before: dict, after: dict, seeds=2, problems=60, seed=0) -> pd.DataFrame:
    """Per-(seed, step, problem) readings of part C drawn around the given means: step 0
    with ``before``, step 100 with ``after`` (confidence c, greedy correct with
    probability q; accuracy, diversity and aoc with noise)."""
    rng = np.random.default_rng(seed)
    rows = []
    for step, means in ((0, before), (100, after)):
        for s in range(seeds):
            for p in range(problems):
                rows.append(
                    {
                        "seed": s,
                        "step": step,
                        "problem": p,
                        "accuracy": float(rng.random() < means["accuracy"]),
                        "diversity": means["diversity"] + rng.normal(0, 0.05),
                        "confidence": means["confidence"],
                        "greedy_correct": float(rng.random() < means["q"]),
                        "aoc": means["aoc"] + rng.normal(0, 0.05),
                    }
                )
    return pd.DataFrame(rows)


def test_part_c_effects_measure_the_planted_costs_and_none_where_none_are():
    """Base: confidence 0.5 at accuracy 0.5 (calibrated); RL: confidence 0.9 at 0.6 (ECE
    about 0.3 higher), EAD 1.0 -> 0.7 (a 30% fall), AOC 0.6 -> 0.3; a run that changes
    nothing gives changes near 0 with intervals around them."""
    base = {"accuracy": 0.2, "diversity": 1.0, "confidence": 0.5, "q": 0.5, "aoc": 0.6}
    tuned = {"accuracy": 0.6, "diversity": 0.7, "confidence": 0.9, "q": 0.6, "aoc": 0.3}
    found = costs.effects(readings(base, tuned), 10, 300, study.FAMILY)
    assert found["accuracy"].ci95[0] > 0.2
    assert found["ece"].ci95[0] > study.ECE_RISE and 0.15 < found["ece"].estimate < 0.45
    assert found["diversity"].estimate == pytest.approx(0.3, abs=0.03)
    assert found["aoc"].estimate == pytest.approx(0.3, abs=0.03)
    assert study.gained(found["accuracy"]).holds
    flat = costs.effects(readings(base, base, seed=1), 10, 300, study.FAMILY)
    for metric in ("accuracy", "diversity", "aoc"):
        low, high = flat[metric].ci95
        assert low < 0.02 and high > -0.02 and abs(flat[metric].estimate) < 0.05
    assert not study.gained(flat["accuracy"]).holds and abs(flat["ece"].estimate) < 0.1


def test_early_answering_reads_the_scratchpad_and_its_answer():
    assert costs.split_answer("plan 3*5+7\n3*5=15\n15+7=22\nans 22") == (
        "plan 3*5+7\n3*5=15\n15+7=22",
        "22",
    )
    assert costs.split_answer("plan 3*5+7\n3*5=15") is None  # no answer line
    assert costs.split_answer("ans 22") is None  # no scratchpad before it
    assert costs.read_answer("-4\njunk") == "-4" and costs.read_answer("x") is None


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
    shortcut = experiment.first_runs(cfg)[len(runs) :]
    assert [r.loop.seed for r in shortcut] == list(cfg.shortcut.seeds)


def test_part_c_trains_exactly_study_2s_runs():
    from regimescope.studies import rl_catalyst

    for scale in ("smoke", "quick", "full"):
        ours = study_config(study.STUDY, scale).costs
        theirs = study_config(rl_catalyst.STUDY, scale)
        placeholder = "(model of the seed-{} base)"
        expected = rl_catalyst.experiment.plan(theirs)
        assert costs.plan(ours) == expected, scale
        assert [costs.rl_run(ours, s, placeholder.format(s)) for s in ours.seeds] == [
            rl_catalyst.experiment.rl_run(theirs, s, placeholder.format(s)) for s in theirs.seeds
        ]


def test_the_design_is_checked_before_anything_runs():
    with pytest.raises(BadInput, match="alphas must include"):
        study_config(study.STUDY, "quick", sets=["alphas=0.5,1.0"])
    with pytest.raises(BadInput, match="2 seeds"):
        study_config(study.STUDY, "quick", seeds=1)


def test_smoke_run_writes_tables_figures_and_a_verdict(store):
    verdict, run = run_study(study.STUDY, "smoke", store=store)
    assert verdict.verdict in VERDICTS and len(verdict.parts) == study.FAMILY
    for table in ("models", "summary", "cka_pairs", "shortcut", "costs", "cost_curves"):
        assert (run.path / "tables" / f"{table}.csv").is_file()
    for figure in study.outputs.CAPTIONS:
        assert (run.path / "figures" / f"{figure}.png").is_file()


def test_a_store_running_study_2_and_same_score_trains_part_c_once():
    from regimescope.executor.plans import merged, study_plan
    from regimescope.studies import rl_catalyst

    ours = study_plan("same-score", study_config(study.STUDY, "quick"))
    theirs = study_plan("rl-catalyst", study_config(rl_catalyst.STUDY, "quick"))
    both = merged([theirs, ours])
    assert len(both.first) == len(ours.first)  # study 2's base is one of ours
    models = {base: f"model {i}" for i, base in enumerate(both.first)}
    assert both.then(models) == theirs.then(models) == ours.then(models)
