"""``regimescope demo``: the main job — run every registered study, then write the report.

Each study's training runs and its own folder live in the run store, so an interrupted
demo resumes where it stopped (finished runs are reused, a killed run resumes from its
last checkpoint). The report and the machine-readable verdict summary go to ``--out``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from regimescope.commands.basics import OUT, Store
from regimescope.commands.progress import STDERR, log_line


def demo(
    scale: Annotated[str, typer.Option(help="quick (minutes on a laptop CPU) or full.")] = "quick",
    out: Annotated[Path, typer.Option(help="Folder for report.html and verdicts.json.")] = Path(
        "out"
    ),
    store: Store = None,
) -> None:
    """Run every registered study at SCALE and write an evidence-backed HTML report."""
    from regimescope.errors import BadInput, choose
    from regimescope.report import write_report
    from regimescope.store import store_root
    from regimescope.studies import STUDIES

    choose("scale", scale, ("quick", "full"))
    if not STUDIES:
        raise BadInput("no studies are registered; nothing to run")
    started = time.perf_counter()
    walls = run_all(STUDIES, scale, store)
    html_path, json_path = write_report(
        store_root(store), out, scale, time.perf_counter() - started
    )
    show_breakdown(walls, time.perf_counter() - started)
    OUT.print(f"report: {html_path}\nverdicts: {json_path}")


def run_all(studies, scale: str, store) -> dict[str, tuple[str, float, bool]]:
    """Run each study with a progress display; (verdict, seconds, reused) per study."""
    from regimescope.studies.base import run_study, study_folder

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
    )
    results = {}
    with Progress(*columns, console=STDERR) as bar:
        overall = bar.add_task(f"studies ({scale})", total=len(studies), info="")
        for name, study in studies.items():
            bar.update(overall, info=name)
            reused = study_folder(study, scale, None, store).is_complete()
            start = time.perf_counter()
            verdict, _ = run_study(
                study,
                scale,
                None,
                store,
                progress=live_or_logged(bar, overall, name),
            )
            results[name] = (verdict.verdict, time.perf_counter() - start, reused)
            bar.advance(overall)
    return results


def live_or_logged(bar: Progress, task_id, name: str):
    """Progress for one study: on the live bar in a terminal, else as timestamped log lines."""
    if STDERR.is_terminal:
        return lambda line: bar.update(task_id, info=f"{name}: {line}")
    return log_line(name)


def show_breakdown(walls: dict[str, tuple[str, float, bool]], total: float) -> None:
    table = Table("study", "verdict", "wall time (s)", title=f"demo: {total:.0f} s in all")
    for name, (verdict, seconds, reused) in walls.items():
        table.add_row(name, verdict, f"{seconds:.0f}" + (" (reused)" if reused else ""))
    OUT.print(table)
