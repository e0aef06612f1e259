"""Studies one after another (all cores) against side by side (`demo --jobs`).

Run: .venv/bin/python benchmarks/bench_demo_jobs.py [--studies instruction-tuning,two-phase]
     [--scale quick]

Both arms run the studies the way `demo` does, in a fresh, empty store each, through the
executor (regimescope.executor):
- sequential: `--executor inline`: the merged plan, then each study, in this process with
  all the machine's cores as torch threads;
- parallel: `--jobs N` (`--executor local --workers N`): the plan's runs, then the studies,
  N at a time in worker processes of cores/N threads each.
The arms run back to back in this process and the figure is their wall-time ratio, so a
slow machine slows both.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from regimescope.commands.demo import analyse_all, run_all, train_all
from regimescope.executor import Executor, opened
from regimescope.studies import STUDIES


def timed_arm(names: list[str], scale: str, executor: Executor) -> float:
    """Wall seconds of training and running the studies ``names`` in a fresh store."""
    studies = {name: STUDIES[name] for name in names}
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        with opened(executor, root) as pool:
            train_all(studies, scale, root, pool)
            if executor.name == "inline":
                run_all(studies, scale, root)
            else:
                analyse_all(studies, scale, root, pool)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", default="instruction-tuning,two-phase")
    parser.add_argument("--scale", default="quick")
    args = parser.parse_args()
    names = args.studies.split(",")
    cores = os.cpu_count() or 1
    torch.set_num_threads(cores)
    sequential = timed_arm(names, args.scale, Executor("inline"))
    parallel = timed_arm(names, args.scale, Executor("local", len(names)))
    print(f"{len(names)} studies at {args.scale} on {cores} cores")
    print(f"sequential ({cores} threads): {sequential:.0f} s")
    print(f"parallel ({len(names)} workers): {parallel:.0f} s")
    print(f"parallel / sequential wall time: {parallel / sequential:.2f}")


if __name__ == "__main__":
    main()
