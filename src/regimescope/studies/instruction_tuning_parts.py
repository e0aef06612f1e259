"""Measurement, statistics and figures of the instruction-tuning study (study 1).

``Bench`` scores a model folder on fixed problems of the rules task's splits, one row per
problem: exact match ``em``, label-space validity ``valid``, the random-in-label-space
baseline ``random`` = 1/|labels|, and the task component ``task`` = em - valid * random.
``Stats`` turns those rows into effects with 95% intervals from the hierarchical
bootstrap over seeds and problems (``studies.stats``). The problems of one rule are
correlated and the claim is about unseen *tasks*, so a problem here is a rule: scores are
first averaged over the instances of each rule (every rule weighs the same), and the
bootstrap resamples seeds, then rules. Differences are paired by seed and rule, since
every model answers the same instances.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from regimescope.organisms import load_model
from regimescope.sampler.decode import SamplingConfig, sample
from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.verdict import Decision, Effect, fmt
from regimescope.tasks import render_prompt
from regimescope.tasks.rules import LABEL_VOCAB

METRICS = ("em", "valid", "task", "random")
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
    "(bands: 95% bootstrap over seeds and problems)."
)
ANSWER_TOKENS = max(len(label) for label in LABEL_VOCAB) + 1  # longest label, then a stop


def tested_in(train_mode: str) -> str:
    """The prompt mode a tuned model is tested in: its own, but demonstrations stay correct."""
    return "original" if train_mode == "delusive" else train_mode


class Bench:
    """Fixed test problems of the rules task (problem i of a split is the same for all)."""

    def __init__(self, task, splits: tuple[str, ...], problems: int):
        self.task = task
        self.examples = {s: [task.example(i, s, 0) for i in range(problems)] for s in splits}

    def score(self, folder: str, mode: str, **keys) -> pd.DataFrame:
        """One row per (split, problem) for the model in ``folder``, tested in ``mode``."""
        model, tokenizer = load_model(folder)
        sampling = SamplingConfig(n=1, temperature=0.0, max_new_tokens=ANSWER_TOKENS)
        rows = []
        for split, items in self.examples.items():
            prompts = [render_prompt(e.meta, mode) for e in items]
            outputs = sample(model, tokenizer, prompts, sampling)
            for i, (example, out) in enumerate(zip(items, outputs, strict=True)):
                score = self.task.verify(example, out[0].text)
                rows.append({**keys, "split": split, "problem": i, **measure(example, score)})
        frame = pd.DataFrame(rows)
        frame["task"] = frame["em"] - frame["valid"] * frame["random"]
        return frame


def measure(example, score) -> dict:
    """One problem's record: its rule, the parsed answer, EM, validity, 1/|labels|."""
    return {
        "rule": example.meta["rule_id"],
        "answer": score.answer,
        "em": score.reward,
        "valid": float(score.details["in_label_space"]),
        "random": 1.0 / len(example.meta["labels"]),
    }


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True)


class Stats:
    """Effects with intervals from the per-problem scores of every model."""

    def __init__(self, scores: pd.DataFrame, resamples: int):
        self.scores = scores
        self.resamples = resamples
        self.groups = dict(iter(scores.groupby(["condition", "per_rule", "split"])))

    def values(self, condition: str, split: str, per_rule: float, metric: str) -> np.ndarray:
        """(S seeds, R rules) array of ``metric`` averaged over each rule's instances; the
        untuned model ignores ``per_rule``."""
        rows = self.groups[(condition, 0 if condition == "untuned" else per_rule, split)]
        table = rows.groupby(["seed", "rule"])[metric].mean().unstack("rule")
        return table.sort_index().sort_index(axis=1).to_numpy(dtype=float)

    def effect(self, name: str, values: np.ndarray) -> Effect:
        estimate, ci = hierarchical_bootstrap(values, resamples=self.resamples)
        return Effect(name, estimate, ci, "fraction")

    def gap(self, a: str, b: str, split: str, per_rule: float, metric: str = "em") -> Effect:
        """Paired difference of ``metric``, condition a - condition b."""
        diff = self.values(a, split, per_rule, metric) - self.values(b, split, per_rule, metric)
        return self.effect(f"{metric} {a} - {b}, {split}, {per_rule:g}/rule", diff)

    def vs_random(self, condition: str, split: str, per_rule: float) -> Effect:
        """Exact match minus random guessing in the label space (the paper's comparison)."""
        em = self.values(condition, split, per_rule, "em")
        chance = self.values(condition, split, per_rule, "random")
        return self.effect(
            f"em {condition} - random in label space, {split}, {per_rule:g}/rule", em - chance
        )

    def summary(self) -> pd.DataFrame:
        """Tidy table: condition, per_rule, split, metric, estimate, low, high."""
        rows = []
        keys = self.scores[["condition", "per_rule", "split"]].drop_duplicates()
        for condition, per_rule, split in keys.itertuples(index=False):
            for metric in METRICS:
                e = self.effect(metric, self.values(condition, split, per_rule, metric))
                rows.append(
                    {
                        "condition": condition,
                        "per_rule": per_rule,
                        "split": split,
                        "metric": metric,
                        "estimate": e.estimate,
                        "low": e.ci95[0],
                        "high": e.ci95[1],
                    }
                )
        return pd.DataFrame(rows)

    def where(
        self, sizes: tuple[float, ...], kind: Callable[[Effect, Effect], str]
    ) -> pd.DataFrame:
        """Per (split, size): the original model's task component, validity gain over the
        untuned model, instruction gap (original - simplified EM), and what transferred."""
        rows = []
        for split in self.scores.split.unique():
            for size in sizes:
                task = self.effect(
                    f"task component, original, {split}, {size:g}/rule",
                    self.values("original", split, size, "task"),
                )
                validity = self.gap("original", "untuned", split, size, "valid")
                rows.append(
                    {
                        "split": split,
                        "per_rule": size,
                        **flat("task", task),
                        **flat("validity_gain", validity),
                        **self.instruction_gap(split, size),
                        "kind": kind(task, validity),
                    }
                )
        return pd.DataFrame(rows)

    def instruction_gap(self, split: str, size: float) -> dict[str, float]:
        """What the rule description adds: original - simplified EM."""
        return flat("instruction_gap", self.gap("original", "simplified", split, size))


def flat(prefix: str, effect: Effect) -> dict[str, float]:
    return {
        prefix: effect.estimate,
        f"{prefix}_low": effect.ci95[0],
        f"{prefix}_high": effect.ci95[1],
    }


def where_effects(where: pd.DataFrame) -> list[Effect]:
    """The task component of every (split, size) cell, as verdict effects."""
    return [
        Effect(
            f"task component, original, {r.split}, {r.per_rule:g}/rule",
            r.task,
            (r.task_low, r.task_high),
        )
        for r in where.itertuples()
    ]


def reason(
    overall: Decision, decisions: dict[str, Decision], validity: Effect, where: pd.DataFrame
) -> str:
    """The verdict's reason: the overall branch, the parts that did not support (with their
    numbers), the output space learned at the primary point, and the map of transfer."""
    open_parts = [d.reason for d in decisions.values() if d.verdict != "supports"]
    details = f" ({'; '.join(open_parts)})" if open_parts else ""
    learned = f"Validity gain over the untuned model there: {fmt(validity)}."
    return f"{overall.reason}{details}. {learned} {where_sentence(where)}"


def where_sentence(where: pd.DataFrame) -> str:
    """``What transferred (original instructions): split: 4/rule output space, ...``."""
    pieces = []
    for split, rows in where.groupby("split", sort=False):
        cells = ", ".join(f"{r.per_rule:g}/rule {r.kind}" for r in rows.itertuples())
        pieces.append(f"{split}: {cells}")
    return "What transferred with original instructions: " + "; ".join(pieces) + "."


def follow_up(where: pd.DataFrame) -> str:
    """The question the map of what transferred opens."""
    task_cells = where[where.kind == "task"]
    held = task_cells[task_cells.split != "test"]
    if held.empty and task_cells.empty:
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


def design_notes(cfg, full_seeds: int, full_sizes: int) -> str:
    """What this run left out of the full design, and the definition of the sweep."""
    notes = []
    if len(cfg.seeds) < full_seeds:
        notes.append(
            f"{len(cfg.seeds)} seed(s) instead of >= {full_seeds}: intervals cover "
            "problems, not the spread over training seeds"
        )
    if len(cfg.per_rule) < full_sizes:
        notes.append(
            f"{len(cfg.per_rule)} points of the examples-per-rule sweep instead of >= {full_sizes}"
        )
    if cfg.base_scale == "smoke":
        notes.append("nano organisms and a few steps: a plumbing check, not evidence")
    notes.append(
        "examples per rule are expected counts (each example's rule is drawn "
        "uniformly from the training rules); SFT runs one pass, so fewer examples "
        "also means fewer steps"
    )
    return "; ".join(notes) + "."


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
