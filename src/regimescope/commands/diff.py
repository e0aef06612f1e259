"""``regimescope diff BASE TUNED [TUNED ...]``: what did fine-tuning change?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from regimescope.errors import BadInput

TOLERANCES = "1e-8,1e-7,1e-6,1e-5,1e-4,1e-3"


def parse_tolerances(text: str) -> tuple[float, ...]:
    """'1e-8,1e-5' -> (1e-08, 1e-05); BadInput for anything else."""
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise BadInput(
            f"--atol {text!r} is not a comma-separated list of numbers, e.g. {TOLERANCES}"
        ) from None
    if not values or any(not v > 0 for v in values):
        raise BadInput(f"--atol needs positive numbers, e.g. {TOLERANCES}; got {text!r}")
    return values


def diff(
    base: Annotated[
        str,
        typer.Argument(help="Base checkpoint: model folder, sharded folder or .safetensors file."),
    ],
    tuned: Annotated[list[str], typer.Argument(help="Tuned checkpoint(s) of the same base.")],
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the full result as JSON.")
    ] = None,
    parquet: Annotated[
        Path | None, typer.Option(help="Write the per-tensor table as parquet.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Draw per-layer changed fractions to a PNG.")
    ] = None,
    atol: Annotated[str, typer.Option(help="Comma-separated |Δ| tolerances.")] = TOLERANCES,
    rank: Annotated[
        str,
        typer.Option(
            help="Rank figures of 2-D updates: auto (exact SVD on matrices whose smaller side "
            "is <= 128, skipped on larger ones, which take ~1 s each at 2048x2048), exact "
            "(every matrix; minutes on a 1 GB checkpoint), randomized (estimates above "
            "--rank-exact-max), none. The output says which matrices got which."
        ),
    ] = "auto",
    rank_exact_max: Annotated[
        int | None,
        typer.Option(
            help="Smaller side up to which the SVD is exact: auto skips larger matrices "
            "(default 128), randomized estimates them (default 1024)."
        ),
    ] = None,
    rank_sketch: Annotated[int, typer.Option(help="randomized: singular values estimated.")] = 256,
    top_r: Annotated[int, typer.Option(help="r of the top-r energy share.")] = 1,
    workers: Annotated[
        int, typer.Option(help="Streaming threads (0 = one per CPU, at most 4).")
    ] = 0,
    tensors: Annotated[
        bool, typer.Option("--tensors", help="Also print one row per tensor.")
    ] = False,
    allow_pickle: Annotated[
        bool, typer.Option("--allow-pickle", help="Accept .bin/.pt (torch.load weights_only=True).")
    ] = False,
) -> None:
    """Compare checkpoints tensor by tensor: changed in fp32, in bf16, beyond tolerances, rank.

    When base and tuned are stored in different dtypes (an fp32 base, a bf16 release), a
    headline says so and counts what changed beyond casting the base to the tuned's dtype.
    Rank figures are exact on small matrices and skipped on large ones by default
    (--rank exact for all).
    """
    from regimescope.commands.diff_output import check_outputs, render, write_outputs
    from regimescope.instruments.diff import DiffConfig, diff_checkpoints
    from regimescope.instruments.rank import RankConfig

    check_outputs([json_path, parquet, plot])
    given = rank_exact_max is not None
    limits = {"auto_max": rank_exact_max, "exact_max": rank_exact_max} if given else {}
    rank_config = RankConfig(method=rank, sketch=rank_sketch, top_r=top_r, **limits)
    config = DiffConfig(tolerances=parse_tolerances(atol), rank=rank_config, workers=workers)
    stderr = Console(stderr=True)
    columns = (
        TextColumn("[bold]diff"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.description}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, disable=not stderr.is_terminal, transient=True) as bar:
        task = bar.add_task("", total=None)

        def advance(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, description=name)

        result = diff_checkpoints(
            base, tuned, config, allow_pickle=allow_pickle, on_progress=advance
        )
    write_outputs(result, json_path, parquet, plot)
    out = Console()
    render(result, out if out.is_terminal else Console(width=180), show_tensors=tensors)
