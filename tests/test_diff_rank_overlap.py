"""Rank figures on constructed deltas, mask overlap against a hand computation, name parsing."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import save_file

from regimescope.instruments.diff import DiffConfig, diff_checkpoints
from regimescope.instruments.overlap import chance_jaccard, chance_overlap_min, overlap_figures
from regimescope.instruments.param_names import layer_index, module_kind
from regimescope.instruments.rank import RankConfig, rank_figures


def low_rank(rows: int, cols: int, rank: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, rank, generator=g) @ torch.randn(
        rank, cols, generator=g
    )  # (rows, cols)


def test_low_rank_and_full_rank_deltas():
    f = rank_figures(low_rank(60, 40, 3))
    assert (f.method, f.rank, f.full_rank, f.rank_lower_bound) == ("exact", 3, 40, False)
    assert f.rank_fraction == pytest.approx(3 / 40)
    assert 1 <= f.stable_rank <= 3 and 1 <= f.effective_rank <= 3
    full = rank_figures(torch.randn(60, 40, generator=torch.Generator().manual_seed(1)))
    assert full.rank == 40 and full.rank_fraction == 1.0
    assert full.stable_rank > 5 * f.stable_rank


def test_known_spectrum_gives_known_figures():
    sigma = torch.tensor([4.0, 2.0, 2.0, 0.0])
    q1, _ = torch.linalg.qr(torch.randn(6, 4, generator=torch.Generator().manual_seed(2)))
    q2, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(3)))
    delta = q1 @ torch.diag(sigma) @ q2.T  # (6, 4) with singular values 4, 2, 2, 0
    f = rank_figures(delta, RankConfig(top_r=1))
    assert f.rank == 3
    assert f.stable_rank == pytest.approx(24 / 16, rel=1e-5)  # (16 + 4 + 4) / 16
    assert f.top_r_energy == pytest.approx(16 / 24, rel=1e-5)
    p = torch.tensor([0.5, 0.25, 0.25])  # σ / Σσ
    assert f.effective_rank == pytest.approx(math.exp(float(-(p * p.log()).sum())), rel=1e-5)


def test_equal_singular_values_have_effective_rank_k_and_zero_delta_has_rank_zero():
    f = rank_figures(torch.eye(5))
    assert f.effective_rank == pytest.approx(5.0) and f.stable_rank == pytest.approx(5.0)
    zero = rank_figures(torch.zeros(4, 3))
    assert (zero.rank, zero.stable_rank, zero.effective_rank, zero.top_r_energy) == (
        0,
        None,
        None,
        None,
    )


def test_randomized_estimate_finds_low_rank_and_bounds_full_rank():
    cfg = RankConfig(method="randomized", exact_max=16, sketch=20, top_r=2)
    exact = rank_figures(low_rank(300, 200, 5, seed=4), RankConfig(top_r=2))
    est = rank_figures(low_rank(300, 200, 5, seed=4), cfg)
    assert (est.method, est.rank, est.rank_lower_bound) == ("randomized", 5, False)
    assert est.stable_rank == pytest.approx(exact.stable_rank, rel=1e-4)
    assert est.top_r_energy == pytest.approx(exact.top_r_energy, rel=1e-4)
    assert est.effective_rank == pytest.approx(exact.effective_rank, rel=1e-3)  # no tail left
    noise = torch.randn(300, 200, generator=torch.Generator().manual_seed(5))
    bound = rank_figures(noise, cfg)
    assert bound.rank == 20 and bound.rank_lower_bound and bound.effective_rank is None
    assert bound.stable_rank == pytest.approx(rank_figures(noise).stable_rank, rel=0.05)
    small = rank_figures(low_rank(12, 10, 2), cfg)  # smaller side <= exact_max: stays exact
    assert small.method == "exact"


def test_chance_formulas():
    assert chance_jaccard(0.2, 0.5) == pytest.approx(0.1 / 0.6)
    assert chance_overlap_min(0.2, 0.5) == 0.5
    assert math.isnan(chance_overlap_min(0.0, 0.5)) and math.isnan(chance_jaccard(0.0, 0.0))


def test_independent_random_masks_meet_chance():
    g = torch.Generator().manual_seed(6)
    n = 200_000
    a, b = torch.rand(n, generator=g) < 0.1, torch.rand(n, generator=g) < 0.3
    inter = int((a & b).sum())
    f = overlap_figures(n, int(a.sum()), int(b.sum()), inter, int(a.sum()) * int(b.sum()) / n)
    assert f["jaccard"] == pytest.approx(f["chance_jaccard"], rel=0.03)
    assert f["overlap_min"] == pytest.approx(f["chance_overlap_min"], rel=0.03)


def test_overlap_of_tuned_runs_against_a_hand_computation(tmp_path):
    # x (10 elements), y (20): run A changes x[0:4], y[0:2]; run B changes x[2:6], y[10:20]
    base = {"x": torch.zeros(10), "y": torch.zeros(20)}
    a = {"x": base["x"].clone(), "y": base["y"].clone()}
    b = {"x": base["x"].clone(), "y": base["y"].clone()}
    a["x"][0:4] = 1.0
    a["y"][0:2] = 1.0
    b["x"][2:6] = 1.0
    b["y"][10:20] = 1.0
    for name, tensors in (("base", base), ("a", a), ("b", b)):
        save_file(tensors, tmp_path / f"{name}.safetensors")
    cfg = DiffConfig(rank=RankConfig(method="none"), chunk_elements=1024)
    result = diff_checkpoints(
        tmp_path / "base.safetensors", [tmp_path / "a.safetensors", tmp_path / "b.safetensors"], cfg
    )
    fp32 = next(r for r in result.overlap if r["view"] == "fp32")
    # |A| = 6, |B| = 14, |A∩B| = 2 (x[2:4]), n = 30, |A∪B| = 18
    assert (fp32["params"], fp32["changed_a"], fp32["changed_b"], fp32["intersection"]) == (
        30,
        6,
        14,
        2,
    )
    assert fp32["jaccard"] == pytest.approx(2 / 18)
    assert fp32["overlap_min"] == pytest.approx(2 / 6)
    p, q = 6 / 30, 14 / 30
    assert fp32["chance_jaccard"] == pytest.approx(p * q / (p + q - p * q))
    assert fp32["chance_overlap_min"] == pytest.approx(14 / 30)
    expected = 4 * 4 / 10 + 2 * 10 / 20  # Σ_t a_t b_t / n_t
    assert fp32["chance_overlap_min_by_tensor"] == pytest.approx(expected / 6)
    assert fp32["chance_jaccard_by_tensor"] == pytest.approx(expected / (6 + 14 - expected))
    bf16 = next(r for r in result.overlap if r["view"] == "bf16")
    assert bf16["intersection"] == 2  # changes of 1.0 show in bf16 too


@pytest.mark.parametrize(
    ("name", "kind", "layer"),
    [
        ("model.layers.0.self_attn.q_proj.weight", "attn_q", 0),
        ("model.layers.12.self_attn.k_proj.bias", "attn_k", 12),
        ("model.layers.3.self_attn.v_proj.weight", "attn_v", 3),
        ("model.layers.3.self_attn.o_proj.weight", "attn_o", 3),
        ("model.layers.3.self_attn.q_norm.weight", "norm", 3),
        ("model.layers.1.post_attention_layernorm.weight", "norm", 1),
        ("model.layers.1.mlp.gate_proj.weight", "mlp", 1),
        ("model.layers.1.block_sparse_moe.experts.7.w2.weight", "mlp", 1),
        ("model.embed_tokens.weight", "embedding", None),
        ("lm_head.weight", "embedding", None),
        ("model.norm.weight", "norm", None),
        ("transformer.wte.weight", "embedding", None),
        ("transformer.wpe.weight", "embedding", None),
        ("transformer.h.5.attn.c_attn.weight", "attn_qkv", 5),
        ("transformer.h.5.attn.c_proj.weight", "attn_o", 5),
        ("transformer.h.5.mlp.c_fc.weight", "mlp", 5),
        ("transformer.h.5.mlp.c_proj.bias", "mlp", 5),
        ("transformer.h.5.ln_1.weight", "norm", 5),
        ("transformer.ln_f.weight", "norm", None),
        ("gpt_neox.layers.2.attention.query_key_value.weight", "attn_qkv", 2),
        ("gpt_neox.layers.2.attention.dense.weight", "attn_o", 2),
        ("gpt_neox.layers.2.mlp.dense_h_to_4h.weight", "mlp", 2),
        ("gpt_neox.embed_in.weight", "embedding", None),
        ("embed_out.weight", "embedding", None),
        ("gpt_neox.final_layer_norm.weight", "norm", None),
        ("transformer.h.0.self_attention.dense.weight", "attn_o", 0),
        ("model.rotary_emb.inv_freq", "other", None),
        ("score.weight", "other", None),
    ],
)
def test_module_kind_and_layer_from_names(name, kind, layer):
    assert (module_kind(name), layer_index(name)) == (kind, layer)
