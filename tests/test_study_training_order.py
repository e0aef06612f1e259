import itertools

import numpy as np
import pandas as pd
import pytest

from regimescope.errors import BadInput
from regimescope.regimes.multidomain import DOMAINS, domain_task, group_rewards
from regimescope.studies import VERDICTS, run_study, study_config
from regimescope.studies import training_order as study
from regimescope.studies.training_order import analysis
from regimescope.studies.training_order.experiment import CHAINS, ORDERS, chain_label
from regimescope.studies.verdict import Effect, Premise


def e(low, high):
    """An effect of the 4-part verdict; its family-wise interval 0.01 wider each side."""
    return Effect(
        "x", (low + high) / 2, (low, high), family=study.FAMILY, ci_family=(low - 0.01, high + 0.01)
    )


HELD, FAILED = Premise(True, "synthetic"), Premise(False, "synthetic")
GATES = {f"{d}: premise": HELD for d in DOMAINS}
GOOD = {
    "structured_entropy": e(-0.4, -0.1),
    "creative_entropy": e(0.1, 0.3),
    "structured_first": e(0.05, 0.1),
    "ranking": e(0.6, 0.9),
    "creative_score_last": e(0.05, 0.2),
    "creative_entropy_last": e(0.02, 0.1),
}


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        ({}, "supports"),
        ({"creative_entropy": e(-0.3, -0.1)}, "contradicts"),  # creative RL lowered entropy
        ({"structured_entropy": e(0.1, 0.2)}, "contradicts"),
        ({"structured_first": e(-0.2, -0.05)}, "contradicts"),  # joint wins
        ({"ranking": e(-0.5, 0.1)}, "contradicts"),
        ({"creative_score_last": e(-0.2, -0.05)}, "contradicts"),
        ({"creative_entropy_last": e(-0.2, -0.05)}, "contradicts"),
        ({"structured_first": e(-0.01, 0.1)}, "inconclusive"),
        ({"ranking": e(0.1, 0.9)}, "inconclusive"),
        ({"structured_entropy": e(-0.1, -0.02)}, "inconclusive"),  # falls, but not by 5%
    ],
)
def test_decide_reaches_every_verdict(changed, expected):
    overall, parts = study.decide({**GOOD, **changed}, GATES)
    assert overall.verdict == expected and len(parts) == study.FAMILY


def test_a_failed_reward_premise_never_contradicts():
    gates = {**GATES, "creative: premise": FAILED}
    bad = {k: e(-0.9, -0.5) for k in GOOD}
    overall, parts = study.decide(bad, gates)
    assert overall.verdict == "inconclusive"
    assert all(p.verdict == "inconclusive" for p in parts.values())


def test_a_contradiction_judged_at_95_only_is_not_a_family_wise_one():
    narrow = Effect("x", -0.1, (-0.2, -0.01), family=1)  # no family-wise interval
    overall, parts = study.decide({**GOOD, "structured_first": narrow}, GATES)
    assert parts[study.PARTS[1]].verdict == "contradicts" and overall.verdict == "inconclusive"


# ---------------------------------------------------------------- analysis on planted data


def planted_measures(seeds=3, problems=12, forget=0.4, noise=0.02, seed=0) -> pd.DataFrame:
    """Scores made by an additive model: each domain gains 0.3 from its own stage; training
    any other domain after it removes ``forget`` of the creative score and nothing else;
    joint training gains 0.2 everywhere. Entropy: structured stages halve their domain's
    entropy, the creative stage raises creative entropy by half."""
    rng = np.random.default_rng(seed)
    base = {d: 0.3 for d in DOMAINS}
    h0 = {d: 1.0 for d in DOMAINS}
    rows = []

    for d in DOMAINS:
        for p in range(problems):
            rows.append(
                {
                    "model": "base",
                    "seed": -1,
                    "stage": 0,
                    "domain": d,
                    "problem": p,
                    "score": base[d] + rng.normal(0, noise),
                    "h": 10 * h0[d],
                    "n": 10.0,
                }
            )
    for s in range(seeds):
        for chain in [*CHAINS, ("joint",)]:
            for d in DOMAINS:
                score, h = base[d], h0[d]
                if chain == ("joint",):
                    score += 0.2
                elif d in chain:
                    score += 0.3
                    after = chain[chain.index(d) + 1 :]
                    if d == "creative":
                        score -= forget * len(after) / 2
                        h *= 1.5
                    else:
                        h *= 0.5
                for p in range(problems):
                    rows.append(
                        {
                            "model": chain_label(chain),
                            "seed": s,
                            "stage": len(chain),
                            "domain": d,
                            "problem": p,
                            "score": score + rng.normal(0, noise),
                            "h": 10 * h,
                            "n": 10.0,
                        }
                    )
    return pd.DataFrame(rows)


def test_analysis_recovers_planted_forgetting_entropy_and_order_effects():
    d = analysis.draws(planted_measures(), resamples=300)
    effects = study.measure_effects(d)
    assert effects["structured_entropy"].estimate == pytest.approx(-0.5)
    assert effects["creative_entropy"].estimate == pytest.approx(0.5)
    assert effects["creative_score_last"].estimate == pytest.approx(0.4, abs=0.02)
    assert effects["creative_score_last"].ci95[0] > 0.3
    table = analysis.transfer_table(d).set_index("order")
    # creative first, then two stages that each remove 0.2: BWT over the two earlier tasks
    assert table.loc["creative>strings>countdown", "bwt"] == pytest.approx(-0.2, abs=0.02)
    assert table.loc["strings>countdown>creative", "bwt"] == pytest.approx(0.0, abs=0.02)
    assert np.allclose(table.predicted, table.measured, atol=0.03)  # additive by construction
    pairwise = analysis.pairwise_table(d).set_index(["on", "then_trained"]).transfer
    assert pairwise[("creative", "strings")] == pytest.approx(-0.2, abs=0.02)
    assert pairwise[("strings", "creative")] == pytest.approx(0.0, abs=0.02)


def test_joint_beating_every_order_gives_a_negative_structured_first_gain():
    m = planted_measures(forget=0.0)
    m.loc[m.model == "joint", "score"] += 0.5
    d = analysis.draws(m, resamples=200)
    assert analysis.structured_first_gain(d, 4).ci95[1] < 0


def test_group_rewards_use_the_creative_group_and_exact_verifiers_elsewhere():
    creative = domain_task("creative")
    example = next(
        creative.example(i) for i in range(50) if creative.example(i).meta["mode"] == "+"
    )
    assert group_rewards(creative, example, [example.target] * 2) == [0.5, 0.5]
    strings = domain_task("strings")
    ex = strings.example(0)
    assert group_rewards(strings, ex, [ex.target, "junk"]) == [1.0, 0.0]


# ---------------------------------------------------------------- end to end


def test_orders_and_chains_cover_every_prefix_once():
    assert len(ORDERS) == 6 and len(CHAINS) == 15
    assert set(CHAINS) == {o[:k] for o in itertools.permutations(DOMAINS) for k in (1, 2, 3)}


def test_smoke_study_writes_its_outputs(tmp_path):
    verdict, folder = run_study(study.STUDY, "smoke", store=tmp_path / "runs")
    assert verdict.verdict in VERDICTS and set(verdict.parts) == set(study.PARTS)
    for name in ("measures", "models", "transfer", "pairwise", "curves"):
        assert (folder.path / "tables" / f"{name}.csv").is_file()
    for name in ("entropy", "orders"):
        assert (folder.path / "figures" / f"{name}.png").is_file()
    transfer = pd.read_csv(folder.path / "tables" / "transfer.csv")
    assert len(transfer) == 6 and transfer.measured.between(0, 1).all()


def test_check_refuses_designs_the_rule_cannot_score():
    with pytest.raises(BadInput):
        study_config(study.STUDY, "smoke", seeds=1)
    with pytest.raises(BadInput):
        study_config(study.STUDY, "smoke", sets=["samples=1"])
