"""Sending jobs to a pool and collecting them: the loop ``run_jobs`` and ``run_studies``
share (one list of jobs; several studies' stages and analyses).

A job goes out once it is ready (its not-before time has passed) and a worker is free; a
job that comes back ``held`` (its run is locked by another process) is queued again
``HELD_RETRY_S`` later instead of waiting on the lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait

from regimescope.executor.jobs import Outcome

HELD_RETRY_S = 2.0  # how long a held job waits before it is sent again
POLL_S = 0.2  # how often the driver looks for finished jobs


class Dispatch:
    """Jobs queued for ``pool`` (at most ``pool.workers`` out at once) and those running."""

    def __init__(self, pool):
        self.pool = pool
        self.queued: list[tuple[float, object]] = []  # (not before, job), in sending order
        self.running: dict[Future, object] = {}

    def queue(self, job, not_before: float = 0.0) -> None:
        self.queued.append((not_before, job))

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing running."""
        return not self.queued and not self.running

    def step(self, first: Callable[[object], object] = lambda job: 0) -> list[tuple]:
        """Send the ready jobs (ordered by ``first``, then queue order) to the free workers,
        wait up to ``POLL_S`` and return the finished ones as (job, Outcome); held jobs go
        back to the queue. The first job that fails raises its error."""
        now = time.monotonic()
        ready = sorted((job for t, job in self.queued if t <= now), key=first)
        for job in ready[: self.pool.workers - len(self.running)]:
            self.queued = [(t, j) for t, j in self.queued if j is not job]
            self.running[self.pool.submit(job)] = job
        if not self.running:
            time.sleep(POLL_S)
            return []
        finished, _ = wait(self.running, timeout=POLL_S, return_when=FIRST_COMPLETED)
        done: list[tuple[object, Outcome]] = []
        for future in finished:
            job, outcome = self.running.pop(future), future.result()
            if outcome.held:
                self.queue(job, time.monotonic() + HELD_RETRY_S)
            else:
                done.append((job, outcome))
        return done
