"""Studies one after another (all cores each) against side by side (`demo --jobs`).

Run: .venv/bin/python benchmarks/bench_demo_jobs.py [--studies instruction-tuning,two-phase]
     [--scale quick]

Both arms run each study as a child `regimescope study` process in a fresh, empty store,
through the same scheduler `demo --jobs` uses (commands.parallel.run_children):
- sequential: one child at a time with all the machine's cores as torch threads (what
  `demo` does in one process, plus the same per-child start-up cost as the other arm);
- parallel: every study at once, cores/N threads each.
The arms run back to back in this process and the figure is their wall-time ratio, so a
slow machine slows both. Pick studies that share no base organism (the defaults: an
arithmetic base and a countdown base), or the parallel arm waits on the shared run's lock.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from regimescope.commands.parallel import child_env, run_children, study_command


def timed_arm(studies: list[str], scale: str, jobs: int, threads: int) -> float:
    """Wall seconds of running ``studies`` ``jobs`` at a time in a fresh store."""
    with tempfile.TemporaryDirectory() as root:
        commands = {name: study_command(name, scale, Path(root)) for name in studies}
        start = time.perf_counter()
        children = run_children(commands, jobs, child_env(threads))
        seconds = time.perf_counter() - start
    failed = [c.name for c in children.values() if c.returncode != 0]
    if failed:
        raise SystemExit(f"studies failed: {failed}: {children[failed[0]].tail[-3:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", default="instruction-tuning,two-phase")
    parser.add_argument("--scale", default="quick")
    args = parser.parse_args()
    studies = args.studies.split(",")
    cores = os.cpu_count() or 1
    sequential = timed_arm(studies, args.scale, jobs=1, threads=cores)
    parallel = timed_arm(
        studies, args.scale, jobs=len(studies), threads=max(1, cores // len(studies))
    )
    print(f"{len(studies)} studies at {args.scale} on {cores} cores")
    print(f"sequential ({cores} threads each): {sequential:.0f} s")
    print(f"parallel ({len(studies)} at once): {parallel:.0f} s")
    print(f"parallel / sequential wall time: {parallel / sequential:.2f}")


if __name__ == "__main__":
    main()
