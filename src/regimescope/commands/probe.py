"""``regimescope probe MODEL DATA.jsonl``: linear probes at every layer's sites, with the
control task's selectivity and the same probes on a random-init copy of the model
(``instruments.probes``)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from regimescope.commands.basics import OUT, resolve_model
from regimescope.commands.mech_output import (
    heatmap_png,
    layer_labels,
    parse_kinds,
    parse_layers,
    parse_positions,
)
from regimescope.errors import BadInput, choose

SPLITS = ("example", "type")


def probe(
    model: Annotated[str, typer.Argument(help="Model folder (or a run folder).")],
    data: Annotated[
        str, typer.Argument(help="JSONL file, one example a line: prompt, label, type, position.")
    ],
    sites: Annotated[
        str,
        typer.Option(
            help="Site kinds, comma-separated: resid_pre, attn_out, resid_mid, "
            "mlp_out, resid_post (each at every layer)."
        ),
    ] = "resid_post",
    positions: Annotated[
        str | None,
        typer.Option(
            help="Token indices read in every prompt, e.g. -3,-2,-1 (default: each "
            "line's position, else the last token)."
        ),
    ] = None,
    split: Annotated[
        str,
        typer.Option(
            help="example: hold out a random share of examples (Hewitt & Liang); "
            "type: hold out whole types (the control task is then at chance)."
        ),
    ] = "example",
    test_fraction: Annotated[float, typer.Option(help="Share held out for scoring.")] = 0.3,
    seed: Annotated[int, typer.Option(help="Seed of the split, control labels, baseline.")] = 0,
    layers: Annotated[
        str | None, typer.Option(help="Blocks to measure, e.g. 0,4,8 (default: all).")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or mps.")] = "cpu",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result here.")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write the layer x position heatmaps here (PNG).")
    ] = None,
) -> None:
    """Probe a variable at every layer: held-out accuracy (Wilson 95% interval), control-task
    selectivity, and the same probe on a randomly initialised copy (the baseline to beat)."""
    from regimescope.commands.mech_inputs import probe_inputs
    from regimescope.instruments.probes import probe_with_baseline
    from regimescope.instruments.sites import site_names
    from regimescope.organisms import load_model
    from regimescope.store import write_bytes_atomic, write_json_atomic

    kinds, offsets = parse_kinds(sites), parse_positions(positions)
    choose("split", split, SPLITS)
    if not 0 < test_fraction < 1:
        raise BadInput(f"--test-fraction must be in (0, 1), got {test_fraction}")
    examples, values = probe_inputs(data)
    net, tokenizer = load_model(resolve_model(model), device=device)
    names = parse_layers(layers, site_names(net, kinds))
    found = probe_with_baseline(
        net,
        tokenizer,
        examples,
        names,
        offsets,
        baseline_seed=seed,
        test_fraction=test_fraction,
        split_by_type=split == "type",
        seed=seed,
    )
    columns = [str(p) for p in offsets] if offsets else ["own"]
    show(found, names, columns)
    result = {
        "model": model,
        "data": str(data),
        "labels": values,
        "split": split,
        "positions": offsets if offsets else "per example",
        "sites": {
            name: {side: [asdict(r) for r in found[side][name]] for side in found} for name in names
        },
    }
    png = heatmap_png(
        panels(found, kinds),
        columns,
        layer_labels(names, kinds),
        "token position",
        "fraction",
        (-1, 1),
    )
    if json_out is not None:
        write_json_atomic(json_out, result)
    if plot is not None:
        write_bytes_atomic(plot, png)


def panels(found: dict, kinds: list[str]) -> list:
    """Per kind: accuracy, selectivity, random-init accuracy, each [layers, positions]."""
    import numpy as np

    out = []
    for kind in kinds:
        rows = {
            side: [v for k, v in found[side].items() if k.endswith(f"hook_{kind}")]
            for side in found
        }
        out += [
            (f"{kind}: accuracy", np.array([[r.accuracy for r in row] for row in rows["model"]])),
            (
                f"{kind}: selectivity",
                np.array([[r.selectivity for r in row] for row in rows["model"]]),
            ),
            (
                f"{kind}: random-init accuracy",
                np.array([[r.accuracy for r in row] for row in rows["random_init"]]),
            ),
        ]
    return out


def show(found: dict, names: list[str], columns: list[str]) -> None:
    table = Table(
        "site",
        "position",
        "accuracy [95% CI]",
        "control",
        "selectivity",
        "random init",
        title="probes (held-out)",
    )
    for name in names:
        pairs = zip(found["model"][name], found["random_init"][name], strict=True)
        for column, (r, base) in zip(columns, pairs, strict=True):
            table.add_row(
                name,
                column,
                f"{r.accuracy:.3f} [{r.accuracy_ci[0]:.2f}, {r.accuracy_ci[1]:.2f}]",
                f"{r.control_accuracy:.3f}",
                f"{r.selectivity:+.3f}",
                f"{base.accuracy:.3f}",
            )
    OUT.print(table)
