"""Study 3a's other tables and notes: mask overlap of seed pairs against chance, one row
per tuned run, the effects, and what departed from the design at a scale.
"""

from __future__ import annotations

import math

import pandas as pd

from regimescope.instruments.diff_summary import panel
from regimescope.studies.rl_weights_parts import LABELS, Measured
from regimescope.studies.verdict import Effect

# ---------------------------------------------------------------- overlap, tables, notes


def overlap_frame(m: Measured) -> pd.DataFrame:
    """Mask overlap of two seeds of one (regime, rate) per view, against chance;
    ``excess`` = Jaccard − chance Jaccard at the same per-tensor densities."""
    where, rows = {str(t.model_dir): t for t in m.tuned}, []
    for o in m.result.overlap:
        a, b = where[o["a"]], where[o["b"]]
        if (a.regime, a.lr) != (b.regime, b.lr):
            continue
        row = dict(regime=a.regime, lr=a.lr, seed_a=a.seed, seed_b=b.seed, view=o["view"])
        row |= dict(density_a=o["changed_a"] / o["params"], density_b=o["changed_b"] / o["params"])
        chance = o["chance_jaccard_by_tensor"]
        rows.append(row | dict(jaccard=o["jaccard"], chance=chance, excess=o["jaccard"] - chance))
    columns = ["regime", "lr", "seed_a", "seed_b", "view", "density_a", "density_b"]
    return pd.DataFrame(rows, columns=[*columns, "jaccard", "chance", "excess"])


def lowest_rate_excess(overlap: pd.DataFrame, lrs: tuple[float, ...]) -> list[float]:
    """Jaccard excess over chance of RL seed pairs in bf16 at the lowest rate (both moved)."""
    o = overlap
    keep = (o.regime == "rl") & (o.view == "bf16") & (o.lr == min(lrs))
    keep &= (o.density_a > 0) & (o.density_b > 0)
    return [float(x) for x in o[keep].excess if math.isfinite(x)]


def runs_frame(m: Measured) -> pd.DataFrame:
    """One row per tuned run: the whole-model panel (unused embedding rows excluded)."""
    rows = []
    for t, run in zip(m.tuned, m.result.runs, strict=True):
        p = panel(run.tensors, m.tolerances)
        kept, rank = p["without_frozen_rows"], p["rank"]
        row = dict(regime=t.regime, lr=t.lr, seed=t.seed, drift=p["rel_update_norm"])
        row |= dict(changed_fp32=kept["changed_fp32"], changed_bf16=kept["changed_bf16"])
        row |= {f"changed_atol_{k}": v for k, v in kept["changed_atol"].items()}
        row |= {k: p[k] for k in ("bf16_invisible_pred", "bf16_invisible_measured", "frozen_rows")}
        row |= {k: rank[k] for k in ("rank_fraction", "stable_rank", "top_r_energy")}
        row |= {k: t.summary.get(k) for k in ("final_reward", "final_loss")}
        rows.append(row | {"pool_size": t.pool_size})
    return pd.DataFrame(rows)


def effects_frame(found: list[Effect]) -> pd.DataFrame:
    rows = [
        dict(effect=e.name, estimate=e.estimate, low=e.ci95[0], high=e.ci95[1], unit=e.unit)
        for e in found
    ]
    return pd.DataFrame(rows, columns=["effect", "estimate", "low", "high", "unit"])


def notes(scale: str, m: Measured) -> str:
    """What departed from the design at this scale, with the numbers that show it."""
    out = []
    if scale == "smoke":
        out.append(
            "Smoke scale: a nano base that earns no reward, so self-SFT has no pool and RL "
            "runs NSR (which still moves on wrong samples); the verdict checks the pipeline, "
            "not the claim."
        )
    runs = zip(m.tuned, m.result.runs, strict=True)
    idle = [t for t, run in runs if not any(x.counts.changed_fp32 for x in run.tensors)]
    if idle:
        names = ", ".join(f"{LABELS[t.regime]} lr {t.lr:g} seed {t.seed}" for t in idle)
        out.append(f"Runs that changed no weight (no reward signal or empty pool): {names}.")
    pools = ", ".join(str(t.pool_size) for t in m.tuned if t.pool_size is not None)
    unused = sum(x.frozen_rows for x in m.result.runs[0].tensors)
    out.append(
        f"Self-SFT pools (verified-correct samples per run): {pools or 'none'}. Unused "
        f"embedding rows left out of the parameter count: {unused} in the first run "
        "(tied embeddings give every row a gradient through the LM head); the mask "
        "overlap counts all parameters."
    )
    return " ".join(out)
