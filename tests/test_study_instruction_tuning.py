import json
import math

import pytest

from regimescope.studies import VERDICTS, Effect, run_study
from regimescope.studies.instruction_tuning import (
    COMPARABLE_MARGIN,
    RANDOM_MARGIN,
    STUDY,
    UNTUNED_GAIN,
    decide,
    full,
    quick,
    smoke,
    transfer_kind,
    tuning_config,
)


def effect(low, high):
    return Effect("x", (low + high) / 2, (low, high))


GAIN, AT_RANDOM, SAME = effect(0.25, 0.35), effect(-0.02, 0.02), effect(-0.01, 0.01)


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
    overall, parts = decide(*inputs)
    assert overall.verdict == expected
    assert len(parts) == 4 and all(p.verdict in VERDICTS for p in parts.values())


def test_thresholds_are_ordered():
    assert 0 < RANDOM_MARGIN < UNTUNED_GAIN and 0 < COMPARABLE_MARGIN < UNTUNED_GAIN


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
    sft_cfg = tuning_config(cfg, "base", "simplified", 32, 0, 203)
    assert sft_cfg.steps * sft_cfg.batch_size >= 32 * 203 > (sft_cfg.steps - 1) * sft_cfg.batch_size
    assert sft_cfg.prompt_mode == "simplified"
    assert full().per_rule[0] == quick().per_rule[0] < 5  # the paper's low-resource point


def test_smoke_run_end_to_end(store):
    verdict, run = run_study(STUDY, "smoke", store=store)
    assert verdict.verdict in VERDICTS
    assert not verdict.full_design and verdict.notes
    assert all(
        math.isfinite(e.estimate) and all(map(math.isfinite, e.ci95)) for e in verdict.effects
    )
    assert set(verdict.parts) == set(decide(GAIN, AT_RANDOM, SAME, SAME)[1])
    for table in ("problems", "summary", "where"):
        assert (run.path / "tables" / f"{table}.csv").is_file()
    assert (run.path / "figures" / "transfer.png").is_file()
    captions = json.loads((run.path / "figures" / "captions.json").read_text())
    assert captions["transfer"]
    assert smoke().seeds == tuple(verdict.seeds)
