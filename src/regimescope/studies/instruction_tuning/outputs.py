"""Tables, figure and the verdict's words for the instruction-tuning study (study 1)."""

from __future__ import annotations

import pandas as pd

from regimescope.studies.verdict import Decision, Effect, fmt

LABELS = {  # metric -> axis label
    "em": "exact match (fraction)",
    "valid": "answers in label space (fraction)",
    "task": "EM - valid/|labels| (fraction)",
}
LIMITS = {"em": (-0.02, 1.02), "valid": (-0.02, 1.02), "task": (-0.25, 0.55)}  # y-axis ranges
CAPTION = (
    "Exact match, label-space validity and task component (EM above what a valid answer "
    "that ignores the input scores) on each split against examples per training rule, per "
    "tuning condition, with the untuned model and random guessing in the label space "
    "(bands: 95% crossed bootstrap over seeds and rules)."
)


def save(ctx, scores: pd.DataFrame, summary: pd.DataFrame, where: pd.DataFrame) -> None:
    """``tables/problems.csv``, ``summary.csv``, ``where.csv`` and ``figures/transfer.png``."""
    ctx.save_table("problems", scores)
    ctx.save_table("summary", summary)
    ctx.save_table("where", where)
    ctx.save_figure("transfer", plot_transfer(summary), CAPTION)


def reason(
    overall: Decision, decisions: dict[str, Decision], validity: Effect, where: pd.DataFrame
) -> str:
    """The verdict's reason: the overall branch, the parts that did not support (with their
    numbers, or the premise that failed, once), the output space learned at the primary point,
    and the map of transfer."""
    open_parts = dict.fromkeys(d.reason for d in decisions.values() if d.verdict != "supports")
    details = f" ({'; '.join(open_parts)})" if open_parts else ""
    learned = f"Validity gain over the untuned model there: {fmt(validity)}."
    return f"{overall.reason}{details}. {learned} {where_sentence(where)}"


def where_sentence(where: pd.DataFrame) -> str:
    """``What transferred with original instructions: test: 4/rule output space, ...``."""
    pieces = []
    for split, rows in where.groupby("split", sort=False):
        cells = ", ".join(f"{r.per_rule:g}/rule {r.kind}" for r in rows.itertuples())
        pieces.append(f"{split}: {cells}")
    return "What transferred with original instructions: " + "; ".join(pieces) + "."


def follow_up(where: pd.DataFrame) -> str:
    """The question the map of what transferred opens."""
    task_cells = where[where.kind == "task"]
    held = task_cells[task_cells.split != "test"]
    if task_cells.empty:
        return (
            "The organism did not learn even the training rules: at what model size and "
            "examples per rule does the task component on seen rules leave zero, and does "
            "transfer to held-out rules follow?"
        )
    if held.empty:
        return (
            "Training rules were learned but nothing beyond the output space reached "
            "held-out rules: does transfer to composable rules appear with more rules, "
            "or only with more examples per rule?"
        )
    return (
        "The task transferred to some held-out cells: is it carried by the instruction "
        "text (original - simplified gap) or by the demonstrations, and why there?"
    )


def design_notes(seeds: int, scale: str) -> str:
    """What the reader needs to read this run's intervals, and the definition of the sweep
    (departures from the full design are added by ``run_study``)."""
    notes = []
    if seeds == 1:
        notes.append("one seed: intervals cover rules, not the spread over training seeds")
    if scale == "smoke":
        notes.append("nano organisms and a few steps: a plumbing check, not evidence")
    notes.append(
        "examples per rule are expected counts (each example's rule is drawn "
        "uniformly from the training rules); SFT runs one pass, so fewer examples "
        "also means fewer steps"
    )
    return "; ".join(notes)  # run_study appends the departures from the full design


def plot_transfer(summary: pd.DataFrame):
    """A row per metric (EM, validity, task component), a column per split; x: examples
    per rule; a line per tuning condition, the untuned model and random guessing flat."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = list(dict.fromkeys(summary.split))
    fig, axes = plt.subplots(
        len(LABELS),
        len(splits),
        figsize=(4.0 * len(splits), 8.4),
        sharex=True,
        sharey="row",
        squeeze=False,
    )
    for row, metric in zip(axes, LABELS, strict=True):
        for ax, split in zip(row, splits, strict=True):
            panel(ax, summary[summary.split == split], metric)
        row[0].set_ylabel(LABELS[metric])
    for ax, split in zip(axes[0], splits, strict=True):
        ax.set_title(split)
    for ax in axes[-1]:
        ax.set_xlabel("examples per training rule (log scale)")
    axes[0][-1].legend(fontsize=7, loc="best")
    return fig


def panel(ax, rows: pd.DataFrame, metric: str) -> None:
    """One split's ``metric``: tuned conditions against size, with 95% bands."""
    tuned = rows[(rows.metric == metric) & (rows.condition != "untuned")]
    for condition, line in tuned.groupby("condition", sort=False):
        line = line.sort_values("per_rule")
        ax.plot(line.per_rule, line.estimate, marker="o", label=condition)
        ax.fill_between(line.per_rule, line.low, line.high, alpha=0.2)
    sizes = sorted(tuned.per_rule.unique())
    untuned = rows[rows.condition == "untuned"]
    level(ax, untuned[untuned.metric == metric], sizes, "untuned", "black", ":")
    if metric == "em":
        level(ax, untuned[untuned.metric == "random"], sizes, "random in label space", "grey", "--")
    if metric == "task":
        ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [f"{s:g}" for s in sizes])
    ax.set_ylim(*LIMITS[metric])


def level(ax, row: pd.DataFrame, sizes: list[float], label: str, color: str, style: str) -> None:
    """A horizontal reference (one value per split) drawn across the sweep, with its band."""
    if row.empty or not sizes:
        return
    r = row.iloc[0]
    ax.hlines(r.estimate, sizes[0], sizes[-1], colors=color, linestyles=style, label=label)
    ax.fill_between(sizes, r.low, r.high, color=color, alpha=0.1)
