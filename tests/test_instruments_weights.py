"""Per-layer weight statistics and changed fractions of a live model (instruments/weights.py,
instruments/param_names.layer_of, instruments/precision.changed_fractions)."""

import math

import pytest
import torch

from regimescope.instruments.param_names import layer_of
from regimescope.instruments.precision import (
    Workspace,
    changed_fractions,
    prepare_base,
    tuned_panel,
)
from regimescope.instruments.weights import by_layer, update_ratios, weight_norms
from regimescope.organisms import build_organism, preset


@pytest.fixture
def organism():
    model, _ = build_organism(preset("nano"), seed=0)
    return model


def start_copy(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_layer_names():
    assert layer_of("model.layers.3.mlp.up_proj.weight") == "layer_3"
    assert layer_of("model.embed_tokens.weight") == "embed"
    assert layer_of("model.norm.weight") == "norm"
    assert layer_of("lm_head.weight") == "lm_head"
    assert layer_of("transformer.h.11.attn.c_attn.weight") == "layer_11"
    assert layer_of("transformer.wte.weight") == "embed"
    assert layer_of("encoder.block.2.layer.0.SelfAttention.q.weight") == "layer_2"  # T5
    assert by_layer([("model.layers.0.a.weight", 1.0), ("lm_head.weight", 2.0)]) == {
        "layer_0": 1.0,
        "lm_head": 2.0,
    }


def test_update_ratio_per_layer(organism):
    model = organism
    before = start_copy(model)
    with torch.no_grad():
        weight = model.model.layers[1].mlp.up_proj.weight
        weight.add_(0.01 * weight)  # a 1% update on one matrix of layer 1
    ratios = update_ratios(before, model)
    layer1 = [n for n in before if layer_of(n) == "layer_1"]
    norm1 = math.sqrt(sum(before[n].pow(2).sum().item() for n in layer1))
    expected = 0.01 * before["model.layers.1.mlp.up_proj.weight"].norm().item() / norm1
    assert ratios["update_ratio/layer_1"] == pytest.approx(expected, rel=1e-4)
    assert ratios["update_ratio/layer_0"] == 0.0 and ratios["update_ratio/embed"] == 0.0


def test_weight_norms_add_up(organism):
    stats = weight_norms(organism)
    layers = [v for k, v in stats.items() if k.startswith("weight_norm/")]
    assert stats["weight_norm"] == pytest.approx(math.sqrt(sum(v * v for v in layers)))
    total = math.sqrt(sum(p.pow(2).sum().item() for p in organism.parameters()))
    assert stats["weight_norm"] == pytest.approx(total)
    assert {"weight_norm/embed", "weight_norm/layer_0", "weight_norm/norm"} <= set(stats)


def test_changed_fraction_fp32_versus_bf16(organism):
    model = organism
    start = start_copy(model)
    total = sum(w.numel() for w in start.values())
    with torch.no_grad():
        w = model.model.layers[0].self_attn.q_proj.weight  # (32, 32): 1024 entries
        w[0].mul_(1.0 + 2.0**-20)  # far below bf16's resolution: changes fp32 only
        w[1].add_(torch.sign(w[1]) * w[1].abs().clamp(min=1e-3))  # doubles: changes both
    stats = changed_fractions(start, model)
    nonzero0 = (start["model.layers.0.self_attn.q_proj.weight"][0] != 0).sum().item()
    assert stats["changed_fp32"] == pytest.approx((nonzero0 + 32) / total)
    assert stats["changed_bf16"] == pytest.approx(32 / total)


def test_changed_fractions_agree_with_the_diff_panel_on_finite_weights():
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(4096, generator=generator)
    scale = torch.rand(4096, generator=generator) * 2.0**-6  # updates from far below to above
    tuned = base + base.abs() * scale * (torch.rand(4096, generator=generator) > 0.3)
    tuned[:8] = -base[:8]  # sign flips
    model = torch.nn.Linear(4096, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(tuned[None])
    stats = changed_fractions({"weight": base[None]}, model)
    space = Workspace(4096, 1)
    space.base[:], space.tuned[:] = base.numpy(), tuned.numpy()
    counts = tuned_panel(space, 4096, space.delta, (), space.masks[0], prepare_base(space, 4096))
    assert 0 < counts.changed_bf16 < counts.changed_fp32 < 4096
    assert stats == {
        "changed_fp32": counts.changed_fp32 / 4096,
        "changed_bf16": counts.changed_bf16 / 4096,
    }
