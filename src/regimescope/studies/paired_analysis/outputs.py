"""Tables, figures and the verdict's words for the paired-analysis study (study 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from regimescope.studies.paired_analysis import analysis
from regimescope.studies.verdict import Decision

POSITIONS = ("BOS", "x1", "x2", "x3", "x4", "=")  # the tokens of every prompt
CAPTIONS = {
    "probes": (
        "Held-out probe accuracy at the final position after each layer (0: embeddings), on "
        "prompts where C and D are independent; solid: trained organisms, dashed: their "
        "random-init copies, dotted: the control task (mean over seeds)."
    ),
    "patching": (
        "Whole-site activation patching: the share of the answer's logit difference restored "
        "by copying one site at one position from the clean prompt into the one with x1 and "
        "x2 exchanged (mean over seeds)."
    ),
    "interventions": (
        "Left: the answer's logit difference moved by swapping each variable's mean-difference "
        "direction at the decision site, as a share of its whole swing when C flips (one point "
        "per seed). Right: interchange-intervention accuracy of C's learned k-d subspace, "
        "trained against random-init copy."
    ),
}


def save(ctx, measures, cfg) -> None:
    """``tables/probes.csv``, ``patching.csv``, ``interventions.csv`` and three figures."""
    probes = analysis.probe_table(measures)
    patching = patching_table(measures)
    interventions = intervention_table(measures, cfg)
    ctx.save_table("probes", probes)
    ctx.save_table("patching", patching)
    ctx.save_table("interventions", interventions)
    ctx.save_figure("probes", plot_probes(probes), CAPTIONS["probes"])
    ctx.save_figure("patching", plot_patching(patching), CAPTIONS["patching"])
    ctx.save_figure("interventions", plot_interventions(interventions), CAPTIONS["interventions"])


def patching_table(measures) -> pd.DataFrame:
    rows = []
    for seed_index, m in enumerate(measures):
        for s, site in enumerate(m.patch_sites):
            for p, token in enumerate(POSITIONS[: m.patching.shape[1]]):
                rows.append(
                    {
                        "seed": seed_index,
                        "site": site,
                        "position": token,
                        "effect": float(m.patching[s, p]),
                    }
                )
    return pd.DataFrame(rows)


def intervention_table(measures, cfg) -> pd.DataFrame:
    """Per seed: accuracies, each direction's effect, and IIA per k on both models."""
    rows = []
    for seed, m in zip(cfg.seeds, measures, strict=True):
        row = {"seed": seed, **{f"accuracy_{s}": a.mean() for s, a in m.accuracy.items()}}
        swing = m.swing.mean()
        row |= {f"effect_{v}": moved.mean() / swing for v, moved in m.effects.items()}
        for label, by_k in m.iia.items():
            row |= {f"iia_{label}_k{k}": correct.mean() for k, correct in by_k.items()}
        rows.append(row)
    return pd.DataFrame(rows)


def reason(overall: Decision, measures) -> str:
    """The overall branch, then the numbers a reader checks first."""
    table = analysis.probe_table(measures)
    last = table[(table.model == "model") & (table.layer == table.layer.max())]
    acc = last.groupby("variable").accuracy.mean()
    effects = {
        v: np.mean([m.effects[v].mean() / m.swing.mean() for m in measures])
        for v in ("causal", "distractor")
    }
    decorrelated = min(m.accuracy["decorrelated"].mean() for m in measures)
    return (
        f"{overall.reason}. At the decision site the probes read C at {acc['causal']:.3f} and "
        f"D at {acc['distractor']:.3f}; swapping C's direction moves {effects['causal']:.2f} "
        f"of the answer's swing, D's {effects['distractor']:+.2f}; lowest accuracy on "
        f"decorrelated prompts {decorrelated:.3f}."
    )


def follow_up(parts: dict[str, Decision]) -> str:
    """The question the outcome opens."""
    if all(d.verdict == "supports" for d in parts.values()):
        return (
            "Probing rated the unused feature like the used one and only the intervention "
            "told them apart: does RL move where a variable is read and written, or only how "
            "strongly (the same pipeline on a base organism and its RL-trained descendant)?"
        )
    return (
        "The pairing did not play out as registered here: is the distractor encoded apart "
        "from C at this width, and does a longer DAS search or a per-layer decision site "
        "change which part holds?"
    )


def design_notes(cfg) -> str:
    loop = cfg.run.loop
    return (
        f"{len(cfg.seeds)} organisms (width {loop.organism.width}, {loop.organism.depth} "
        f"blocks, {loop.steps} steps); {cfg.probe_prompts} probe prompts (30% held out), "
        f"{cfg.pairs} intervention pairs; DAS k = {', '.join(map(str, cfg.das_ks))} with "
        f"{cfg.das_steps} Adam steps; the base-versus-RL comparison is not built yet"
    )


def plot_probes(probes: pd.DataFrame):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    means = probes.groupby(["model", "variable", "layer"]).mean(numeric_only=True).reset_index()
    colours = {"causal": "tab:blue", "distractor": "tab:orange"}
    for (label, variable), group in means.groupby(["model", "variable"]):
        style = "-" if label == "model" else "--"
        name = analysis.VARIABLE_NAMES[variable] + ("" if label == "model" else ", random init")
        ax.plot(group.layer, group.accuracy, style, color=colours[variable], marker="o", label=name)
        if label == "model":
            ax.plot(group.layer, group.control_accuracy, ":", color=colours[variable])
    ax.set(xlabel="layer (0: embeddings)", ylabel="held-out probe accuracy", ylim=(0.4, 1.02))
    ax.set_xticks(sorted(probes.layer.unique()))
    ax.legend(fontsize=7)
    return fig


def plot_patching(patching: pd.DataFrame):
    plt = pyplot()
    grid = patching.groupby(["site", "position"], sort=False).effect.mean().unstack()
    grid = grid.reindex(index=patching.site.unique(), columns=list(patching.position.unique()))
    fig, ax = plt.subplots(figsize=(5.5, 0.35 * len(grid) + 1.2))
    image = ax.imshow(grid.to_numpy(), cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=7)
    fig.colorbar(image, ax=ax, label="normalised effect")
    return fig


def plot_interventions(table: pd.DataFrame):
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for i, variable in enumerate(("causal", "distractor")):
        values = table[f"effect_{variable}"]
        left.scatter(np.full(len(values), i), values, color="k", s=18)
    left.set_xticks([0, 1], ["C's direction", "D's direction"])
    left.axhline(0, color="grey", lw=0.5)
    left.set(ylabel="share of the answer's swing moved")
    for label, style in (("model", "-o"), ("random_init", "--o")):
        columns = [c for c in table.columns if c.startswith(f"iia_{label}_k")]
        ks = [int(c.rsplit("k", 1)[1]) for c in columns]
        right.plot(ks, table[columns].mean().to_numpy(), style, label=label.replace("_", "-"))
    right.set(xlabel="subspace size k", ylabel="IIA (held-out pairs)", ylim=(0, 1.02))
    right.set_xticks(sorted({int(c.rsplit("k", 1)[1]) for c in table.columns if "_k" in c}))
    right.legend(fontsize=7)
    return fig


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
