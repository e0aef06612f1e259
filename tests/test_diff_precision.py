"""The precision panel: hand-built pairs with known masks, and parity with plain torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from regimescope.instruments.diff import DiffConfig, diff_checkpoints
from regimescope.instruments.precision import (
    PanelCounts,
    Workspace,
    half_bf16_ulp,
    prepare_base,
    tuned_panel,
)
from regimescope.instruments.rank import RankConfig

TOLS = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3)
NO_RANK = DiffConfig(tolerances=TOLS, rank=RankConfig(method="none"))


def panel_of(base: torch.Tensor, tuned: torch.Tensor, tolerances=TOLS) -> PanelCounts:
    """Run the kernel on one chunk holding all of ``base`` / ``tuned`` (1-D fp32)."""
    n = base.numel()
    space = Workspace(n, 1)
    space.base[:] = base.numpy()
    space.tuned[:] = tuned.numpy()
    weight_sq = prepare_base(space, n)
    return tuned_panel(space, n, space.delta[:n], tolerances, space.masks[0, :, :n], weight_sq)


def bf16_grid(n: int, seed: int = 0) -> torch.Tensor:
    """Weights exactly representable in bf16 (centres of their rounding cells)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, generator=g) * 0.05).bfloat16().float()


def test_half_ulp_per_binade_zero_and_subnormal():
    w = np.array([1.0, 1.5, 0.02, -0.02, 2.0**-126, 1e-40, 0.0, -0.0], np.float32)
    expected = [2**-8, 2**-8, 2**-14, 2**-14, 2**-134, 2**-134, 2**-134, 2**-134]
    assert half_bf16_ulp(w).tolist() == expected


def test_known_masks_large_tiny_and_unchanged():
    # 300 weights on the bf16 grid; 100 get a large update, 100 an update below half an ulp
    base = bf16_grid(300)
    delta = torch.zeros(300)
    delta[:100] = 5e-3 * torch.sign(torch.randn(100, generator=torch.Generator().manual_seed(1)))
    half_ulp = torch.from_numpy(half_bf16_ulp(base.numpy()))
    delta[100:200] = 0.25 * half_ulp[100:200]  # invisible in bf16, visible in fp32
    tuned = base + delta
    assert torch.equal(tuned - base != 0, delta != 0)  # the fp32 sums kept every update
    counts = panel_of(base, tuned)
    assert counts.params == 300
    assert counts.changed_fp32 == 200
    assert counts.changed_bf16 == 100  # only the large updates survive the bf16 cast
    assert counts.invisible_pred == 100  # prediction = measurement on cell centres
    d = (tuned - base).abs()
    assert counts.changed_atol == tuple(int((d > t).sum()) for t in TOLS)
    assert counts.changed_atol[-1] == 100  # 5e-3 > 1e-3, the tiny ones are not
    assert counts.delta_sq == pytest.approx(float((tuned - base).double().pow(2).sum()), rel=1e-5)
    assert counts.weight_sq == pytest.approx(float(base.double().pow(2).sum()), rel=1e-5)


def test_prediction_matches_measurement_on_cell_centres_and_is_a_median_off_them():
    base = bf16_grid(20_000, seed=3)
    ulp = 2 * torch.from_numpy(half_bf16_ulp(base.numpy()))
    away = torch.sign(base) * ulp  # away from zero: at a power of two the cell below is narrower
    for fraction, invisible in ((0.3, True), (0.45, True), (0.55, False), (2.0, False)):
        c = panel_of(base, base + fraction * away)
        measured = (c.changed_fp32 - c.changed_bf16) / c.changed_fp32
        predicted = c.invisible_pred / c.changed_fp32
        assert measured == predicted == (1.0 if invisible else 0.0), fraction
    # off the grid, w is uniform in its cell: P(invisible) = 1 - |Δ|/ulp, prediction 1 or 0
    g = torch.Generator().manual_seed(4)
    spread = base + (torch.rand(20_000, generator=g) - 0.5) * 0.99 * ulp
    spread_ulp = 2 * torch.from_numpy(half_bf16_ulp(spread.numpy()))
    c = panel_of(spread, spread + 0.25 * spread_ulp)
    assert c.invisible_pred == c.changed_fp32
    assert (c.changed_fp32 - c.changed_bf16) / c.changed_fp32 == pytest.approx(0.75, abs=0.03)


def test_signed_zeros_and_bf16_underflow_count_as_values():
    base = torch.tensor([0.0, 0.0, 0.0, 1.0])
    tuned = torch.tensor([-0.0, -1e-45, 1e-30, 1.0])
    c = panel_of(base, tuned)
    assert c.changed_fp32 == 2  # -0 == +0; the subnormal and 1e-30 are changes
    assert c.changed_bf16 == 1  # -1e-45 rounds to bf16 -0, equal to +0; 1e-30 survives
    assert c.invisible_pred == 1  # |Δ| = 1.4e-45 < 2^-134; 1e-30 is far above


def test_nonfinite_weights_are_counted_and_kept_out_of_norms():
    base = torch.tensor([1.0, float("nan"), float("inf"), 2.0])
    tuned = torch.tensor([1.5, float("nan"), float("inf"), 2.0])
    c = panel_of(base, tuned)
    assert c.nonfinite == 2
    assert c.changed_fp32 == 3  # NaN - NaN and inf - inf are NaN: counted as changed
    assert c.delta_sq == pytest.approx(0.25)
    assert c.weight_sq == pytest.approx(5.0)
    assert c.changed_atol[-1] == 3


def test_streamed_diff_equals_plain_torch_at_any_chunk_size(tmp_path):
    g = torch.Generator().manual_seed(5)
    base = {
        "a.weight": torch.randn(67, 45, generator=g) * 0.02,
        "b.bias": torch.randn(300, generator=g),
    }
    base["a.weight"][3, :10] = 0.0
    tuned = {}
    for name, w in base.items():
        scale = torch.logspace(-9, -2, w.numel()).reshape(w.shape)  # every decade of |Δ|
        keep = torch.rand(w.shape, generator=g) < 0.6
        tuned[name] = w + scale * torch.randn(w.shape, generator=g) * keep
    save_file(base, tmp_path / "base.safetensors")
    save_file(tuned, tmp_path / "tuned.safetensors")
    results = [
        diff_checkpoints(
            tmp_path / "base.safetensors",
            [tmp_path / "tuned.safetensors"],
            DiffConfig(
                tolerances=TOLS,
                rank=RankConfig(method="none"),
                chunk_elements=chunk,
                workers=workers,
            ),
        )
        for chunk, workers in ((1024, 1), (1024, 3), (1 << 19, 2))
    ]
    for t in results[0].runs[0].tensors:
        w, w2 = base[t.name].flatten(), tuned[t.name].flatten()
        d = w2 - w
        assert t.counts.changed_fp32 == int((d != 0).sum())
        assert t.counts.changed_bf16 == int((w.bfloat16() != w2.bfloat16()).sum())
        for k, tol in enumerate(TOLS):
            assert t.counts.changed_atol[k] == int(
                (~torch.isclose(d, torch.zeros_like(d), atol=tol, rtol=0)).sum()
            )
    for other in results[1:]:
        for t, u in zip(results[0].runs[0].tensors, other.runs[0].tensors, strict=True):
            assert (t.counts.changed_fp32, t.counts.changed_bf16, t.counts.changed_atol) == (
                u.counts.changed_fp32,
                u.counts.changed_bf16,
                u.counts.changed_atol,
            )
            assert t.counts.delta_sq == pytest.approx(u.counts.delta_sq, rel=1e-5)


def test_bf16_stored_tuned_is_compared_as_fp32(tmp_path):
    base = {"w": torch.randn(40, 8) * 0.02}
    save_file(base, tmp_path / "base.safetensors")
    save_file({"w": base["w"].bfloat16()}, tmp_path / "tuned.safetensors")
    result = diff_checkpoints(
        tmp_path / "base.safetensors", [tmp_path / "tuned.safetensors"], NO_RANK
    )
    t = result.runs[0].tensors[0]
    assert t.dtype == "F32->BF16"
    assert t.counts.changed_bf16 == 0  # the cast is the only change: invisible in bf16
    assert t.counts.changed_fp32 == int((base["w"].bfloat16().float() != base["w"]).sum())
