"""``regimescope studies`` and ``regimescope study NAME``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from regimescope.commands.basics import OUT, Store
from regimescope.commands.progress import STDERR, log_line


def studies(store: Store = None) -> None:
    """List the studies: claim, source, scales, and the verdicts the store holds."""
    from regimescope.report.collect import verdicts_by_scale
    from regimescope.store import store_root
    from regimescope.studies import STUDIES

    if not STUDIES:
        OUT.print("no studies registered")
        return
    found = verdicts_by_scale(store_root(store), current_codes(STUDIES))
    table = Table("#", "study", "claim", "source", "scales", "in the store", title="studies")
    for study in STUDIES.values():
        held = found.get(study.name, {})
        verdicts = ", ".join(f"{scale}: {held[scale]}" for scale in study.scales if scale in held)
        table.add_row(
            study.number, study.name, study.claim, study.source, ", ".join(study.scales), verdicts
        )
    OUT.print(table)


def current_codes(studies) -> dict[str, str]:
    """study name -> the fingerprint of its code today (a folder with another is stale)."""
    from regimescope.studies.base import code_fingerprint

    return {name: code_fingerprint(study) for name, study in studies.items()}


def study(
    name: Annotated[str, typer.Argument(help="Study to run (see `regimescope studies`).")],
    scale: Annotated[str, typer.Option(help="smoke (seconds), quick (minutes) or full.")] = "quick",
    seeds: Annotated[
        int | None, typer.Option(help="Training seeds (default: the scale's).")
    ] = None,
    sets: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config field: name=value (rl.lr=1e-4)."),
    ] = None,
    store: Store = None,
) -> None:
    """Run one study (or reuse its finished folder) and print its verdict."""
    from regimescope.errors import choose
    from regimescope.studies import STUDIES, run_study
    from regimescope.studies.verdict import fmt

    choose("study", name, STUDIES)
    if STDERR.is_terminal:
        with STDERR.status(f"study {name} ({scale})") as status:
            verdict, run = run_study(
                STUDIES[name],
                scale,
                seeds,
                store,
                progress=lambda line: status.update(f"{name}: {line}"),
                sets=sets,
            )
    else:
        verdict, run = run_study(
            STUDIES[name], scale, seeds, store, progress=log_line(name), sets=sets
        )
    OUT.print(f"[bold]{name}[/bold]: {verdict.verdict} — {verdict.reason}")
    for effect in verdict.effects:
        OUT.print(f"  {effect.name}: {fmt(effect)} {effect.unit}")
    for premise, held in verdict.premises.items():
        OUT.print(f"  premise {premise}: {'holds' if held.holds else 'FAILS'} ({held.reason})")
    for part, decision in verdict.parts.items():
        OUT.print(f"  {part}: {decision.verdict} ({decision.reason})")
    OUT.print(f"folder: {run.path}")
