"""``regimescope patch MODEL PAIRS.jsonl``: activation patching of every layer's sites at
every position, with the normalised logit difference (``instruments.patching``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from regimescope.commands.basics import OUT, resolve_model
from regimescope.commands.mech_output import heatmap_png, layer_labels, parse_kinds, parse_layers
from regimescope.errors import choose

TOP = 8  # cells shown on the terminal


def patch(
    model: Annotated[str, typer.Argument(help="Model folder (or a run folder).")],
    pairs: Annotated[
        str, typer.Argument(help="JSONL file, one pair a line: clean, corrupt, target, foil.")
    ],
    sites: Annotated[
        str,
        typer.Option(
            help="Site kinds, comma-separated: resid_pre, attn_out, resid_mid, "
            "mlp_out, resid_post (each at every layer)."
        ),
    ] = "resid_pre,attn_out,mlp_out",
    mode: Annotated[
        str,
        typer.Option(
            help="denoise: clean activation into the corrupted run (sufficiency); "
            "noise: corrupted activation into the clean run (necessity)."
        ),
    ] = "denoise",
    layers: Annotated[
        str | None, typer.Option(help="Blocks to measure, e.g. 0,4,8 (default: all).")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or mps.")] = "cpu",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result here.")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write the layer x position heatmaps here (PNG).")
    ] = None,
) -> None:
    """Patch each site at each position from one run of a pair into the other; report the
    normalised logit difference (1 = the site carries the whole clean-corrupt difference)."""
    from regimescope.commands.mech_inputs import patch_inputs
    from regimescope.instruments.patching import MODES, patch_sweep
    from regimescope.instruments.sites import site_names
    from regimescope.organisms import load_model
    from regimescope.store import write_bytes_atomic, write_json_atomic

    kinds = parse_kinds(sites)
    choose("mode", mode, MODES)
    net, tokenizer = load_model(resolve_model(model), device=device)
    found_pairs = patch_inputs(pairs, tokenizer)
    names = parse_layers(layers, site_names(net, kinds))
    device_of = next(net.parameters()).device
    clean, corrupt, target, foil = (
        t.to(device_of)
        for t in (found_pairs.clean, found_pairs.corrupt, found_pairs.target, found_pairs.foil)
    )
    found = patch_sweep(net, clean, corrupt, target, foil, names, mode=mode)
    effect = found.effect  # [S, P]
    show(found, effect, found_pairs.tokens)
    result = {
        "model": model,
        "pairs": str(pairs),
        "mode": mode,
        "sites": list(found.names),
        "positions": list(found.positions),
        "tokens": found_pairs.tokens,
        "effect": effect.tolist(),
        "ld_clean": found.ld_clean.tolist(),
        "ld_corrupt": found.ld_corrupt.tolist(),
        "ld_patched": found.ld_patched.tolist(),
    }
    panels = [
        (kind, effect[[i for i, n in enumerate(names) if n.endswith(f"hook_{kind}")]])
        for kind in kinds
    ]
    columns = [f"{p}:{t}" for p, t in enumerate(found_pairs.tokens)]
    label = f"normalised effect ({mode})"
    png = heatmap_png(
        panels,
        columns,
        layer_labels(names, kinds),
        "position:token (first clean prompt)",
        label,
        (-1, 1),
    )
    if json_out is not None:
        write_json_atomic(json_out, result)
    if plot is not None:
        write_bytes_atomic(plot, png)


def show(found, effect: np.ndarray, tokens: list[str]) -> None:
    gap = found.ld_clean.mean() - found.ld_corrupt.mean()
    OUT.print(
        f"{len(found.ld_clean)} pairs; mean LD clean {found.ld_clean.mean():.3f}, "
        f"corrupt {found.ld_corrupt.mean():.3f} (gap {gap:.3f} nats)"
    )
    table = Table("site", "position", "token", "effect", title=f"largest effects ({found.mode})")
    order = np.argsort(-np.abs(effect), axis=None)[:TOP]
    for flat in order:
        s, p = np.unravel_index(flat, effect.shape)
        table.add_row(found.names[s], str(found.positions[p]), tokens[p], f"{effect[s, p]:+.3f}")
    OUT.print(table)
