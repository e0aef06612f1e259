"""The executor: runs a study's plan (its training runs) before the study analyses them.

Every study lists its training runs (``plans.study_plan``: the bases, then the runs tuned
from them). The executor trains them on a pool of workers, stage by stage, then the study
runs as always and finds every run complete in the store, so it only measures and decides:

- ``inline``: one job after another in this process (today's behaviour);
- ``local``: N processes on this machine, cores/N torch threads each ($OMP_NUM_THREADS
  where the user set it);
- ``ray``: Ray tasks, on a local Ray bound to 127.0.0.1 or on the cluster at ``--address``.

The run locks stay: a worker never waits on a run another process is training; the job
comes back ``held`` and is sent again after the others (``run_jobs``). Every worker must
see the driver's store at the same path (a shared filesystem on a cluster); one that does
not fails with ``StoreNotShared`` before it trains anything.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from regimescope.errors import BadInput, choose
from regimescope.executor.dispatch import Dispatch
from regimescope.executor.jobs import (
    Analyse,
    Outcome,
    Place,
    StoreNotShared,
    Train,
    store_place,
    train_job,
)
from regimescope.executor.plans import Plan, merged, study_plan
from regimescope.executor.pools import Inline, Local, threads_per_worker
from regimescope.executor.schedule import run_studies

EXECUTORS = ("inline", "local", "ray")


@dataclass(frozen=True)
class Executor:
    name: str = "inline"  # inline | local | ray
    workers: int | None = None  # jobs at once (None: 1 inline, else the machine's cores)
    address: str | None = None  # a Ray cluster's address (None: a local Ray on 127.0.0.1)

    def __post_init__(self) -> None:
        choose("executor", self.name, EXECUTORS)
        if self.workers is not None and self.workers < 1:
            raise BadInput(f"workers must be a positive integer, got {self.workers}")
        if self.name == "inline" and self.workers not in (None, 1):
            raise BadInput(f"the inline executor has one worker, got --workers {self.workers}")
        if self.address is not None and self.name != "ray":
            raise BadInput(f"--address needs --executor ray, not {self.name}")

    @property
    def size(self) -> int:
        """The number of workers."""
        if self.workers is not None:
            return self.workers
        return 1 if self.name == "inline" else os.cpu_count() or 1


def open_pool(executor: Executor, store=None):
    """A pool of workers for ``executor`` on the store ``store`` (created if new)."""
    place = store_place(store, threads_per_worker(executor.size))
    if executor.name == "inline":
        return Inline(place)
    if executor.name == "local":
        return Local(place, executor.size)
    from regimescope.executor.ray_pool import RayPool

    return RayPool(place, executor.size, executor.address)


@contextlib.contextmanager
def opened(executor: Executor, store=None) -> Iterator:
    """``open_pool``'s pool for the block, closed after it (a local Ray is shut down)."""
    pool = open_pool(executor, store)
    try:
        yield pool
    finally:
        pool.close()


def run_jobs(jobs: Iterable, pool, report: Callable[[Outcome], None]) -> dict:
    """Run every job on ``pool``, at most ``pool.workers`` at once, in the given order; a
    job that comes back held is sent again after ``dispatch.HELD_RETRY_S``. Returns job ->
    Outcome. The first job that fails raises its error (the jobs not yet sent are dropped)."""
    dispatch = Dispatch(pool)
    for job in jobs:
        dispatch.queue(job)
    done = {}
    while not dispatch.idle:
        for job, outcome in dispatch.step():
            done[job] = checked(outcome)
            report(outcome)
    return done


def checked(outcome: Outcome) -> Outcome:
    """``outcome``, once the driver sees its run complete in its own store."""
    if isinstance(outcome.job, Train) and not (Path(outcome.path) / "complete.json").is_file():
        raise StoreNotShared(
            f"worker {outcome.host} trained {outcome.path}, which is not complete in this "
            "store; the store must be one folder shared by every worker, at the same path"
        )
    return outcome


def train_plan(plan: Plan, pool, report: Callable[[Outcome], None]) -> None:
    """Train ``plan`` on ``pool`` stage by stage: its bases, the runs tuned from them, then
    any later stages (each started from the models of the stages before it)."""
    models: dict = {}
    for stage in plan.stages():
        done = run_jobs([Train(config) for config in stage(models)], pool, report)
        models |= {job.config: str(Path(outcome.path) / "model") for job, outcome in done.items()}


def describe(outcome: Outcome) -> str:
    """One progress line for a finished job: what it was, where, how long."""
    path = Path(outcome.path)
    return f"{outcome.detail} {path.parent.name}/{path.name} in {outcome.seconds:.1f} s"


__all__ = [
    "EXECUTORS",
    "Analyse",
    "Executor",
    "Outcome",
    "Place",
    "Plan",
    "StoreNotShared",
    "Train",
    "describe",
    "merged",
    "open_pool",
    "opened",
    "checked",
    "run_jobs",
    "run_studies",
    "study_plan",
    "train_job",
    "train_plan",
]
