"""The training-dynamics recorder on constructed inputs (regimes/recorder.py); the statistics
it records are tested with their instruments (tests/test_instruments_*.py)."""

import math

import pytest
import torch

from regimescope.organisms import build_organism, preset
from regimescope.regimes.recorder import (
    Recorder,
    RecorderConfig,
    grad_norm,
    reward_stats,
    should_log,
)


@pytest.fixture
def organism():
    model, _ = build_organism(preset("nano"), seed=0)
    return model


def test_reward_statistics():
    assert reward_stats([1.0, 0.0, 0.0, 1.0]) == {"reward": 0.5, "accuracy": 0.5}
    assert reward_stats([0.25, 0.75]) == {"reward": 0.5, "accuracy": 0.5}


def test_grad_norm_and_recorder_switches(organism):
    model = organism
    model.zero_grad(set_to_none=True)
    assert grad_norm(model) == 0.0
    model(
        input_ids=torch.tensor([[1, 5, 6, 7]]), labels=torch.tensor([[1, 5, 6, 7]])
    ).loss.backward()
    by_hand = math.sqrt(sum(p.grad.pow(2).sum().item() for p in model.parameters()))
    assert grad_norm(model) == pytest.approx(by_hand)
    model.zero_grad(set_to_none=True)

    quiet = Recorder(RecorderConfig(update_ratio=False, changed=False, weight_norms=False), model)
    quiet.before_step(model)
    assert quiet.start is None and quiet.weight_stats(model) == {}
    full = Recorder(RecorderConfig(), model)
    full.before_step(model)
    stats = full.weight_stats(model)
    assert stats["changed_fp32"] == 0.0 and stats["update_ratio/layer_0"] == 0.0
    assert "update_ratio/layer_0" not in full.weight_stats(model)  # snapshot used once


def test_should_log():
    assert [s for s in range(1, 26) if should_log(s, 25, 10)] == [10, 20, 25]
