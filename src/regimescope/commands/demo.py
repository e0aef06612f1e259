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
from regimescope.commands.study import current_codes
from regimescope.findings import findings_root

COLUMNS = (
    TextColumn("[bold]{task.description}"),
    BarColumn(),
    MofNCompleteColumn(),
    TimeElapsedColumn(),
    TextColumn("{task.fields[info]}"),
)


def demo(
    scale: Annotated[str, typer.Option(help="quick (minutes on a laptop CPU) or full.")] = "quick",
    out: Annotated[Path, typer.Option(help="Folder for report.html and verdicts.json.")] = Path(
        "out"
    ),
    store: Store = None,
    jobs: Annotated[
        int,
        typer.Option(
            help="Studies at once, each in its own process with cores/jobs threads "
            "(1: one after another in this process)."
        ),
    ] = 1,
    findings: Annotated[
        Path | None,
        typer.Option(
            help="Committed findings shown beside this run's verdicts [default: findings]."
        ),
    ] = None,
) -> None:
    """Run every registered study at SCALE and write an evidence-backed HTML report."""
    from regimescope.errors import BadInput, choose
    from regimescope.report import write_report
    from regimescope.store import store_root
    from regimescope.studies import STUDIES

    choose("scale", scale, ("quick", "full"))
    if jobs < 1:
        raise BadInput(f"jobs must be a positive integer, got {jobs}")
    if not STUDIES:
        raise BadInput("no studies are registered; nothing to run")
    started = time.perf_counter()
    if jobs == 1:
        walls = run_all(STUDIES, scale, store)
    else:
        walls = run_all_parallel(STUDIES, scale, store_root(store), jobs)
    html_path, json_path = write_report(
        store_root(store),
        out,
        scale,
        time.perf_counter() - started,
        current_codes(STUDIES),
        shelf if (shelf := findings_root(findings)).is_dir() else None,
    )
    show_breakdown(walls, time.perf_counter() - started)
    OUT.print(f"report: {html_path}\nverdicts: {json_path}")


def run_all(studies, scale: str, store) -> dict[str, tuple[str, float, bool]]:
    """Run each study with a progress display; (verdict, seconds, reused) per study."""
    from regimescope.studies.base import run_study, study_folder

    results = {}
    with Progress(*COLUMNS, console=STDERR) as bar:
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


def run_all_parallel(studies, scale: str, root: Path, jobs: int) -> dict:
    """Run the studies ``jobs`` at a time in child processes (``commands.parallel``);
    (verdict, seconds, reused) per study, read back from each study's folder."""
    from regimescope.commands.parallel import (
        child_env,
        run_children,
        study_command,
        threads_per_job,
    )
    from regimescope.studies.base import load_verdict, study_folder

    reused = {name: study_folder(s, scale, None, root).is_complete() for name, s in studies.items()}
    commands = {name: study_command(name, scale, root) for name in studies if not reused[name]}
    with Progress(*COLUMNS, console=STDERR) as bar:
        overall = bar.add_task(f"studies ({scale}, {jobs} at once)", total=len(studies), info="")
        bar.advance(overall, sum(reused.values()))
        children = run_children(
            commands,
            jobs,
            child_env(threads_per_job(jobs)),
            on_line=relay_line(bar, overall),
            on_done=lambda child: bar.advance(overall),
        )
    failed = [child for child in children.values() if child.returncode != 0]
    if failed:
        raise StudyFailed(failed[0].name, failed[0].tail)
    verdicts = {
        name: load_verdict(study_folder(s, scale, None, root)) for name, s in studies.items()
    }
    seconds = {name: children[name].seconds if name in children else 0.0 for name in studies}
    return {name: (verdicts[name].verdict, seconds[name], reused[name]) for name in studies}


def relay_line(bar: Progress, task_id):
    """A child's progress line: on the live bar in a terminal, else printed as it came."""
    if STDERR.is_terminal:
        return lambda name, line: bar.update(task_id, info=line.split(" ", 1)[-1])
    return lambda name, line: STDERR.print(line, markup=False, highlight=False, soft_wrap=True)


class StudyFailed(typer.Exit):
    """A study's child process failed: its last stderr lines are shown, exit status 1."""

    def __init__(self, name: str, tail: list[str]) -> None:
        STDERR.print(f"study {name} failed; its last lines:", markup=False)
        for line in tail:
            STDERR.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
        super().__init__(1)


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
