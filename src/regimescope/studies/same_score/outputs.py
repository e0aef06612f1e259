"""Tables, figures and the verdict's words for the same-score study (study 8, parts A-C)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from regimescope.studies.verdict import Decision

CAPTIONS = {
    "internals": (
        "Each trained model as a point: gradient symmetricity against distance irrelevance, "
        "coloured by the attention dial α (Pizza: high symmetricity, low distance "
        "irrelevance; Clock: the reverse); test accuracy in the legend."
    ),
    "cka": (
        "Linear CKA of the residual stream at the last position on all p² inputs between "
        "every pair of models, ordered by α then seed (1 on the diagonal)."
    ),
    "shortcut": (
        "Part B: each shortcut organism (one seed of one recipe) as a point, held-out "
        "in-distribution accuracy against accuracy on prompts where the shortcut gives the "
        "wrong answer; the dashed line is the band of the same score."
    ),
    "costs": (
        "Part C: the trade-off curves over GRPO steps (step 0 is the base, seeds pooled): "
        "accuracy (share of correct samples), ECE of the greedy completion's probability, "
        "per-input EAD of the first samples of each problem, and early-answering AOC of "
        "the greedy scratchpad."
    ),
}


def save(ctx, models: pd.DataFrame, pairs: pd.DataFrame, summary: pd.DataFrame) -> None:
    """``tables/models.csv``, ``summary.csv``, ``cka_pairs.csv`` and the two figures."""
    ctx.save_table("models", models)
    ctx.save_table("summary", summary)
    ctx.save_table("cka_pairs", pairs)
    ctx.save_figure("internals", plot_internals(models), CAPTIONS["internals"])
    ctx.save_figure("cka", plot_cka(models, pairs), CAPTIONS["cka"])


def save_shortcut(ctx, table: pd.DataFrame, band: float) -> None:
    """Part B: ``tables/shortcut.csv`` and its figure."""
    from regimescope.studies.same_score.generalisation import plot

    ctx.save_table("shortcut", table)
    ctx.save_figure("shortcut", plot(table, band), CAPTIONS["shortcut"])


def save_costs(ctx, readings: pd.DataFrame, curves: pd.DataFrame) -> None:
    """Part C: ``tables/costs.csv`` (per seed, step and problem), ``cost_curves.csv`` (per
    step) and the trade-off figure."""
    from regimescope.studies.same_score.costs import plot

    ctx.save_table("costs", readings)
    ctx.save_table("cost_curves", curves)
    ctx.save_figure("costs", plot(curves), CAPTIONS["costs"])


def reason(
    overall: Decision,
    parts: dict[str, Decision],
    models: pd.DataFrame,
    shortcut: pd.DataFrame,
    curves: pd.DataFrame,
) -> str:
    """The overall branch, the parts that did not support, and the accuracy ranges."""
    open_parts = dict.fromkeys(d.reason for d in parts.values() if d.verdict != "supports")
    details = f" ({'; '.join(open_parts)})" if open_parts else ""
    low, high = models.test_accuracy.min(), models.test_accuracy.max()
    scores = f"Test accuracy of the {len(models)} models: {low:.3f}-{high:.3f}."
    columns = {split: shortcut[f"{split}_accuracy"] for split in ("test", "conflict")}
    ranges = {split: f"{c.min():.3f}-{c.max():.3f}" for split, c in columns.items()}
    part_b = (
        f" Part B, {len(shortcut)} shortcut organisms: in distribution {ranges['test']}, "
        f"where the shortcut is wrong {ranges['conflict']}."
    )
    first, last = curves.iloc[0], curves.iloc[-1]
    part_c = (
        f" Part C, base to RL step {int(last.step)}: accuracy {first.accuracy:.3f} -> "
        f"{last.accuracy:.3f}, ECE {first.ece:.3f} -> {last.ece:.3f}, EAD "
        f"{first.diversity:.3f} -> {last.diversity:.3f}, AOC {first.aoc:.3f} -> {last.aoc:.3f}."
    )
    return f"{overall.reason}{details}. {scores}{part_b}{part_c}"


def follow_up(parts: dict[str, Decision]) -> str:
    """The question the outcome opens."""
    if all(d.verdict == "supports" for d in parts.values()):
        return (
            "Equal accuracy, different algorithms and different generalisation: what does "
            "RL's accuracy gain cost in calibration, diversity and faithfulness (part C), "
            "and does the shortcut spread shrink with longer training or grow with width?"
        )
    costs = [d for name, d in parts.items() if name.endswith("(part C)")]
    if costs and any(d.verdict != "supports" for d in costs):
        return (
            "Not every cost of RL's gain showed as registered: which costs grow with longer "
            "RL or a larger organism, and does the ECE of a forced answer token (instead of "
            "the whole completion) move differently?"
        )
    if parts.get("generalisation differs at the same score", Decision("", "")).verdict != (
        "supports"
    ):
        return (
            "The shortcut organisms did not spread as registered: at what training length "
            "do seeds of one recipe agree in distribution yet disagree where the shortcut "
            "breaks, and does the spread outlive longer training?"
        )
    return (
        "The α groups did not separate on every measure: at what width and training length "
        "does the Clock/Pizza split become clean, and which measure (symmetricity, distance "
        "irrelevance, CKA) is the reliable one at tiny scale?"
    )


def design_notes(cfg, scale: str) -> str:
    notes = [
        f"{len(cfg.seeds)} seeds per α: intervals resample seeds within α",
        f"part B: {len(cfg.shortcut.seeds)} shortcut organisms, {cfg.shortcut.prompts} "
        "prompts per split",
        f"part C: {len(cfg.costs.seeds)} seed(s) of study 2's GRPO run (the countdown base "
        f"stands in for SFT), {cfg.costs.eval.problems} problems x "
        f"{cfg.costs.eval.sampling.n} samples; intervals resample seeds and problems",
    ]
    if scale == "smoke":
        notes.append("tiny models and few steps: a plumbing check, not evidence")
    return "; ".join(notes)


def plot_internals(models: pd.DataFrame):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for alpha, group in models.groupby("alpha"):
        accuracy = f"test acc {group.test_accuracy.min():.3f}-{group.test_accuracy.max():.3f}"
        ax.scatter(
            group.distance_irrelevance,
            group.symmetricity,
            s=30,
            label=f"α = {alpha:g} ({accuracy})",
        )
    ax.set(xlabel="distance irrelevance (Clock ≈ 1)", ylabel="gradient symmetricity (Pizza ≈ 1)")
    ax.legend(fontsize=7)
    return fig


def plot_cka(models: pd.DataFrame, pairs: pd.DataFrame):
    plt = pyplot()
    keys = [
        tuple(k)
        for k in models.sort_values(["alpha", "seed"])[["alpha", "seed"]].itertuples(index=False)
    ]
    index = {k: i for i, k in enumerate(keys)}
    matrix = np.eye(len(keys))
    for r in pairs.itertuples():
        i, j = index[(r.alpha_1, r.seed_1)], index[(r.alpha_2, r.seed_2)]
        matrix[i, j] = matrix[j, i] = r.cka
    fig, ax = plt.subplots(figsize=(1.5 + 0.35 * len(keys), 1.2 + 0.35 * len(keys)))
    image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
    labels = [f"α{a:g}/s{s}" for a, s in keys]
    ax.set_xticks(range(len(keys)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(keys)), labels, fontsize=7)
    fig.colorbar(image, ax=ax, label="linear CKA")
    return fig


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
