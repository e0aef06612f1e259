"""Fractions from a checkpoint diff's counts, by tensor, module kind, layer and in total.

All fractions are over elements (parameters):

- ``changed_fp32``, ``changed_bf16``, ``changed_atol[τ]``: changed elements / ``params``.
- ``bf16_invisible_pred``: the predicted bf16-invisible share of the changes,
  #{Δ ≠ 0, |Δ| < half a bf16 ulp of w} / #{Δ ≠ 0} (see ``precision.py``).
  ``bf16_invisible_measured`` = 1 − changed_bf16 / changed_fp32. Both are NaN (``null`` in
  JSON) when nothing changed.
- ``update_norm`` = ‖Δ‖_F, ``weight_norm`` = ‖W‖_F of the base, ``rel_update_norm`` =
  ‖Δ‖_F / ‖W‖_F. A group's norms are taken over all of its elements.
- ``frozen_rows``: rows of embedding matrices whose Δ is exactly zero in fp32, i.e. tokens
  that got no gradient. With weight decay, such rows still shrink, so they are not
  detected. ``without_frozen_rows`` recomputes the fractions with those rows taken out of
  ``params``; the numerators do not change, since an all-zero row contributes no change
  in any view.
- ``rank``: means over the group's 2-D tensors of the rank fraction, stable rank,
  effective rank and top-r energy. This is the per-matrix average of arXiv 2505.11711.
  ``skipped`` counts the matrices the ``auto`` rank method left out (too large).
- ``changed_beyond_cast`` (only when some tensor is stored in a different dtype in base
  and tuned): #{cast_T(w) ≠ w'} / ``params``, T the tuned's stored dtype, i.e. what the
  cast alone does not explain. ``dtype_cast`` (``cast_summary``) states the headline.

A tolerance is written as its shortest exact form in scientific notation ("1e-05").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from regimescope.config import to_dict
from regimescope.instruments.diff import DiffResult, RunDiff, TensorDiff
from regimescope.instruments.precision import PanelCounts


def tolerance_key(tol: float) -> str:
    """'1e-05' for 1e-5; '2.5e-06' where one digit is not exact.

    >>> tolerance_key(1e-5), tolerance_key(2.5e-6)
    ('1e-05', '2.5e-06')
    """
    for digits in range(0, 17):
        text = f"{tol:.{digits}e}"
        if float(text) == tol:
            return text
    return repr(tol)


def _ratio(top: float, bottom: float) -> float:
    return top / bottom if bottom else math.nan


def fractions(counts: PanelCounts, tolerances: Sequence[float], params: int | None = None) -> dict:
    """The precision fractions of ``counts``, over ``params`` elements (default: all)."""
    n = counts.params if params is None else params
    return {
        "params": n,
        "changed_fp32": _ratio(counts.changed_fp32, n),
        "changed_bf16": _ratio(counts.changed_bf16, n),
        "changed_atol": {
            tolerance_key(t): _ratio(c, n)
            for t, c in zip(tolerances, counts.changed_atol, strict=True)
        },
    }


def panel(tensors: Sequence[TensorDiff], tolerances: Sequence[float]) -> dict:
    """Every figure of a group of tensors (one tensor, a kind, a layer or all)."""
    counts = sum((t.counts for t in tensors), PanelCounts.zero(len(tolerances)))
    frozen = sum(t.frozen_rows for t in tensors)
    frozen_params = sum(t.frozen_rows * t.shape[1] for t in tensors if t.rows)
    out = fractions(counts, tolerances)
    out |= {
        "bf16_invisible_pred": _ratio(counts.invisible_pred, counts.changed_fp32),
        "bf16_invisible_measured": _ratio(
            counts.changed_fp32 - counts.changed_bf16, counts.changed_fp32
        ),
        "update_norm": math.sqrt(counts.delta_sq),
        "weight_norm": math.sqrt(counts.weight_sq),
        "rel_update_norm": _ratio(math.sqrt(counts.delta_sq), math.sqrt(counts.weight_sq)),
        "nonfinite": counts.nonfinite,
        "frozen_rows": frozen,
        "embedding_rows": sum(t.rows for t in tensors),
        "without_frozen_rows": fractions(counts, tolerances, counts.params - frozen_params),
        "rank": rank_means(tensors),
    }
    if any(t.stored_dtypes[0] != t.stored_dtypes[1] for t in tensors):
        out["changed_beyond_cast"] = _ratio(counts.changed_cast, counts.params)
    return out


def rank_means(tensors: Iterable[TensorDiff]) -> dict:
    """Means of the rank figures over the tensors that have them (NaN-free means)."""
    tensors = list(tensors)
    figures = [t.rank for t in tensors if t.rank is not None]

    def mean(values: list[float | None]) -> float:
        kept = [v for v in values if v is not None]
        return float(np.mean(kept)) if kept else math.nan

    return {
        "matrices": len(figures),
        "skipped": sum(t.rank_skipped for t in tensors),
        "rank_fraction": mean([f.rank_fraction for f in figures]),
        "stable_rank": mean([f.stable_rank for f in figures]),
        "effective_rank": mean([f.effective_rank for f in figures]),
        "top_r_energy": mean([f.top_r_energy for f in figures]),
    }


def tensor_entry(t: TensorDiff, tolerances: Sequence[float]) -> dict:
    """One tensor's figures: name, shape, dtype, kind, layer, panel, rows and rank figures."""
    entry = {
        "name": t.name,
        "shape": list(t.shape),
        "dtype": t.dtype,
        "kind": t.kind,
        "layer": t.layer,
    }
    entry |= panel([t], tolerances)
    del entry["rank"]
    if not t.rows:  # row figures only for embedding matrices
        for key in ("frozen_rows", "embedding_rows", "without_frozen_rows"):
            del entry[key]
    r = t.rank
    entry |= {
        "rank_method": r.method if r else ("skipped" if t.rank_skipped else None),
        "rank": r.rank if r else None,
        "full_rank": r.full_rank if r else None,
        "rank_fraction": r.rank_fraction if r else None,
        "rank_lower_bound": r.rank_lower_bound if r else None,
        "stable_rank": r.stable_rank if r else None,
        "effective_rank": r.effective_rank if r else None,
        "top_r_energy": r.top_r_energy if r else None,
    }
    return entry


def cast_summary(run: RunDiff) -> dict | None:
    """The dtype headline of one tuned checkpoint, None when base and tuned share dtypes.

    ``changed_beyond_cast`` counts what the cast to the tuned's dtype does not explain;
    ``changed_fp32_by_cast`` is the part of the fp32 view's changes the cast accounts for
    (changed_fp32 − changed_beyond_cast over the tensors whose dtype differs, a lower
    bound: a training change the cast rounds away is counted as cast).
    """
    mixed = [t for t in run.tensors if t.stored_dtypes[0] != t.stored_dtypes[1]]
    if not mixed:
        return None
    params = sum(t.counts.params for t in run.tensors)
    beyond = sum(t.counts.changed_cast for t in run.tensors)
    by_cast = sum(t.counts.changed_fp32 - t.counts.changed_cast for t in mixed)
    pairs = sorted({"->".join(t.stored_dtypes) for t in mixed})
    return {
        "dtypes": pairs,  # "BASE->TUNED" stored dtype codes that differ
        "tensors": len(mixed),
        "of_tensors": len(run.tensors),
        "compared_in": "the tuned checkpoint's dtype",
        "changed_beyond_cast": beyond,
        "changed_beyond_cast_fraction": _ratio(beyond, params),
        "changed_fp32": sum(t.counts.changed_fp32 for t in run.tensors),
        "changed_fp32_by_cast": by_cast,
        "nothing_beyond_cast": beyond == 0,
    }


def groups(run: RunDiff, tolerances: Sequence[float]) -> tuple[list[dict], list[dict]]:
    """(per module kind, per layer) panels; tensors outside the block stack have no layer."""
    kinds = sorted({t.kind for t in run.tensors})
    layers = sorted({t.layer for t in run.tensors if t.layer is not None})
    by_kind = [
        {"kind": k, **panel([t for t in run.tensors if t.kind == k], tolerances)} for k in kinds
    ]
    by_layer = [
        {"layer": i, **panel([t for t in run.tensors if t.layer == i], tolerances)} for i in layers
    ]
    return by_kind, by_layer


def run_dict(run: RunDiff, tolerances: Sequence[float]) -> dict:
    """summary, kinds, layers and tensors of one tuned checkpoint."""
    by_kind, by_layer = groups(run, tolerances)
    out = {
        "tuned": run.tuned,
        "summary": panel(run.tensors, tolerances),
        "kinds": by_kind,
        "layers": by_layer,
        "tensors": [tensor_entry(t, tolerances) for t in run.tensors],
    }
    cast = cast_summary(run)
    if cast is not None:
        out["dtype_cast"] = cast
    return out


def result_dict(result: DiffResult) -> dict:
    """The full result as JSON-ready data; NaN becomes None.

    The top-level ``summary``, ``kinds``, ``layers`` and ``tensors`` describe the first
    tuned checkpoint. With several, ``runs`` holds the same blocks for each, in order,
    and ``overlap`` compares their changed-masks pairwise.
    """
    tolerances = result.config.tolerances
    runs = [run_dict(run, tolerances) for run in result.runs]
    out = {
        "base": result.base,
        "tuned": [run.tuned for run in result.runs],
        "config": to_dict(result.config),
        "workers": result.workers,
        "skipped": list(result.skipped),
        **{k: v for k, v in runs[0].items() if k != "tuned"},
    }
    if len(runs) > 1:
        out["runs"] = runs
        out["overlap"] = list(result.overlap)
    return clean(out)


def tensor_frame(result: DiffResult):
    """The per-tensor table (pandas DataFrame): one row per (tuned checkpoint, tensor)."""
    import pandas as pd  # 0.4 s to import: only when a table is asked for

    rows = []
    for run in result.runs:
        for t in run.tensors:
            entry = tensor_entry(t, result.config.tolerances)
            atol = entry.pop("changed_atol")
            without = entry.pop("without_frozen_rows", {})
            entry |= {f"changed_atol_{k}": v for k, v in atol.items()}
            entry["frozen_rows"] = t.frozen_rows
            entry["changed_fp32_without_frozen_rows"] = without.get("changed_fp32", math.nan)
            rows.append({"tuned": run.tuned, **entry})
    frame = pd.DataFrame(rows)
    frame["layer"] = frame["layer"].astype("Int64")
    return frame


def clean(value):
    """JSON-ready copy: numpy scalars to Python, NaN and inf to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
