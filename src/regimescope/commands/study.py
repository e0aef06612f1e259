"""``regimescope studies`` and ``regimescope study NAME``.

``study`` first trains the study's plan on the chosen executor (``regimescope.executor``:
inline, local processes or Ray), then runs the study, which finds every run in the store
and only measures and decides.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from regimescope.commands.basics import OUT, Store
from regimescope.commands.progress import STDERR, log_line

ExecutorName = Annotated[
    str,
    typer.Option(help="Where the training runs go: inline (this process), local or ray."),
]
Workers = Annotated[
    int | None,
    typer.Option(help="Jobs at once (local, ray) [default: the machine's cores; inline: 1]."),
]
Address = Annotated[
    str | None,
    typer.Option(
        help="A Ray cluster's address (ray executor) [default: a local Ray on 127.0.0.1]."
    ),
]


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
    executor: ExecutorName = "inline",
    workers: Workers = None,
    address: Address = None,
) -> None:
    """Train a study's runs on the executor, run the study (or reuse its finished folder)
    and print its verdict."""
    from regimescope.errors import choose
    from regimescope.executor import Executor
    from regimescope.studies import STUDIES

    choose("study", name, STUDIES)
    where = Executor(executor, workers, address)
    sets = sets or []
    if STDERR.is_terminal:
        with STDERR.status(f"study {name} ({scale})") as status:
            progress = lambda line: status.update(f"{name}: {line}")  # noqa: E731
            verdict, run = execute(STUDIES[name], scale, seeds, sets, store, where, progress)
    else:
        verdict, run = execute(STUDIES[name], scale, seeds, sets, store, where, log_line(name))
    show_verdict(name, verdict, run)


def execute(study, scale, seeds, sets, store, executor, progress):
    """Train ``study``'s plan on ``executor``, then run the study; (verdict, folder)."""
    from regimescope.executor import describe, opened, study_plan, train_plan
    from regimescope.studies import run_study, study_config
    from regimescope.studies.base import study_folder

    config = study_config(study, scale, seeds, sets)
    if not study_folder(study, scale, seeds, store, sets).is_complete():
        with opened(executor, store) as pool:
            progress(f"training on {executor.name}, {executor.size} worker(s)")
            plan = study_plan(study.name, config)
            train_plan(plan, pool, lambda done: progress(describe(done)))
    return run_study(study, scale, seeds, store, progress=progress, sets=sets)


def show_verdict(name: str, verdict, run) -> None:
    """The verdict, its effects, premises and parts, and the study's folder."""
    from regimescope.studies.verdict import fmt

    OUT.print(f"[bold]{name}[/bold]: {verdict.verdict} — {verdict.reason}")
    for effect in verdict.effects:
        OUT.print(f"  {effect.name}: {fmt(effect)} {effect.unit}")
    for premise, held in verdict.premises.items():
        OUT.print(f"  premise {premise}: {'holds' if held.holds else 'FAILS'} ({held.reason})")
    for part, decision in verdict.parts.items():
        OUT.print(f"  {part}: {decision.verdict} ({decision.reason})")
    OUT.print(f"folder: {run.path}")
