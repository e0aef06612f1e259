"""Where jobs run: in this process (``inline``) or in N local processes (``local``).

A pool takes jobs (``submit(job) -> Future[Outcome]``) and holds ``workers`` of them at
once; the Ray pool (``ray_pool``) has the same two methods. Tiny organisms leave cores
idle inside one process (their matrices are too small for BLAS threads to pay off,
BENCHMARKS.md), so each worker runs with cores/workers torch threads.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor

from regimescope.executor.jobs import Analyse, Outcome, Place, Train, run_job


def threads_per_worker(workers: int) -> int:
    """Torch threads for each of ``workers`` processes: $OMP_NUM_THREADS where the user set
    it (on a machine shared with other work, threads beyond a worker's share spin and
    slow every run several-fold), else the machine's cores shared evenly."""
    asked = os.environ.get("OMP_NUM_THREADS", "").strip()
    if asked.isdigit() and int(asked) > 0:
        return int(asked)
    return max(1, (os.cpu_count() or 1) // workers)


class Inline:
    """Each job runs in this process when it is submitted (today's behaviour)."""

    def __init__(self, place: Place) -> None:
        self.place = place
        self.workers = 1

    def submit(self, job: Train | Analyse) -> Future:
        future: Future = Future()
        try:
            future.set_result(run_job(job, self.place))
        except Exception as error:  # handed to the driver like a worker's failure
            future.set_exception(error)
        return future

    def close(self) -> None:
        pass


def pin_threads(threads: int) -> None:
    """Worker initializer: the thread count for torch's backends, before torch loads."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)


class Local:
    """``workers`` processes on this machine (spawned: a fork would copy torch's threads)."""

    def __init__(self, place: Place, workers: int) -> None:
        self.place = place
        self.workers = workers
        self.pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=pin_threads,
            initargs=(place.threads,),
        )

    def submit(self, job: Train | Analyse) -> Future:
        return self.pool.submit(run_job, job, self.place)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["Inline", "Local", "Outcome", "threads_per_worker"]
