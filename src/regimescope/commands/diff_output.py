"""How a checkpoint diff is shown and saved: rich tables, JSON, parquet, a per-layer plot.

Files are written all-or-nothing: each goes to a temporary file in its own folder and is
moved into place with ``os.replace`` once every file has been written, so an error
leaves no half-written output.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from regimescope.errors import BadInput
from regimescope.instruments.diff import DiffResult
from regimescope.instruments.diff_summary import (
    cast_summary,
    groups,
    panel,
    result_dict,
    tensor_entry,
    tensor_frame,
    tolerance_key,
)
from regimescope.instruments.param_names import KINDS


def pct(x: float | None) -> str:
    """A fraction as a short percentage: 3 significant digits, never a misleading 0 or 100.

    >>> pct(0.5), pct(0.999999), pct(1.2e-7), pct(0.0), pct(None)
    ('50%', '>99.9%', '1.2e-05%', '0', '-')
    """
    if x is None or math.isnan(x):
        return "-"
    if x == 0 or x == 1:
        return "0" if x == 0 else "100%"
    text = f"{100 * x:.3g}"
    return ">99.9%" if float(text) >= 100 else f"{text}%"


def num(x: float | None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, '-' when missing."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def short_tol(key: str) -> str:
    """'1e-05' -> '1e-5'."""
    mantissa, _, exponent = key.partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else key


def _row(label: str, figures: dict) -> list[str]:
    rank = figures["rank"]
    return [
        label,
        f"{figures['params']:,}",
        pct(figures["changed_fp32"]),
        pct(figures["changed_bf16"]),
        *(pct(v) for v in figures["changed_atol"].values()),
        pct(figures["bf16_invisible_pred"]),
        pct(figures["bf16_invisible_measured"]),
        num(figures["rel_update_norm"]),
        pct(rank["rank_fraction"]),
        num(rank["stable_rank"]),
        pct(rank["top_r_energy"]),
    ]


def _header(result: DiffResult) -> list[str]:
    keys = [short_tol(tolerance_key(t)) for t in result.config.tolerances]
    top_r = result.config.rank.top_r
    return [
        "group",
        "params",
        "fp32",
        "bf16",
        *(f">{k}" for k in keys),
        "inv pred",
        "inv meas",
        "‖Δ‖/‖W‖",
        "rank",
        "srank",
        f"top-{top_r}",
    ]


def run_table(result: DiffResult, index: int) -> Table:
    """Fractions changed by module kind, by layer and in total, for one tuned checkpoint."""
    run, tolerances = result.runs[index], result.config.tolerances
    by_kind, by_layer = groups(run, tolerances)
    table = Table(
        *_header(result), title=f"{run.tuned}  vs  {result.base}", caption=_caption(result, index)
    )
    by_kind.sort(key=lambda g: KINDS.index(g["kind"]))
    for i, figures in enumerate(by_kind):
        table.add_row(*_row(figures["kind"], figures), end_section=i == len(by_kind) - 1)
    for i, figures in enumerate(by_layer):
        table.add_row(
            *_row(f"layer {figures['layer']}", figures), end_section=i == len(by_layer) - 1
        )
    table.add_row(*_row("total", panel(run.tensors, tolerances)), style="bold")
    return table


def _caption(result: DiffResult, index: int) -> str:
    """What the columns mean, how ranks were taken, and the frozen embedding rows."""
    total = panel(result.runs[index].tensors, result.config.tolerances)
    rank = result.config.rank
    lines = [
        "fractions of parameters changed; inv = share of fp32 changes bf16 does not show "
        "(pred: |Δ| < ½ bf16 ulp of w; meas: bf16 view)",
        f"{rank_line(result, index)}; rank, srank (stable rank), top-{rank.top_r} (energy "
        "share): matrix means",
    ]
    if total["embedding_rows"]:
        without = total["without_frozen_rows"]
        lines.append(
            f"embedding rows with no update (Δ row = 0 in fp32): {total['frozen_rows']:,} of "
            f"{total['embedding_rows']:,}; without them: fp32 {pct(without['changed_fp32'])}, "
            f"bf16 {pct(without['changed_bf16'])}"
        )
    if "changed_beyond_cast" in total:
        lines.append(
            f"changed beyond the cast to the tuned's dtype: {pct(total['changed_beyond_cast'])}"
        )
    if total["nonfinite"]:
        lines.append(f"non-finite weights (inf/NaN), counted as changed: {total['nonfinite']:,}")
    return "\n".join(lines)


def rank_line(result: DiffResult, index: int) -> str:
    """Which matrices got which rank method, and how to ask for the rest."""
    rank, tensors = result.config.rank, result.runs[index].tensors
    exact = sum(1 for t in tensors if t.rank is not None and t.rank.method == "exact")
    estimated = sum(1 for t in tensors if t.rank is not None and t.rank.method == "randomized")
    skipped = sum(t.rank_skipped for t in tensors)
    if rank.method == "none":
        return "rank figures off"
    if rank.method == "exact":
        return f"rank: exact SVD on all {exact} matrices"
    if rank.method == "randomized":
        return (
            f"rank: randomized (top {rank.sketch}, {rank.power_iters} power iterations) on "
            f"{estimated} matrices with smaller side > {rank.exact_max}, exact SVD on {exact}"
        )
    text = f"rank (auto): exact SVD on {exact} matrices with smaller side <= {rank.auto_max}"
    if skipped:
        text += f", skipped on {skipped} larger ones (--rank exact or --rank randomized for them)"
    return text


def cast_headline(result: DiffResult, index: int) -> str | None:
    """One warning line when base and tuned are stored in different dtypes, else None."""
    cast = cast_summary(result.runs[index])
    if cast is None:
        return None
    params = sum(t.counts.params for t in result.runs[index].tensors)
    dtypes = ", ".join(cast["dtypes"])
    head = (
        f"dtypes differ (base->tuned {dtypes}, {cast['tensors']} of {cast['of_tensors']} "
        "tensors): the fp32 and bf16 columns include the cast. "
    )
    by_cast = pct(cast["changed_fp32_by_cast"] / params if params else math.nan)
    if cast["nothing_beyond_cast"]:
        return head + (
            f"Nothing changed beyond the cast (compared in the tuned's dtype): the fp32 "
            f"view's {by_cast} is the cast alone, not training."
        )
    return head + (
        f"Changed beyond the cast (compared in the tuned's dtype): "
        f"{pct(cast['changed_beyond_cast_fraction'])} ({cast['changed_beyond_cast']:,} "
        f"parameters); the cast alone accounts for {by_cast} of the fp32 view."
    )


def overlap_table(result: DiffResult) -> Table:
    """Pairwise mask overlap of the tuned checkpoints, with chance at the same densities."""
    table = Table(
        "a",
        "b",
        "view",
        "changed a",
        "changed b",
        "Jaccard",
        "chance",
        "∩/smaller",
        "chance",
        "chance by tensor (J, ∩/s)",
        title="overlap of changed-parameter masks vs independent masks",
    )
    for row in result.overlap:
        by_tensor = (
            f"{pct(row['chance_jaccard_by_tensor'])}, {pct(row['chance_overlap_min_by_tensor'])}"
        )
        table.add_row(
            row["a"],
            row["b"],
            row["view"],
            pct(row["changed_a"] / row["params"]),
            pct(row["changed_b"] / row["params"]),
            pct(row["jaccard"]),
            pct(row["chance_jaccard"]),
            pct(row["overlap_min"]),
            pct(row["chance_overlap_min"]),
            by_tensor,
        )
    return table


def tensors_table(result: DiffResult, index: int) -> Table:
    """One row per tensor of one tuned checkpoint."""
    tolerances = result.config.tolerances
    keys = [short_tol(tolerance_key(t)) for t in tolerances]
    table = Table(
        "tensor",
        "kind",
        "shape",
        "fp32",
        "bf16",
        *(f">{k}" for k in keys),
        "inv pred",
        "‖Δ‖/‖W‖",
        "rank",
        "srank",
        "erank",
        title=f"tensors: {result.runs[index].tuned}",
    )
    for t in result.runs[index].tensors:
        e = tensor_entry(t, tolerances)
        rank = pct(e["rank_fraction"]) if e["rank"] is not None else "-"
        rank = "skipped" if e["rank_method"] == "skipped" else rank
        table.add_row(
            e["name"],
            e["kind"],
            "×".join(map(str, e["shape"])),
            pct(e["changed_fp32"]),
            pct(e["changed_bf16"]),
            *(pct(v) for v in e["changed_atol"].values()),
            pct(e["bf16_invisible_pred"]),
            num(e["rel_update_norm"]),
            (">=" if e["rank_lower_bound"] else "") + rank,
            num(e["stable_rank"]),
            num(e["effective_rank"]),
        )
    return table


def render(result: DiffResult, console: Console, show_tensors: bool = False) -> None:
    """Print every table of ``result``."""
    for index in range(len(result.runs)):
        if show_tensors:
            console.print(tensors_table(result, index))
        headline = cast_headline(result, index)
        if headline is not None:  # before the table: the cast must not be read as training
            console.print(f"[bold yellow]{escape(headline)}[/]")
        console.print(run_table(result, index))
    if result.overlap:
        console.print(overlap_table(result))
    if result.skipped:
        console.print(f"not compared (not floating point): {', '.join(result.skipped)}")


# --- files ---------------------------------------------------------------------------------


def check_outputs(paths: list[Path | None]) -> None:
    """BadInput, before any work, for an output that could not be written."""
    given = [p for p in paths if p is not None]
    if len({p.resolve() for p in given}) < len(given):
        raise BadInput("--json, --parquet and --plot must name different files")
    for path in given:
        if path.is_dir():
            raise BadInput(f"output {str(path)!r} is a folder; give a file name")
        if not path.parent.is_dir():
            raise BadInput(f"output folder {str(path.parent)!r} does not exist; create it first")


def write_outputs(
    result: DiffResult, json_path: Path | None, parquet: Path | None, plot: Path | None
) -> None:
    """Write the requested files all-or-nothing (temporary files, then ``os.replace``)."""
    writers: dict[Path, Callable[[Path], None]] = {}
    if json_path is not None:
        writers[json_path] = lambda tmp: tmp.write_text(json.dumps(result_dict(result), indent=1))
    if parquet is not None:
        writers[parquet] = lambda tmp: tensor_frame(result).to_parquet(tmp, index=False)
    if plot is not None:
        writers[plot] = lambda tmp: plot_layers(result, tmp)
    temps: dict[Path, Path] = {}
    try:
        for path, write in writers.items():
            temps[path] = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            write(temps[path])
        for path, tmp in temps.items():
            os.replace(tmp, path)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


def plot_layers(result: DiffResult, path: Path) -> None:
    """PNG: fraction of each block's parameters changed, per view, one panel per tuned run."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure  # no pyplot: no global backend state
    from matplotlib.ticker import MaxNLocator

    runs = result.runs
    figure = Figure(figsize=(7, 3.2 * len(runs)), layout="constrained")
    axes = figure.subplots(len(runs), 1, squeeze=False)[:, 0]
    for ax, run in zip(axes, runs, strict=True):
        _, by_layer = groups(run, result.config.tolerances)
        layers = [g["layer"] for g in by_layer]
        ax.plot(
            layers, [g["changed_fp32"] for g in by_layer], "o-", label="fp32 exact", color="black"
        )
        ax.plot(
            layers, [g["changed_bf16"] for g in by_layer], "s-", label="bf16 cast", color="tab:red"
        )
        keys = list(by_layer[0]["changed_atol"]) if by_layer else []
        shades = colormaps["viridis"].resampled(max(len(keys), 2))
        for k, key in enumerate(keys):
            fractions = [g["changed_atol"][key] for g in by_layer]
            ax.plot(layers, fractions, "--", color=shades(k), label=f"|Δ| > {short_tol(key)}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(
            xlabel="layer (block index)",
            ylabel="fraction of parameters changed",
            ylim=(-0.02, 1.02),
        )
        ax.set_title(f"{Path(run.tuned).name} vs {Path(result.base).name}", fontsize=9)
        ax.legend(fontsize=7, ncol=2)
    figure.savefig(path, format="png", dpi=120)
