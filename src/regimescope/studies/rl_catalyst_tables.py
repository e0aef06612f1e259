"""Study 2's tables: pass@k per model and k, the raw per-problem counts, coverage against
the base, accuracy histograms, perplexity under the base, and the RL training logs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regimescope.instruments import coverage as cov
from regimescope.instruments import passk as pk
from regimescope.studies.rl_catalyst_parts import SeedRun, creation_rate, mean_effect
from regimescope.studies.stats import hierarchical_bootstrap

# ---------------------------------------------------------------- tables


def passk_row(seed: str, name: str, step: int, k: int, value: float, ci) -> dict:
    keys = ("seed", "model", "rl_step", "k", "pass_at_k", "ci_low", "ci_high")
    return dict(zip(keys, (seed, name, step, k, value, *ci), strict=True))


def passk_table(runs: list[SeedRun], counts: np.ndarray, n: int, resamples: int) -> pd.DataFrame:
    """pass@k per model and k: per seed (interval over problems) and pooled (hierarchical)."""
    rows = [
        passk_row(str(r.seed), m.name, step, k, v, m.passk_ci[k])
        for r in runs
        for step, m in zip(r.steps, r.result.models, strict=True)
        for k, v in m.passk.items()
    ]
    for index, (step, m) in enumerate(zip(runs[0].steps, runs[0].result.models, strict=True)):
        for k in runs[0].result.ks:
            per_problem = np.array([pk.pass_at_k_table(c, n, [k])[:, 0] for c in counts[:, index]])
            est, ci = hierarchical_bootstrap(per_problem, np.mean, resamples)  # over (S, P)
            rows.append(passk_row("pooled", m.name, step, k, est, ci))
    return pd.DataFrame(rows)


def per_problem_table(runs: list[SeedRun], counts: np.ndarray, n: int) -> pd.DataFrame:
    """Correct samples of every (seed, model, problem): the raw data of every effect."""
    rows = [
        {"seed": r.seed, "model": m.name, "rl_step": step, "problem": p, "correct": int(c), "n": n}
        for r, seed_counts in zip(runs, counts, strict=True)
        for step, m, model_counts in zip(r.steps, r.result.models, seed_counts, strict=True)
        for p, c in enumerate(model_counts)
    ]
    return pd.DataFrame(rows)


def coverage_table(runs: list[SeedRun], counts: np.ndarray, resamples: int) -> pd.DataFrame:
    """Solved sets (c > 0) of each RL checkpoint against the base, pooled over seeds."""
    base = counts[:, 0] > 0  # (S, P)
    rows = []
    for index, step in enumerate(runs[0].steps[1:], start=1):
        tuned = counts[:, index] > 0  # (S, P)
        row = {
            "rl_step": step,
            "problems": base.size,
            "both": int((base & tuned).sum()),
            "neither": int((~base & ~tuned).sum()),
        }
        for who, only in (("base_only", base & ~tuned), ("rl_only", ~base & tuned)):
            share = mean_effect(who, only, resamples)
            row |= {
                who: int(only.sum()),
                f"{who}_share": share.estimate,
                f"{who}_low": share.ci95[0],
                f"{who}_high": share.ci95[1],
            }
        rows.append(row | {"creation_rate": creation_rate(counts[:, 0], counts[:, index])})
    return pd.DataFrame(rows)


def accuracy_bins(seed_counts: np.ndarray, n: int) -> dict[str, int]:
    """Problems per accuracy bin, pooled over seeds: exactly 0, (0, 0.1), [0.1, 0.2), ...,
    [0.9, 1), exactly 1. ``seed_counts`` is (S, P)."""
    hist = [cov.accuracy_histogram(c, n) for c in seed_counts]
    zero, one = sum(h.at_zero for h in hist), sum(h.at_one for h in hist)
    binned = np.sum([h.counts for h in hist], axis=0)  # (10,)
    binned[0] -= zero  # the instrument's first bin holds the zeros and its last the ones;
    binned[-1] -= one  # take them out so that the bins partition the problems
    edges = hist[0].edges
    labels = [f"[{a:.1f}, {b:.1f})" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    labels[0] = f"(0.0, {edges[1]:.1f})"
    return {"exactly 0": zero, **dict(zip(labels, binned.tolist(), strict=True)), "exactly 1": one}


def histogram_table(runs: list[SeedRun], counts: np.ndarray, n: int) -> pd.DataFrame:
    """Per-problem accuracy c / n of every model in twelve bins (exact 0 and 1 apart)."""
    total = counts.shape[0] * counts.shape[2]  # seeds x problems
    rows = [
        {
            "model": m.name,
            "rl_step": step,
            "bin": label,
            "problems": count,
            "share": count / total,
            "total": total,
        }
        for index, (step, m) in enumerate(zip(runs[0].steps, runs[0].result.models, strict=True))
        for label, count in accuracy_bins(counts[:, index], n).items()
    ]
    return pd.DataFrame(rows)


def perplexity_table(runs: list[SeedRun]) -> pd.DataFrame:
    """PPL under the base of each model's samples (median and quartiles), per seed."""
    rows = [
        {"seed": r.seed, "model": m.name, "rl_step": step, **(m.ppl_under_base or {})}
        for r in runs
        for step, m in zip(r.steps, r.result.models, strict=True)
    ]
    return pd.DataFrame(rows)


def class_perplexity_table(runs: list[SeedRun]) -> pd.DataFrame:
    """PPL under the base of each token class of each model's samples, per seed."""
    rows = [
        {"seed": r.seed, "model": m.name, "rl_step": step, "class": cls, **figures}
        for r in runs
        for step, m in zip(r.steps, r.result.models, strict=True)
        for cls, figures in (m.ppl_by_class or {}).items()
    ]
    return pd.DataFrame(rows, columns=["seed", "model", "rl_step", "class", "ppl", "tokens"])


def class_drift(table: pd.DataFrame) -> dict[str, float]:
    """Token class -> PPL under the base of the final checkpoint's samples over that of the
    base's own samples (mean over seeds of the per-seed ratios); classes both models had."""
    ratios: dict[str, list[float]] = {}
    for (_, cls), rows in table.groupby(["seed", "class"]):
        rows = rows.sort_values("rl_step")
        if len(rows) > 1 and rows["rl_step"].iloc[0] == 0:
            ratios.setdefault(cls, []).append(rows["ppl"].iloc[-1] / rows["ppl"].iloc[0])
    return {cls: float(np.mean(values)) for cls, values in sorted(ratios.items())}


def drift_text(drift: dict[str, float]) -> str:
    """Where the drift sits, by token class, as a sentence ending in the next question."""
    if not drift:
        return (
            "No sample followed the task's template, so the drift cannot be placed on "
            "plan or execution tokens."
        )
    ranked = sorted(drift.items(), key=lambda item: -item[1])
    ratios = ", ".join(f"{cls} x{ratio:.2f}" for cls, ratio in ranked)
    return (
        f"By token class, PPL under the base rose {ratios} (final RL over the base's own "
        f"samples): the drift sits most on {ranked[0][0]} tokens. Does a reward that "
        "checks those tokens remove it?"
    )


def median_ppl(runs: list[SeedRun]) -> tuple[float, float]:
    """Median PPL under the base of the base's and the final checkpoint's samples (mean
    over seeds of the per-seed medians)."""
    medians = [
        [(m.ppl_under_base or {}).get("median", np.nan) for m in r.result.models] for r in runs
    ]  # (S, M)
    return float(np.mean([row[0] for row in medians])), float(np.mean([row[-1] for row in medians]))


def training_table(runs: list[SeedRun]) -> pd.DataFrame:
    """The RL runs' logged steps: rollout reward, token entropy (nats), KL to the base."""
    keys = ("step", "reward", "entropy", "entropy/plan", "entropy/exec", "kl_start")
    rows = [
        {"seed": r.seed, **{k: line[k] for k in keys if k in line}}
        for r in runs
        for line in r.training
    ]
    return pd.DataFrame(rows)
