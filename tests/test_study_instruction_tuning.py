import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from regimescope.regimes.pretrain import PretrainConfig
from regimescope.regimes.sft import SFTConfig
from regimescope.studies import VERDICTS, Effect, run_study, study_config
from regimescope.studies.instruction_tuning import (
    COMPARABLE_MARGIN,
    FAMILY,
    PRIMARY_SPLIT,
    RANDOM_MARGIN,
    SEEN_MARGIN,
    SEEN_RULES,
    SEEN_SPLIT,
    STUDY,
    UNTUNED_GAIN,
    decide,
    full,
    quick,
    smoke,
    transfer_kind,
)
from regimescope.studies.instruction_tuning.analysis import Scores
from regimescope.studies.instruction_tuning.experiment import plan, tuning_run
from regimescope.studies.verdict import equivalence_rule


def effect(low, high, wide=None):
    """A decided effect as ``analysis`` builds it: family FAMILY, its wide interval given."""
    return Effect("x", (low + high) / 2, (low, high), "fraction", FAMILY, wide or (low, high))


GAIN, AT_RANDOM, SAME = effect(0.25, 0.35), effect(-0.02, 0.02), effect(-0.01, 0.01)
LEARNED, NOT_LEARNED = Effect("seen", 0.3, (0.2, 0.4)), Effect("seen", 0.0, (-0.02, 0.02))


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ((GAIN, AT_RANDOM, SAME, SAME), "supports"),
        ((GAIN, effect(0.10, 0.20), SAME, SAME), "contradicts"),  # the task transferred
        ((effect(-0.2, -0.1), AT_RANDOM, SAME, SAME), "contradicts"),  # worse than untuned
        ((GAIN, AT_RANDOM, effect(-0.30, -0.15), SAME), "contradicts"),  # simplified much worse
        ((GAIN, AT_RANDOM, SAME, effect(0.06, 0.12)), "contradicts"),  # delusive differs
        ((effect(0.02, 0.08), AT_RANDOM, SAME, SAME), "inconclusive"),  # gain too small to tell
        ((GAIN, effect(-0.01, 0.09), SAME, SAME), "inconclusive"),  # interval crosses the margin
    ],
)
def test_decide_reaches_every_verdict(inputs, expected):
    overall, parts, premises = decide(*inputs, seen_task=LEARNED)
    assert overall.verdict == expected
    assert len(parts) == FAMILY and all(p.verdict in VERDICTS for p in parts.values())
    assert premises[SEEN_RULES].holds


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ((GAIN, AT_RANDOM, SAME, SAME), "inconclusive"),  # would support: only the labels learned
        ((GAIN, effect(0.10, 0.20), SAME, SAME), "inconclusive"),  # would contradict
        ((effect(-0.2, -0.1), AT_RANDOM, SAME, SAME), "contradicts"),  # part 1 is not gated
    ],
)
def test_unlearned_seen_rules_gate_parts_2_to_4(inputs, expected):
    overall, parts, premises = decide(*inputs, seen_task=NOT_LEARNED)
    assert overall.verdict == expected
    assert not premises[SEEN_RULES].holds
    gated = [name for name, d in parts.items() if d.reason.startswith("premise failed")]
    assert set(gated) == set(parts) - {"tuned beats untuned"}


def test_thresholds_are_ordered():
    assert 0 < RANDOM_MARGIN < UNTUNED_GAIN and 0 < COMPARABLE_MARGIN < UNTUNED_GAIN
    assert 0 < SEEN_MARGIN < UNTUNED_GAIN


def test_a_part_contradicting_at_95_but_not_family_wise_does_not_contradict():
    """v2 multiplicity: (0.06, 0.10) lies outside ±0.05 at 95%, but the 98.75% interval
    (0.04, 0.12) does not; the old rule (95% for the contradicting branch) contradicted."""
    outside_at_95 = effect(0.06, 0.10, wide=(0.04, 0.12))
    overall, parts, _ = decide(GAIN, outside_at_95, SAME, SAME, seen_task=LEARNED)
    assert parts["tuned at random in label space"].verdict == "inconclusive"
    assert overall.verdict == "inconclusive"
    old = replace(outside_at_95, family=1, ci_family=None)
    assert equivalence_rule(old, RANDOM_MARGIN).verdict == "contradicts"
    outside_family_wise = effect(0.06, 0.10, wide=(0.055, 0.12))
    assert decide(GAIN, outside_family_wise, SAME, SAME, LEARNED)[0].verdict == "contradicts"


def synthetic_scores(seen_learned: bool, seeds=2, rules=100, instances=50) -> pd.DataFrame:
    """Bench-shaped rows. Tuned models answer a valid label that ignores the input (EM is
    a coin with 1/|labels|), on every split unless ``seen_learned``: then the original
    model answers the seen rules (``test``) right. The untuned model answers off the
    label space."""
    rng = np.random.default_rng(0)
    random = 1.0 / rng.choice([2, 3], size=rules)  # 1/|labels| per rule
    rows = []
    cells = [("untuned", 0)] + [(c, 4) for c in ("original", "simplified", "empty", "delusive")]
    for seed in range(seeds):
        for condition, per_rule in cells:
            for split in (SEEN_SPLIT, PRIMARY_SPLIT):
                rule = np.repeat(np.arange(rules), instances)
                chance = random[rule]
                valid = np.full(rule.size, float(condition != "untuned"))
                em = valid * (rng.random(rule.size) < chance)
                if seen_learned and condition == "original" and split == SEEN_SPLIT:
                    em = valid
                keys = {"seed": seed, "condition": condition, "per_rule": per_rule}
                frame = pd.DataFrame({"split": split, "rule": rule, "em": em, "valid": valid})
                rows.append(frame.assign(**keys, random=chance, problem=np.arange(rule.size)))
    scores = pd.concat(rows, ignore_index=True)
    return scores.assign(task=scores.em - scores.valid * scores.random)


def decided_on(scores: pd.DataFrame) -> tuple[dict[str, Effect], Effect]:
    """The four decided effects and the seen rules' task component, as ``run`` builds them."""
    found = Scores(scores, resamples=1000)
    seen = found.task_component("original", SEEN_SPLIT, 4)
    return found.decided(PRIMARY_SPLIT, 4, family=FAMILY), seen


def test_a_model_that_learned_only_the_label_set_is_inconclusive():
    """v2 premise (audit defect 11): the old rule (no gate) supported here, trivially."""
    decided, seen = decided_on(synthetic_scores(seen_learned=False))
    overall, parts, premises = decide(**decided, seen_task=seen)
    assert seen.ci95[1] < SEEN_MARGIN and not premises[SEEN_RULES].holds
    assert overall.verdict == "inconclusive"
    assert parts["tuned beats untuned"].verdict == "supports"
    assert decide(**decided, seen_task=LEARNED)[0].verdict == "supports"  # the old rule


def test_a_model_that_learned_the_seen_rules_can_support():
    decided, seen = decided_on(synthetic_scores(seen_learned=True))
    overall, _, premises = decide(**decided, seen_task=seen)
    assert premises[SEEN_RULES].holds and overall.verdict == "supports"


def test_decided_effects_are_built_for_the_family_of_four():
    found = Scores(synthetic_scores(seen_learned=True), resamples=1000)
    for e in found.decided(PRIMARY_SPLIT, 4, family=FAMILY).values():
        assert e.family == FAMILY == 4
        assert e.ci_family[0] <= e.ci95[0] and e.ci95[1] <= e.ci_family[1]


def test_intervals_resample_rules_once_for_all_seeds():
    """v2 crossed bootstrap: three seeds that scored every rule the same carry no more
    information about rules than one; the old bootstrap (rules drawn per seed) narrowed
    the interval by about 1/sqrt(3)."""
    one = synthetic_scores(seen_learned=False, seeds=1)
    three = pd.concat([one.assign(seed=s) for s in range(3)], ignore_index=True)

    def width(scores):
        low, high = Scores(scores, 2000).vs_random("original", PRIMARY_SPLIT, 4).ci95
        return high - low

    assert 0.85 < width(three) / width(one) < 1.15


@pytest.mark.parametrize(
    ("task", "validity", "expected"),
    [
        (effect(0.10, 0.20), effect(0.0, 0.1), "task"),
        (effect(-0.02, 0.03), effect(0.8, 0.95), "output space"),
        (effect(-0.02, 0.03), effect(0.0, 0.2), "neither"),
        (effect(-0.02, 0.09), effect(0.8, 0.95), "undecided"),
    ],
)
def test_transfer_kind(task, validity, expected):
    assert transfer_kind(task, validity) == expected


def test_sweep_sets_examples_per_rule():
    cfg = quick()
    sft_cfg = tuning_run(cfg.sft, "base", "simplified", 32, 0, 203)
    assert sft_cfg.steps * sft_cfg.batch_size >= 32 * 203 > (sft_cfg.steps - 1) * sft_cfg.batch_size
    assert sft_cfg.prompt_mode == "simplified"
    assert full().per_rule[0] == quick().per_rule[0] < 5  # the paper's low-resource point


def test_plan_lists_each_seeds_base_then_its_tuning_runs():
    cfg = study_config(STUDY, "quick", seeds=2, sets=["sft.lr=0.0003"])
    runs = plan(cfg)
    assert len(runs) == 2 * (1 + 4 * len(cfg.per_rule))
    bases = [r for r in runs if isinstance(r, PretrainConfig)]
    assert [b.seed for b in bases] == [0, 1] and isinstance(runs[0], PretrainConfig)
    tuned = [r for r in runs if isinstance(r, SFTConfig)]
    assert {r.lr for r in tuned} == {0.0003} and {r.prompt_mode for r in tuned} >= {"delusive"}


def test_smoke_run_end_to_end(store):
    verdict, run = run_study(STUDY, "smoke", store=store)
    assert verdict.verdict in VERDICTS
    assert not verdict.full_design and verdict.notes
    assert all(
        math.isfinite(e.estimate) and all(map(math.isfinite, e.ci95)) for e in verdict.effects
    )
    assert set(verdict.parts) == set(decide(GAIN, AT_RANDOM, SAME, SAME, LEARNED)[1])
    assert set(verdict.premises) == {SEEN_RULES}
    assert [e.family for e in verdict.effects[:4]] == [FAMILY] * 4
    for table in ("problems", "summary", "where"):
        assert (run.path / "tables" / f"{table}.csv").is_file()
    assert (run.path / "figures" / "transfer.png").is_file()
    captions = json.loads((run.path / "figures" / "captions.json").read_text())
    assert captions["transfer"]
    assert smoke().seeds == tuple(verdict.seeds)
