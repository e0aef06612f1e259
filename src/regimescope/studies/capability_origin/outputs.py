"""Study 4's tables and figures: pooled pass@k per cell, the raw per-problem counts (both
base draws), creation against the null per cell with its mirror, the base's competence,
the GRPO training logs and every effect; pass@k curves, creation excess and pass@1 gain
per cell, GRPO rollout rewards, and creation against the base's competence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from regimescope.instruments import passk as pk
from regimescope.studies.capability_origin.experiment import FAMILIES, SeedRun
from regimescope.studies.stats import bootstrap_mean
from regimescope.studies.verdict import effects_frame

COLORS = {"A": "tab:blue", "B": "tab:orange", "C": "tab:grey"}

# ---------------------------------------------------------------- the study folder


def save(ctx, cfg, measured: tuple, found, labels, primary, thresholds) -> None:
    """Tables and figures of the study folder. ``measured``: (training table, cell counts,
    reference counts, atomic counts); ``primary``: the verdict's effects; ``thresholds``:
    the rule's (creation excess, pass@1 gain) lines, drawn on the creation figure."""
    training, cell_counts, reference, atomic = measured
    n, resamples = cfg.eval.sampling.n, cfg.bootstrap
    creation_min, gain_min = thresholds
    passk = passk_table(cell_counts, n, resamples)
    creation = creation_table(found, cell_counts, reference, n, labels)
    competence = competence_table(cell_counts, atomic, n, resamples)
    cells = {f"{f}{d}/{key}": e for (f, d), cell in found.items() for key, e in cell.items()}
    ctx.save_table("passk", passk)
    ctx.save_table("per_problem", per_problem_table(cfg.seeds, cell_counts, reference, atomic, n))
    ctx.save_table("creation", creation)
    ctx.save_table("competence", competence)
    ctx.save_table("rl_training", training)
    ctx.save_table("effects", effects_frame(primary | cells))
    ctx.save_figure(
        "passk_curves",
        figure_passk(passk, creation, cfg.depths, n),
        f"pass@k of the base and of GRPO on the same family, on {cfg.eval.problems} "
        "held-out problems per family and depth; bands are 95% crossed bootstrap intervals.",
    )
    ctx.save_figure(
        "creation",
        figure_creation(creation, n, creation_min, gain_min),
        "Creation excess (RL's creation rate minus the base's own draw's, on the problems a "
        "reference draw of the base never solves) and pass@1 gain per family and depth, "
        "with 95% bootstrap intervals.",
    )
    ctx.save_figure(
        "rl_rewards",
        figure_rewards(training),
        "Mean rollout reward during GRPO on depth-2 compositions of each family; family C "
        "lacks the atomic skills.",
    )
    ctx.save_figure(
        "competence",
        figure_competence(competence, creation, n),
        f"Base pass@{n} by family and depth (left) and the creation excess of each cell "
        "against the base's competence on it (right), 95% intervals.",
    )


# ---------------------------------------------------------------- tables


def passk_table(cell_counts: dict, n: int, resamples: int) -> pd.DataFrame:
    """Pooled pass@k of base and RL per cell and k (crossed 95% interval)."""
    rows = []
    for (family, depth), counts in cell_counts.items():
        for index, model in enumerate(("base", "RL")):
            for k in pk.k_grid(n):
                values = np.array([pk.pass_at_k_table(c, n, [k])[:, 0] for c in counts[:, index]])
                found = bootstrap_mean(values, resamples)
                low, high = found.interval()
                rows.append(
                    dict(family=family, depth=depth, model=model, k=k, pass_at_k=found.estimate)
                    | dict(ci_low=low, ci_high=high)
                )
    return pd.DataFrame(rows)


def per_problem_table(seeds, cell_counts: dict, reference: dict, atomic: dict, n: int):
    """Correct samples of every (seed, family, depth, model, problem): the raw data. The
    base's second draw is model ``base (reference draw)``."""
    series = [(f, 1, "base", counts) for f, counts in atomic.items()]  # each (S, P)
    series += [
        (f, d, model, counts[:, index])
        for (f, d), counts in cell_counts.items()
        for index, model in enumerate(("base", "RL"))
    ]
    series += [(f, d, "base (reference draw)", counts) for (f, d), counts in reference.items()]
    rows = [
        dict(seed=seed, family=f, depth=d, model=model, problem=p, correct=int(c), n=n)
        for f, d, model, by_seed in series
        for seed, row in zip(seeds, by_seed, strict=True)
        for p, c in enumerate(row)
    ]
    return pd.DataFrame(rows)


CREATION_COLUMNS = (
    "creation_excess",
    "gain",
    "creation",
    "creation_null",
    "loss",
    "loss_null",
    "net_coverage",
    "only_excess",
)


def creation_table(
    found: dict, cell_counts: dict, reference: dict, n: int, labels: dict
) -> pd.DataFrame:
    """Per cell: reference-unsolved problems, how many RL and the base's own draw solve,
    the creation excess, the raw rates and their nulls, loss, net coverage, k*, label."""
    rows = []
    for (family, depth), e in found.items():
        counts, unsolved = cell_counts[family, depth], reference[family, depth] == 0
        row = dict(family=family, role=FAMILIES[family], depth=depth, problems=unsolved.size)
        row |= dict(reference_unsolved=int(unsolved.sum()), unseen_bound=3.0 / n)
        row |= dict(created=int((unsolved & (counts[:, 1] > 0)).sum()))
        row |= dict(created_by_base=int((unsolved & (counts[:, 0] > 0)).sum()))
        for key in CREATION_COLUMNS:
            row |= {key: e[key].estimate, f"{key}_low": e[key].ci95[0]}
            row[f"{key}_high"] = e[key].ci95[1]
        row |= dict(crossover_k=e["crossover"].estimate, base_passn=e["base_passn"].estimate)
        rows.append(row | dict(rl_passn=e["rl_passn"].estimate, label=labels[family, depth]))
    return pd.DataFrame(rows)


def competence_table(cell_counts: dict, atomic: dict, n: int, resamples: int) -> pd.DataFrame:
    """The base's pass@1 and pass@n per family and depth (depth 1 = atomic skills)."""
    base = {(f, 1): c for f, c in atomic.items()}
    base |= {cell: c[:, 0] for cell, c in cell_counts.items()}
    rows = []
    for (family, depth), counts in sorted(base.items()):
        for metric, values in (("pass@1", counts / n), (f"pass@{n}", counts > 0)):
            found = bootstrap_mean(values.astype(float), resamples)
            low, high = found.interval()
            rows.append(
                dict(family=family, role=FAMILIES[family], depth=depth, metric=metric)
                | dict(value=found.estimate, ci_low=low, ci_high=high)
            )
    return pd.DataFrame(rows)


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


# ---------------------------------------------------------------- figures


def figure_passk(table: pd.DataFrame, creation: pd.DataFrame, depths, n: int) -> Figure:
    """pass@k curves of base and RL, one panel per family (rows) and depth (columns)."""
    families = ["A", "B"]
    figure = Figure(figsize=(3.2 * len(depths), 5.6), layout="constrained")
    axes = figure.subplots(len(families), len(depths), squeeze=False, sharey=True)
    for row, family in enumerate(families):
        for col, depth in enumerate(depths):
            ax = axes[row][col]
            cell = table[(table["family"] == family) & (table["depth"] == depth)]
            for model, color, name in (("base", "black", "base"), ("RL", "tab:red", "GRPO")):
                curve = cell[cell["model"] == model]
                ax.plot(curve["k"], curve["pass_at_k"], "o-", ms=3, color=color, label=name)
                ax.fill_between(
                    curve["k"], curve["ci_low"], curve["ci_high"], color=color, alpha=0.15, lw=0
                )
            at = creation[(creation["family"] == family) & (creation["depth"] == depth)]
            k_star = float(at["crossover_k"].iloc[0])
            if 1 < k_star <= n:
                ax.axvline(k_star, color="grey", linestyle=":", label=f"k* = {k_star:g}")
            ax.set_xscale("log", base=2)
            ax.set(title=f"{family}{depth}: {FAMILIES[family]}, depth {depth}", ylim=(-0.02, 1.02))
            ax.title.set_fontsize(8)
            if row == len(families) - 1:
                ax.set_xlabel("k (samples per problem, log scale)")
            if col == 0:
                ax.set_ylabel("pass@k (share of held-out problems)")
            ax.legend(fontsize=7)
    return figure


def figure_creation(table: pd.DataFrame, n: int, creation_min: float, gain_min: float) -> Figure:
    """Creation excess and pass@1 gain per cell, 95% intervals, with the rule's thresholds."""
    figure = Figure(figsize=(9, 3.8), layout="constrained")
    left, right = figure.subplots(1, 2)
    names = [f"{f}{d}" for f, d in zip(table["family"], table["depth"], strict=True)]
    colors = [COLORS[f] for f in table["family"]]
    x = np.arange(len(table))
    panels = (
        (left, "creation_excess", "creation excess, RL - base's own draw", creation_min),
        (right, "gain", "pass@1 gain, RL - base", gain_min),
    )
    for ax, key, title, threshold in panels:
        value = table[key]
        err = [value - table[f"{key}_low"], table[f"{key}_high"] - value]
        ax.bar(x, value, yerr=err, capsize=3, color=colors)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axhline(threshold, color="grey", linestyle="--", linewidth=1, label="rule threshold")
        ax.set_xticks(x, names)
        ax.set(xlabel="family and depth (A2 = family A, depth 2)", title=title)
    left.set_ylabel(f"share of reference-unsolved problems (0 of {n})")
    right.set_ylabel("pass@1 difference (fraction)")
    handles = [Patch(color=c, label=f"{f}: {FAMILIES[f]}") for f, c in COLORS.items()]
    handles += right.get_legend_handles_labels()[0]
    right.legend(
        handles=handles,
        fontsize=7,
        title=f"creation: base rate there < 3/n = {3 / n:.3f}",
        title_fontsize=7,
    )
    return figure


def figure_rewards(table: pd.DataFrame, window: int = 5) -> Figure:
    """Rollout reward during GRPO per family (mean over the last ``window`` steps)."""
    figure = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = figure.subplots()
    for (family, seed), lines in table.groupby(["family", "seed"]):
        smooth = lines["reward"].rolling(window, min_periods=1).mean()
        ax.plot(
            lines["step"],
            smooth,
            color=COLORS[family],
            alpha=0.5 + 0.5 / (1 + seed),
            label=f"{family}: {FAMILIES[family]}" + (f", seed {seed}" if seed else ""),
        )
    ax.set(
        xlabel="GRPO step",
        ylabel=f"rollout reward (share correct, {window}-step mean)",
        title="GRPO on depth-2 compositions of each family",
        ylim=(-0.02, 1.02),
    )
    ax.legend(fontsize=7)
    return figure


def figure_competence(table: pd.DataFrame, creation: pd.DataFrame, n: int) -> Figure:
    """Left: base competence by family and depth. Right: creation rate against competence."""
    figure = Figure(figsize=(9, 3.8), layout="constrained")
    left, right = figure.subplots(1, 2)
    for family, rows in table[table["metric"] == f"pass@{n}"].groupby("family"):
        err = [rows["value"] - rows["ci_low"], rows["ci_high"] - rows["value"]]
        left.errorbar(
            rows["depth"],
            rows["value"],
            yerr=err,
            marker="o",
            capsize=3,
            color=COLORS[family],
            label=f"{family}: {FAMILIES[family]}",
        )
    left.set_xticks(sorted(table["depth"].unique()))
    left.set(
        xlabel="composition depth (1 = atomic)",
        ylabel=f"base pass@{n} (share of problems)",
        title="base competence, 95% CI",
        ylim=(-0.02, 1.02),
    )
    left.legend(fontsize=7)
    for family, rows in creation.groupby("family"):
        err = [
            rows["creation_excess"] - rows["creation_excess_low"],
            rows["creation_excess_high"] - rows["creation_excess"],
        ]
        right.errorbar(
            rows["base_passn"],
            rows["creation_excess"],
            yerr=err,
            fmt="o",
            capsize=3,
            color=COLORS[family],
            label=family,
        )
        for _, row in rows.iterrows():
            right.annotate(
                f"{family}{row['depth']}",
                (row["base_passn"], row["creation_excess"]),
                fontsize=7,
                xytext=(4, 2),
                textcoords="offset points",
            )
    right.set(
        xlabel=f"base pass@{n} of the cell (competence)",
        ylabel="creation excess (share of reference-unsolved)",
        title="creation excess against base competence, 95% CI",
        xlim=(-0.05, 1.05),
    )
    right.legend(fontsize=7)
    return figure
