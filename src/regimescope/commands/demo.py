"""``regimescope demo``: the main job — run every registered study, then write the report.

The studies' plans are merged (a base two studies share is trained once) and trained on
the executor (``regimescope.executor``): inline, local processes or Ray. Then each study
runs and only analyses: one after another in this process (inline), or as jobs on the
same workers. ``--jobs N`` is ``--executor local --workers N``.

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
from regimescope.commands.study import Address, ExecutorName, Workers, current_codes
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
        typer.Option(help="Jobs at once in local processes: --executor local --workers JOBS."),
    ] = 1,
    executor: ExecutorName = "inline",
    workers: Workers = None,
    address: Address = None,
    findings: Annotated[
        Path | None,
        typer.Option(
            help="Committed findings shown beside this run's verdicts [default: findings]."
        ),
    ] = None,
) -> None:
    """Run every registered study at SCALE and write an evidence-backed HTML report."""
    from regimescope.errors import BadInput, choose
    from regimescope.executor import opened
    from regimescope.report import write_report
    from regimescope.store import store_root
    from regimescope.studies import STUDIES

    choose("scale", scale, ("quick", "full"))
    where = demo_executor(jobs, executor, workers, address)
    if not STUDIES:
        raise BadInput("no studies are registered; nothing to run")
    started = time.perf_counter()
    with opened(where, store) as pool:
        if where.name == "inline":
            train_all(STUDIES, scale, store, pool)
            walls = run_all(STUDIES, scale, store)
        else:
            walls = schedule_all(STUDIES, scale, store, pool)
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


def demo_executor(jobs: int, executor: str, workers: int | None, address: str | None):
    """The executor the options name; ``--jobs N`` (N > 1) stands for local with N workers."""
    from regimescope.errors import BadInput
    from regimescope.executor import Executor

    if jobs < 1:
        raise BadInput(f"jobs must be a positive integer, got {jobs}")
    if jobs > 1:
        if executor != "inline" or workers is not None:
            raise BadInput("--jobs N is --executor local --workers N: give one or the other")
        return Executor("local", jobs)
    return Executor(executor, workers, address)


def train_all(studies, scale: str, store, pool) -> None:
    """Train the merged plan of every study whose folder is not complete, one line per run."""
    from regimescope.executor import describe, merged, study_plan, train_plan
    from regimescope.studies.base import study_config, study_folder

    plans = [
        study_plan(name, study_config(study, scale))
        for name, study in studies.items()
        if not study_folder(study, scale, None, store).is_complete()
    ]
    report = log_line("train")
    train_plan(merged(plans), pool, lambda done: report(describe(done)))


def schedule_all(studies, scale: str, store, pool) -> dict:
    """Every study whose folder is not complete on ``pool``: its training stages, then its
    analysis as soon as its own runs are trained (``executor.schedule``); one line per
    finished job. (verdict, analysis seconds, reused) per study, the verdict read back
    from each study's folder."""
    from regimescope.executor import Analyse, checked, describe, run_studies, study_plan
    from regimescope.studies.base import load_verdict, study_config, study_folder

    reused = {
        name: study_folder(s, scale, None, store).is_complete() for name, s in studies.items()
    }
    todo = [name for name in studies if not reused[name]]
    plans = {name: study_plan(name, study_config(studies[name], scale)) for name in todo}
    with Progress(*COLUMNS, console=STDERR) as bar:
        overall = bar.add_task(
            f"studies ({scale}, {pool.workers} at once)", total=len(studies), info=""
        )
        bar.advance(overall, sum(reused.values()))
        relay, trained = (
            live_or_logged(bar, overall, "studies"),
            live_or_logged(bar, overall, "train"),
        )

        def finished(outcome) -> None:
            if isinstance(outcome.job, Analyse):
                bar.advance(overall)
                relay(describe(outcome))
            else:
                trained(describe(outcome))

        analyses = {name: Analyse(name, scale) for name in todo}
        done = run_studies(plans, analyses, pool, finished, checked)
    verdicts = {
        name: load_verdict(study_folder(s, scale, None, store)) for name, s in studies.items()
    }
    return {
        name: (verdicts[name].verdict, done[name].seconds if name in done else 0.0, reused[name])
        for name in studies
    }


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
