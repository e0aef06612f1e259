"""What changed between two chunks of weights, under every precision view at once.

For base weights w and tuned weights w' (both read as fp32) and Δ = w' − w, a chunk of
n elements gives counts (units: numbers of elements; fractions are taken later):

- ``changed_fp32``  = #{Δ ≠ 0}. This is a value comparison, so −0 equals +0; a Δ that is
  NaN (from inf or NaN weights) counts as changed.
- ``changed_bf16``  = #{bf16(w) ≠ bf16(w')}, where bf16 rounds to nearest, ties to even
  (torch ``.to(torch.bfloat16)``). This is the view of arXiv 2505.11711, whose code
  loads both checkpoints in bf16. Values are compared, so ±0 are equal; non-finite weights
  are compared bitwise.
- ``changed_atol[τ]`` = #{|Δ| > τ or Δ is NaN}, the complement of
  ``torch.isclose(Δ, 0, atol=τ, rtol=0)`` as used in the same code.
- ``invisible_pred`` = #{Δ ≠ 0 and |Δ| < h(w)}: changes that bf16 is *predicted* not to
  represent. Here h(w) = ulp_bf16(|w|) / 2 = 2^(e − 8), where e = floor(log2 |w|) is
  the fp32 exponent of w and bf16 keeps 7 mantissa bits. For w = 0 and fp32 subnormals, e
  is taken as −126 (bf16 shares fp32's subnormal spacing, 2^−133), so h = 2^−134. This is
  the |w|·2^−8 threshold of PULSE (arXiv 2602.03839) and RL's Razor (arXiv 2509.04259),
  made exact per binade.
- ``delta_sq`` = Σ Δ², ``weight_sq`` = Σ w² (over finite values; unit: squared weight).
- ``nonfinite`` = #{w or w' is inf or NaN}.
- ``changed_cast`` = #{cast_T(w) ≠ w'} with T the tuned checkpoint's stored dtype: what
  changed beyond casting the base to the tuned's precision. For an fp32 tuned this is
  ``changed_fp32``; for a bf16 tuned, ``changed_bf16`` (w' is its own bf16 cast); fp16 and
  fp8 are cast explicitly. A bf16 copy of an fp32 base has ``changed_cast`` = 0.

``invisible_pred`` is a prediction, not a measurement. bf16(w) = bf16(w + Δ) exactly when
both fall in the same rounding cell, which is one ulp wide. A change smaller than half
an ulp can still cross a cell edge if w sits near it (or if w is a power of two and
moves toward zero, where the cell below is half as wide). A change of up to a whole ulp
can stay inside a cell if w sits at the far side. If w lies uniformly within its cell,
P(invisible | |Δ|) = max(0, 1 − |Δ|/ulp), so half an ulp is the median break-even
point. The measured share, 1 − changed_bf16 / changed_fp32, is the truth for the
checkpoint at hand; the prediction says how much of it the update *sizes* explain.

How it is computed (one chunk, numpy only, so a diff need not import torch): about a
dozen vectorised passes per tuned chunk. bf16(w) is taken on the fp32 bit pattern b as
(b + 0x7FFF + bit16(b)) >> 16, round to nearest even, the formula torch's cast uses
(every NaN becomes 0xFFFF, as torch gives on this build). Tolerance counts are skipped
above the chunk's largest |Δ|, the ±0 check only runs where the base holds zeros or
subnormals, and the non-finite work only where a sum of squares is not finite.

The panel streams checkpoint files in chunks (``diff.py``); ``changed_fractions`` gives the
fp32 and bf16 fractions of a live model against a copy of its start, on the model's own
device, for the training recorder.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

HALF_ULP_SCALE = np.float32(2.0**-8)  # 2^(e − 127) · 2^−8 = half a bf16 ulp at exponent e
EXPONENT_MASK = np.uint32(0x7F800000)  # fp32 biased-exponent bits
SMALLEST_NORMAL = np.uint32(1 << 23)  # exponent bits of 2^−126
MAGNITUDE_16 = np.uint32(0x7FFF)  # a bf16 pattern without its sign bit
BF16_NAN = np.uint32(0xFFFF)  # the pattern torch's cast gives every NaN


def count(flags: np.ndarray) -> int:
    """Number of true (non-zero) elements, as a Python int."""
    return int(np.count_nonzero(flags))


def changed_fractions(start: Mapping, model) -> dict[str, float]:
    """Fraction of parameters that differ from the start: exact in fp32, and after casting
    both to bf16 (``changed_fp32``, ``changed_bf16``); 1 - either is the update sparsity.

    changed_fp32 = #{w != w0} / n and changed_bf16 = #{bf16(w) != bf16(w0)} / n over the
    parameters named in ``start`` (name -> detached start copy), n their element count;
    unit: fraction of parameters. bf16 keeps 8 significant bits, so an update smaller than
    about |w| * 2^-8 rounds back to the same bf16 value: the bf16 figure is the one
    checkpoints stored in bf16 show (Mukherjee et al. 2025, arXiv 2505.11711; the caveat of
    arXiv 2509.04259 / 2602.03839). On finite weights the counts equal the panel's
    (``tuned_panel``); on inf and NaN this compares values (an unchanged NaN counts as
    changed, an unchanged inf does not), where the panel compares bits.
    """
    params = dict(model.named_parameters())  # (start: name -> torch tensor, model: nn.Module)
    total = changed32 = changed16 = 0
    for name, w0 in start.items():
        w = params[name].detach()
        total += w.numel()
        changed32 += (w != w0).sum().item()
        changed16 += (w.bfloat16() != w0.bfloat16()).sum().item()
    return {"changed_fp32": changed32 / max(total, 1), "changed_bf16": changed16 / max(total, 1)}


@dataclass(frozen=True)
class PanelCounts:
    params: int  # elements compared
    changed_fp32: int  # Δ ≠ 0
    changed_bf16: int  # bf16(w) ≠ bf16(w')
    changed_atol: tuple[int, ...]  # |Δ| > τ, one per tolerance, in config order
    invisible_pred: int  # Δ ≠ 0 and |Δ| < half a bf16 ulp of w
    delta_sq: float  # Σ Δ² over finite values
    weight_sq: float  # Σ w² over finite values (base weights)
    nonfinite: int  # elements where w or w' is inf or NaN
    changed_cast: int = 0  # cast_T(w) ≠ w', T the tuned's stored dtype

    def __add__(self, other: PanelCounts) -> PanelCounts:
        atol = tuple(a + b for a, b in zip(self.changed_atol, other.changed_atol, strict=True))
        return PanelCounts(
            self.params + other.params,
            self.changed_fp32 + other.changed_fp32,
            self.changed_bf16 + other.changed_bf16,
            atol,
            self.invisible_pred + other.invisible_pred,
            self.delta_sq + other.delta_sq,
            self.weight_sq + other.weight_sq,
            self.nonfinite + other.nonfinite,
            self.changed_cast + other.changed_cast,
        )

    @staticmethod
    def zero(tolerances: int) -> PanelCounts:
        return PanelCounts(0, 0, 0, (0,) * tolerances, 0, 0.0, 0.0, 0, 0)


class Workspace:
    """Scratch arrays for one worker, reused across chunks of up to ``size`` elements.

    ``masks[j, 0]`` and ``masks[j, 1]`` hold the fp32 and bf16 changed-masks of tuned
    checkpoint j for the current chunk; they feed the embedding-row and overlap counts.
    """

    def __init__(self, size: int, tuned: int):
        self.base = np.empty(size, np.float32)  # w
        self.tuned = np.empty(size, np.float32)  # w'
        self.delta = np.empty(size, np.float32)  # Δ, when the caller keeps no full Δ
        self.abs_delta = np.empty(size, np.float32)  # |Δ|
        self.half_ulp = np.empty(size, np.float32)  # h(w)
        self.flag = np.empty(size, bool)  # scratch comparison result
        self.base_bf16 = np.empty(size, np.uint32)  # bf16_key(w): bf16(w) in the top 16 bits
        self.tuned_bf16 = np.empty(size, np.uint32)  # bf16_key(w'), then scratch
        self.masks = np.empty((tuned, 2, size), bool)  # (tuned, view, element)
        self.tiny = np.empty(0, np.intp)  # positions of zero or subnormal base weights


def half_bf16_ulp(weights: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """h(w) = 2^(max(E, 1) − 135) for the fp32 biased exponent E of each weight (fp32).

    >>> half_bf16_ulp(np.array([1.0, 0.02, 0.0], np.float32)).tolist() == [2**-8, 2**-14, 2**-134]
    True
    """
    out = np.empty_like(weights) if out is None else out
    _half_ulp(weights, out)
    return out


def _half_ulp(weights: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` with h(w); return the positions where E = 0 (zero, subnormal weights)."""
    bits = np.bitwise_and(weights.view(np.uint32), EXPONENT_MASK, out=out.view(np.uint32))
    tiny = np.flatnonzero(bits == 0) if weights.size and not bits.min() else np.empty(0, np.intp)
    if tiny.size:  # E = 0 -> 1: subnormal spacing
        np.maximum(bits, SMALLEST_NORMAL, out=bits)
    np.multiply(out, HALF_ULP_SCALE, out=out)  # 2^(E − 127) · 2^−8, exact (power of two)
    return tiny


def bf16_bits(weights: np.ndarray, out: np.ndarray) -> np.ndarray:
    """bf16(w) bit patterns, round to nearest even, in the low 16 bits of uint32 ``out``.

    >>> bits = bf16_bits(np.array([1.0, 1 + 2**-8, 1 + 3 * 2**-8, -2.0], np.float32),
    ...                  np.empty(4, np.uint32))
    >>> [hex(b) for b in bits]
    ['0x3f80', '0x3f80', '0x3f82', '0xc000']
    """
    return np.right_shift(bf16_key(weights, out), 16, out=out)


def bf16_key(weights: np.ndarray, out: np.ndarray) -> np.ndarray:
    """b + 0x7FFF + bit16(b) on the fp32 bits b (uint32): its top 16 bits are bf16(w),
    rounded to nearest even as torch's cast rounds; NaN is not handled here."""
    bits = weights.view(np.uint32)
    np.right_shift(bits, 16, out=out)
    np.bitwise_and(out, 1, out=out)  # bit 16: ties go to the even pattern
    np.add(out, bits, out=out)
    return np.add(out, MAGNITUDE_16, out=out)


def _nan_keys(weights: np.ndarray, keys: np.ndarray) -> None:
    """Every NaN weight gets torch's bf16 NaN pattern (compared bitwise, so NaN = NaN)."""
    keys[np.isnan(weights)] = BF16_NAN << 16


def sum_sq(values: np.ndarray) -> float:
    """Σ x² in fp32 (inf or NaN if any x is). Not ``np.dot``: OpenBLAS threads spin after a
    dot and slow torch's SVDs in the same process by 10-100x."""
    return float(np.einsum("i,i->", values, values))


def prepare_base(space: Workspace, n: int) -> float:
    """Fill the base-side views of ``space`` for its first n elements; return Σ w²."""
    weights = space.base[:n]
    weight_sq = sum_sq(weights)
    bf16_key(weights, space.base_bf16[:n])
    if not math.isfinite(weight_sq):
        _nan_keys(weights, space.base_bf16[:n])
    space.tiny = _half_ulp(weights, space.half_ulp[:n])
    return weight_sq


def tuned_panel(
    space: Workspace,
    n: int,
    delta: np.ndarray,
    tolerances: Sequence[float],
    masks: np.ndarray,
    weight_sq: float,
    stored: str = "F32",
) -> PanelCounts:
    """Counts for the tuned chunk in ``space.tuned[:n]`` against the prepared base.

    Writes Δ into ``delta`` (n,) and the changed-masks into ``masks`` (2, n): fp32, bf16.
    ``stored`` is the tuned checkpoint's dtype code, for ``changed_cast``.
    """
    base, tuned = space.base[:n], space.tuned[:n]
    with np.errstate(invalid="ignore", over="ignore"):  # inf − inf is NaN, counted below
        np.subtract(tuned, base, out=delta)  # Δ = w' − w
    changed = count(np.not_equal(delta, 0, out=masks[0]))
    delta_sq = sum_sq(delta)
    abs_delta = np.abs(delta, out=space.abs_delta[:n])
    largest = float(abs_delta.max()) if changed else 0.0  # NaN if any Δ is NaN: no pass skipped
    atol = tuple(_count_above(abs_delta, tol, space.flag[:n], largest) for tol in tolerances)
    below = count(np.less(abs_delta, space.half_ulp[:n], out=space.flag[:n]))
    invisible = below - (n - changed)  # h(w) > 0, so every unchanged element is below it
    finite = math.isfinite(delta_sq) and math.isfinite(weight_sq)
    changed_bf16 = _bf16_changes(space, n, masks[1], finite)
    nonfinite = 0
    if not finite:
        nonfinite, delta_sq, weight_sq = _nonfinite(base, tuned, delta)
        nan_delta = count(np.isnan(delta))  # like ~isclose(Δ, 0): NaN is beyond every τ
        atol = tuple(a + nan_delta for a in atol)
    cast = _cast_changes(base, tuned, stored, changed, changed_bf16)
    return PanelCounts(
        n, changed, changed_bf16, atol, invisible, delta_sq, weight_sq, nonfinite, cast
    )


def _count_above(abs_delta: np.ndarray, tol: float, scratch: np.ndarray, largest: float) -> int:
    """#{|Δ| > tol}; no pass needed when even the largest |Δ| is not above ``tol``."""
    return count(np.greater(abs_delta, tol, out=scratch)) if not largest <= tol else 0


def _bf16_changes(space: Workspace, n: int, mask: np.ndarray, finite: bool) -> int:
    """#{bf16(w) ≠ bf16(w')} by value, with the mask written into ``mask`` (n,)."""
    tuned, keys = space.tuned[:n], bf16_key(space.tuned[:n], space.tuned_bf16[:n])
    if not finite:
        _nan_keys(tuned, keys)
    np.bitwise_xor(keys, space.base_bf16[:n], out=keys)  # the top 16 bits differ: changed
    changed = count(np.greater_equal(keys, 1 << 16, out=mask))
    if changed and space.tiny.size:  # bf16(w) can be ±0 only where w is zero or subnormal
        at = space.tiny[mask[space.tiny]]  # those positions whose bf16 bits changed
        base16 = np.right_shift(space.base_bf16[at], 16)
        tuned16 = bf16_bits(tuned[at], np.empty(at.size, np.uint32))
        signed_zero = at[np.bitwise_and(base16 | tuned16, MAGNITUDE_16) == 0]  # +0 vs −0
        mask[signed_zero] = False
        changed -= signed_zero.size
    return changed


def _cast_changes(
    base: np.ndarray, tuned: np.ndarray, stored: str, changed_fp32: int, changed_bf16: int
) -> int:
    """#{cast_T(w) ≠ w'} by value (NaN = NaN, +0 = −0) for the tuned's stored dtype T."""
    if stored in ("F32", "F64"):  # F64 is read rounded to fp32, both sides alike
        return changed_fp32
    if stored == "BF16":
        return changed_bf16
    cast = _round_trip(base, stored)  # rare path (fp16, fp8): allocates
    with np.errstate(invalid="ignore"):
        differ = (cast != tuned) & ~(np.isnan(cast) & np.isnan(tuned))
    return count(differ)


def _round_trip(values: np.ndarray, code: str) -> np.ndarray:
    """fp32 ``values`` cast to dtype ``code`` (round to nearest even) and back to fp32."""
    if code == "F16":
        with np.errstate(over="ignore"):
            return values.astype(np.float16).astype(np.float32)
    import torch

    from regimescope.instruments.checkpoint_io import torch_dtype

    return torch.from_numpy(values).to(torch_dtype(code)).float().numpy()


def _nonfinite(base: np.ndarray, tuned: np.ndarray, delta: np.ndarray) -> tuple[int, float, float]:
    """(#non-finite elements, Σ Δ², Σ w²) with the sums over finite values only."""
    bad = count(~np.isfinite(base) | ~np.isfinite(tuned))
    finite_delta = np.where(np.isfinite(delta), delta, 0).astype(np.float64)
    finite_base = np.where(np.isfinite(base), base, 0).astype(np.float64)
    return bad, float(finite_delta @ finite_delta), float(finite_base @ finite_base)
