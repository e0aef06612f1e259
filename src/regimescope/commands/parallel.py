"""Studies in parallel processes: ``regimescope demo --jobs N``.

Tiny organisms leave cores idle inside one process: their matrices are too small for BLAS
threads to pay off (BENCHMARKS.md), so N studies in N processes of cores/N threads each
finish sooner than the same studies one after another. Each child is a plain
``regimescope study NAME`` process. Studies that share a base organism wait on that run's
lock (``RunDir.exclusive``), so the base is trained once. A child's stderr is not a
terminal, so its progress arrives as timestamped lines, which are relayed to ``on_line``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.1  # how often finished children are looked for


@dataclass(frozen=True)
class Child:
    name: str  # the child's name (a study)
    returncode: int  # its exit status (0: success)
    seconds: float  # its wall time
    tail: list[str]  # its last stderr lines (the error, when it failed)


@dataclass
class Running:
    process: subprocess.Popen
    started: float  # time.perf_counter() at launch
    reader: threading.Thread  # relays the child's stderr lines
    lines: list[str]  # every stderr line so far (appended by the reader)


def study_command(name: str, scale: str, store_root: Path) -> list[str]:
    """The command line of one study in its own process."""
    cli = [sys.executable, "-m", "regimescope.cli"]
    return [*cli, "study", name, "--scale", scale, "--store", str(store_root)]


def threads_per_job(jobs: int) -> int:
    """Torch threads for each of ``jobs`` processes: the machine's cores shared evenly."""
    return max(1, (os.cpu_count() or 1) // jobs)


def child_env(threads: int) -> dict[str, str]:
    """This process's environment with the thread count pinned for torch's backends."""
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def launch(name: str, argv: list[str], env: dict, on_line: Callable[[str, str], None]) -> Running:
    """Start one child whose stderr lines are collected and passed to ``on_line``."""
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    lines: list[str] = []

    def relay() -> None:
        for raw in process.stderr:
            lines.append(raw.rstrip("\n"))
            on_line(name, lines[-1])

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    return Running(process, time.perf_counter(), reader, lines)


def run_children(
    commands: dict[str, list[str]],
    jobs: int,
    env: dict[str, str],
    on_line: Callable[[str, str], None] = lambda name, line: None,
    on_done: Callable[[Child], None] = lambda child: None,
) -> dict[str, Child]:
    """Run every command, at most ``jobs`` at once, in the given order.

    After a child fails no new one is started; those running are let finish. Returns the
    finished children by name (the commands never started are absent).
    """
    pending = list(commands.items())
    running: dict[str, Running] = {}
    done: dict[str, Child] = {}
    while pending or running:
        if any(child.returncode != 0 for child in done.values()):
            pending.clear()
        while pending and len(running) < jobs:
            name, argv = pending.pop(0)
            running[name] = launch(name, argv, env, on_line)
        for name in [n for n, r in running.items() if r.process.poll() is not None]:
            child = finish(name, running.pop(name))
            done[name] = child
            on_done(child)
        time.sleep(POLL_S)
    return done


def finish(name: str, running: Running) -> Child:
    """The record of a child that has exited (after its last stderr line is relayed)."""
    running.reader.join()
    running.process.stderr.close()
    seconds = time.perf_counter() - running.started
    return Child(name, running.process.returncode, seconds, running.lines[-20:])
