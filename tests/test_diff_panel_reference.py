"""The vectorised precision panel against a plain element-by-element reference.

Random chunks with planted NaN and inf, |Δ| exactly at each tolerance, weights exactly on
bf16 rounding ties, signed zeros and subnormals. The reference follows the definitions in
``precision.py`` one element at a time, in Python numbers, with the bf16 rounding written
out (round to nearest, ties to even; NaN to 0xFFFF as torch's cast).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from regimescope.instruments.diff import DiffConfig, diff_checkpoints
from regimescope.instruments.precision import PanelCounts, Workspace, prepare_base, tuned_panel
from regimescope.instruments.rank import RankConfig

TOLS = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3)


def bf16_pattern(x: np.float32) -> int:
    """bf16 bit pattern of one fp32 value: keep the top 16 bits, round to nearest even."""
    if math.isnan(x):
        return 0xFFFF
    bits = int(np.float32(x).view(np.uint32))
    upper, lower = bits >> 16, bits & 0xFFFF
    if lower > 0x8000 or (lower == 0x8000 and upper & 1):
        upper += 1
    return upper & 0xFFFF


def half_ulp(w: np.float32) -> float:
    exponent = (int(np.float32(w).view(np.uint32)) >> 23) & 0xFF
    return 2.0 ** (max(exponent, 1) - 135)


def reference(base: np.ndarray, tuned: np.ndarray) -> tuple[dict, list, list]:
    """(figures, fp32 mask, bf16 mask), one element at a time."""
    fig = dict.fromkeys(("fp32", "bf16", "invisible", "nonfinite"), 0)
    fig["atol"], fig["delta_sq"], fig["weight_sq"] = [0] * len(TOLS), 0.0, 0.0
    mask32, mask16 = [], []
    for w, v in zip(base.tolist(), tuned.tolist(), strict=True):
        w, v = np.float32(w), np.float32(v)
        with np.errstate(invalid="ignore", over="ignore"):
            delta = np.float32(v - w)  # Δ as fp32 arithmetic gives it
        changed = bool(delta != 0)  # NaN != 0
        a, b = bf16_pattern(w), bf16_pattern(v)
        changed16 = a != b and not (a & 0x7FFF == 0 and b & 0x7FFF == 0)  # +0 = −0
        mask32.append(changed)
        mask16.append(changed16)
        fig["fp32"] += changed
        fig["bf16"] += changed16
        for k, tol in enumerate(TOLS):  # τ as an fp32 number, as torch.isclose takes it
            fig["atol"][k] += bool(math.isnan(delta) or abs(float(delta)) > float(np.float32(tol)))
        fig["invisible"] += changed and abs(float(delta)) < half_ulp(w)
        fig["nonfinite"] += not (math.isfinite(w) and math.isfinite(v))
        fig["delta_sq"] += float(delta) ** 2 if math.isfinite(delta) else 0.0
        fig["weight_sq"] += float(w) ** 2 if math.isfinite(w) else 0.0
    return fig, mask32, mask16


def planted_chunk(n: int, seed: int, finite: bool) -> tuple[np.ndarray, np.ndarray]:
    """Base and tuned fp32 chunks of n elements with every awkward case planted."""
    rng = np.random.default_rng(seed)
    base = (rng.standard_normal(n) * 0.02).astype(np.float32)
    tuned = base.copy()
    moved = rng.random(n) < 0.4
    scale = 10.0 ** rng.integers(-10, -1, n)  # |Δ| from 1e-10 to 1e-2
    tuned[moved] += (rng.standard_normal(n) * scale).astype(np.float32)[moved]
    i = iter(rng.permutation(n).tolist())
    for tol in TOLS:  # |Δ| exactly fp32(τ), on zero weights (0 + τ is exact)
        for sign in (1, -1):
            j = next(i)
            base[j], tuned[j] = 0.0, sign * np.float32(tol)
    ties = np.array([0x3F808000, 0x3F818000, 0xBC238000, 0x3C248000], np.uint32)
    for tie in ties.view(np.float32):  # on a bf16 tie: even-upper and odd-upper patterns
        for step in (0, 1, -1):  # stay, move one fp32 ulp up (rounds up), down
            j = next(i)
            base[j] = tie
            tuned[j] = np.nextafter(tie, np.float32(np.inf * step)) if step else tie
    for w, v in ((0.0, -0.0), (1e-45, -1e-45), (2e-39, 3e-39), (0.0, 1e-45), (-0.0, 0.0)):
        j = next(i)
        base[j], tuned[j] = np.float32(w), np.float32(v)
    if not finite:
        inf, nan = np.float32(np.inf), np.float32(np.nan)
        odd_nan = np.array([0x7FC00123], np.uint32).view(np.float32)[0]
        cases = [(inf, inf), (nan, nan), (0.5, inf), (-inf, inf), (0.5, nan), (nan, odd_nan)]
        cases += [(3e38, -3e38), (inf, 0.25)]  # Δ overflows to −inf; a weight back from inf
        for w, v in cases:
            j = next(i)
            base[j], tuned[j] = np.float32(w), np.float32(v)
    return base, tuned


@pytest.mark.parametrize("finite", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fused_panel_equals_the_element_by_element_reference(seed, finite):
    base, tuned = planted_chunk(3000, seed, finite)
    n = base.size
    space = Workspace(n, 1)
    space.base[:], space.tuned[:] = base, tuned
    weight_sq = prepare_base(space, n)
    counts = tuned_panel(space, n, space.delta[:n], TOLS, space.masks[0, :, :n], weight_sq)
    fig, mask32, mask16 = reference(base, tuned)
    assert counts.params == n
    assert counts.changed_fp32 == fig["fp32"] and counts.changed_cast == fig["fp32"]
    assert counts.changed_bf16 == fig["bf16"]
    assert list(counts.changed_atol) == fig["atol"]
    assert counts.invisible_pred == fig["invisible"]
    assert counts.nonfinite == fig["nonfinite"] and (fig["nonfinite"] > 0) == (not finite)
    assert space.masks[0, 0, :n].tolist() == mask32
    assert space.masks[0, 1, :n].tolist() == mask16
    assert counts.delta_sq == pytest.approx(fig["delta_sq"], rel=1e-4)
    assert counts.weight_sq == pytest.approx(fig["weight_sq"], rel=1e-4)


def test_reference_bf16_rounding_is_torchs():
    base, tuned = planted_chunk(3000, 5, finite=True)
    values = np.concatenate([base, tuned])
    torch_bits = torch.from_numpy(values).bfloat16().view(torch.int16).numpy().view(np.uint16)
    assert [bf16_pattern(x) for x in values.tolist()] == torch_bits.tolist()


def test_streamed_totals_and_overlap_equal_the_reference_across_chunks(tmp_path):
    """Small chunks on two workers, two tuned checkpoints: every total and intersection."""
    base, tuned = planted_chunk(6000, 7, finite=False)
    _, tuned2 = planted_chunk(6000, 8, finite=False)
    tuned2[: base.size // 2] = tuned[: base.size // 2]  # share half the changes
    shape = (60, 100)
    for name, values in (("base", base), ("a", tuned), ("b", tuned2)):
        save_file(
            {"model.layers.0.mlp.up_proj.weight": torch.from_numpy(values).view(shape)},
            tmp_path / f"{name}.safetensors",
        )
    config = DiffConfig(
        tolerances=TOLS, rank=RankConfig(method="none"), chunk_elements=1024, workers=2
    )
    result = diff_checkpoints(
        tmp_path / "base.safetensors",
        [tmp_path / "a.safetensors", tmp_path / "b.safetensors"],
        config,
    )
    masks = []
    for run, values in zip(result.runs, (tuned, tuned2), strict=True):
        fig, mask32, mask16 = reference(base, values)
        counts = run.tensors[0].counts
        assert isinstance(counts, PanelCounts)
        assert (counts.changed_fp32, counts.changed_bf16) == (fig["fp32"], fig["bf16"])
        assert list(counts.changed_atol) == fig["atol"]
        assert (counts.invisible_pred, counts.nonfinite) == (fig["invisible"], fig["nonfinite"])
        masks.append((mask32, mask16))
    for row in result.overlap:
        view = 0 if row["view"] == "fp32" else 1
        both = sum(a and b for a, b in zip(masks[0][view], masks[1][view], strict=True))
        assert row["intersection"] == both
