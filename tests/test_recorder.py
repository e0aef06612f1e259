"""The training-dynamics recorder's statistics on constructed inputs (regimes/recorder.py)."""

import math

import pytest
import torch
from torch.testing import assert_close

from regimescope.organisms import build_organism, preset
from regimescope.regimes.recorder import (
    Recorder,
    RecorderConfig,
    changed_fractions,
    entropy_by_class,
    format_stats,
    grad_norm,
    kl_exact,
    layer_of,
    reward_stats,
    should_log,
    snapshot,
    update_ratios,
    weight_norms,
)


@pytest.fixture
def organism():
    model, _ = build_organism(preset("nano"), seed=0)
    return model


def test_entropy_overall_and_per_class():
    entropy = torch.tensor([[1.0, 2.0, 3.0, 9.0], [4.0, 5.0, 6.0, 9.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 0]])  # the 9s are padding
    classes = torch.tensor([[0, 1, -1, 0], [0, 3, 2, 0]])  # plan exec - | plan answer format
    stats = entropy_by_class(entropy, mask, classes)
    assert stats == {
        "entropy": 3.5,  # all six counted tokens, unlabelled included
        "entropy/plan": 2.5,
        "entropy/exec": 2.0,
        "entropy/format": 6.0,
        "entropy/answer": 5.0,
    }
    assert entropy_by_class(entropy, torch.zeros_like(mask), classes) == {}


def test_exact_kl_to_start():
    p, q = torch.tensor([0.5, 0.25, 0.25]), torch.tensor([0.25, 0.5, 0.25])
    logits, ref = p.log()[None, None], q.log()[None, None]  # (1, 1, 3)
    expected = 0.5 * math.log(2) + 0.25 * math.log(0.5)
    assert_close(kl_exact(logits, ref), torch.tensor([[expected]]))
    assert_close(kl_exact(logits + 3.0, logits), torch.zeros(1, 1))  # shift-invariant


def test_reward_and_format_statistics():
    assert reward_stats([1.0, 0.0, 0.0, 1.0]) == {"reward": 0.5, "accuracy": 0.5}
    assert reward_stats([0.25, 0.75]) == {"reward": 0.5, "accuracy": 0.5}
    formats = ["code", "code", "nl", None, "code"]
    rewards = [1.0, 0.0, 1.0, 0.0, 1.0]
    stats = format_stats(formats, rewards, ("code", "nl", "tagged"))
    assert stats == {
        "format_share/code": 0.6,
        "format_share/nl": 0.2,
        "format_share/tagged": 0.0,
        "format_share/none": 0.2,
        "format_acc/code": pytest.approx(2 / 3),
        "format_acc/nl": 1.0,
        "format_acc/none": 0.0,
    }
    assert format_stats(formats, rewards, ()) == {}


def test_layer_names():
    assert layer_of("model.layers.3.mlp.up_proj.weight") == "layer_3"
    assert layer_of("model.embed_tokens.weight") == "embed"
    assert layer_of("model.norm.weight") == "norm"
    assert layer_of("lm_head.weight") == "lm_head"
    assert layer_of("transformer.h.11.attn.c_attn.weight") == "layer_11"
    assert layer_of("transformer.wte.weight") == "embed"


def test_update_ratio_per_layer(organism):
    model = organism
    before = snapshot(model)
    with torch.no_grad():
        weight = model.model.layers[1].mlp.up_proj.weight
        weight.add_(0.01 * weight)  # a 1% update on one matrix of layer 1
    ratios = update_ratios(before, model)
    layer1 = [n for n in before if layer_of(n) == "layer_1"]
    norm1 = math.sqrt(sum(before[n].pow(2).sum().item() for n in layer1))
    expected = 0.01 * before["model.layers.1.mlp.up_proj.weight"].norm().item() / norm1
    assert ratios["update_ratio/layer_1"] == pytest.approx(expected, rel=1e-4)
    assert ratios["update_ratio/layer_0"] == 0.0 and ratios["update_ratio/embed"] == 0.0


def test_changed_fraction_fp32_versus_bf16(organism):
    model = organism
    start = snapshot(model)
    total = sum(w.numel() for w in start.values())
    with torch.no_grad():
        w = model.model.layers[0].self_attn.q_proj.weight  # (32, 32): 1024 entries
        w[0].mul_(1.0 + 2.0**-20)  # far below bf16's resolution: changes fp32 only
        w[1].add_(torch.sign(w[1]) * w[1].abs().clamp(min=1e-3))  # doubles: changes both
    stats = changed_fractions(start, model)
    nonzero0 = (start["model.layers.0.self_attn.q_proj.weight"][0] != 0).sum().item()
    assert stats["changed_fp32"] == pytest.approx((nonzero0 + 32) / total)
    assert stats["changed_bf16"] == pytest.approx(32 / total)


def test_weight_norms_add_up(organism):
    stats = weight_norms(organism)
    layers = [v for k, v in stats.items() if k.startswith("weight_norm/")]
    assert stats["weight_norm"] == pytest.approx(math.sqrt(sum(v * v for v in layers)))
    total = math.sqrt(sum(p.pow(2).sum().item() for p in organism.parameters()))
    assert stats["weight_norm"] == pytest.approx(total)
    assert {"weight_norm/embed", "weight_norm/layer_0", "weight_norm/norm"} <= set(stats)


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
