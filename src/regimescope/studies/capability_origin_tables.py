"""Study 4's tables: pooled pass@k per cell, the raw per-problem counts, creation per cell,
the base's competence, the GRPO training logs, and every effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regimescope.instruments import passk as pk
from regimescope.studies.capability_origin_parts import FAMILIES, SeedRun, mean_effect
from regimescope.studies.verdict import Effect

# ---------------------------------------------------------------- tables


def columns(e: Effect) -> dict:
    """An effect as table columns."""
    low, high = e.ci95
    return dict(effect=e.name, estimate=e.estimate, ci_low=low, ci_high=high, unit=e.unit)


def passk_table(cell_counts: dict, n: int, resamples: int) -> pd.DataFrame:
    """Pooled pass@k of base and RL per cell and k (hierarchical 95% interval)."""
    rows = []
    for (family, depth), counts in cell_counts.items():
        for index, model in enumerate(("base", "RL")):
            for k in pk.k_grid(n):
                values = np.array([pk.pass_at_k_table(c, n, [k])[:, 0] for c in counts[:, index]])
                e = mean_effect(f"pass@{k}", values, resamples)
                rows.append(dict(family=family, depth=depth, model=model, k=k) | columns(e))
    return pd.DataFrame(rows).rename(columns={"estimate": "pass_at_k"})


def per_problem_table(seeds, cell_counts: dict, atomic: dict, n: int) -> pd.DataFrame:
    """Correct samples of every (seed, family, depth, model, problem): the raw data."""
    series = [(f, 1, "base", counts) for f, counts in atomic.items()]  # each (S, P)
    series += [
        (f, d, model, counts[:, index])
        for (f, d), counts in cell_counts.items()
        for index, model in enumerate(("base", "RL"))
    ]
    rows = [
        dict(seed=seed, family=f, depth=d, model=model, problem=p, correct=int(c), n=n)
        for f, d, model, by_seed in series
        for seed, row in zip(seeds, by_seed, strict=True)
        for p, c in enumerate(row)
    ]
    return pd.DataFrame(rows)


def creation_table(found: dict, cell_counts: dict, n: int, labels: dict) -> pd.DataFrame:
    """Per cell: base-unsolved problems, how many RL solves, creation rate, bound, k*, label."""
    rows = []
    for (family, depth), e in found.items():
        base, tuned = cell_counts[family, depth][:, 0], cell_counts[family, depth][:, 1]
        unsolved = base == 0
        rows.append(
            dict(family=family, role=FAMILIES[family], depth=depth, problems=base.size)
            | dict(base_unsolved=int(unsolved.sum()), created=int((unsolved & (tuned > 0)).sum()))
            | dict(creation_rate=e["creation"].estimate, unseen_bound=3.0 / n)
            | dict(creation_low=e["creation"].ci95[0], creation_high=e["creation"].ci95[1])
            | dict(pass1_gain=e["gain"].estimate, gain_low=e["gain"].ci95[0])
            | dict(gain_high=e["gain"].ci95[1], crossover_k=e["crossover"].estimate)
            | dict(base_passn=e["base_passn"].estimate, rl_passn=e["rl_passn"].estimate)
            | dict(label=labels[family, depth])
        )
    return pd.DataFrame(rows)


def competence_table(cell_counts: dict, atomic: dict, n: int, resamples: int) -> pd.DataFrame:
    """The base's pass@1 and pass@n per family and depth (depth 1 = atomic skills)."""
    base = {(f, 1): c for f, c in atomic.items()}
    base |= {cell: c[:, 0] for cell, c in cell_counts.items()}
    rows = [
        dict(family=family, role=FAMILIES[family], depth=depth, metric=metric)
        | columns(mean_effect(f"base {metric}", values, resamples))
        for (family, depth), counts in sorted(base.items())
        for metric, values in (("pass@1", counts / n), (f"pass@{n}", counts > 0))
    ]
    return pd.DataFrame(rows).rename(columns={"estimate": "value"})


def training_table(runs: list[SeedRun]) -> pd.DataFrame:
    """Every GRPO step: rollout reward, token entropy (nats), gradient norm."""
    keys = ("step", "reward", "entropy", "entropy/plan", "entropy/exec", "grad_norm")
    rows = [
        {"seed": r.seed, "family": family, **{k: line[k] for k in keys if k in line}}
        for r in runs
        for family, run in r.rl.items()
        for line in run.read_metrics()
    ]
    return pd.DataFrame(rows)


def effects_frame(primary: dict[str, Effect], found: dict) -> pd.DataFrame:
    """Every effect: the verdict's (family and depth blank), then each cell's."""
    keyed = [("", "", key, e) for key, e in primary.items()]
    keyed += [(f, d, key, e) for (f, d), cell in found.items() for key, e in cell.items()]
    rows = [dict(key=key, family=f, depth=d) | columns(e) for f, d, key, e in keyed]
    return pd.DataFrame(rows)
