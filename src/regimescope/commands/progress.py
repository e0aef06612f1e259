"""Rich progress bars for long work, drawn on stderr so stdout stays parseable."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

STDERR = Console(stderr=True)


@contextlib.contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """Yield ``advance_to(done)``, which moves the bar to ``done`` of ``total``."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=STDERR, transient=False) as bar:
        task_id = bar.add_task(description, total=total, info="")

        def advance_to(done: int, info: str = "") -> None:
            bar.update(task_id, completed=done, info=info)

        yield advance_to


def log_line(prefix: str) -> Callable[[str], None]:
    """A progress reporter for a log file (stderr not a terminal, e.g. under nohup or a batch
    scheduler), where live displays draw nothing: one timestamped plain line per report."""

    def report(line: str) -> None:
        STDERR.print(
            f"{time.strftime('%H:%M:%S')} {prefix}: {line}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    return report
