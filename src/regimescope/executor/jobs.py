"""What a worker runs: one training run of a study's plan, or one study's analysis.

A job is a frozen record the driver sends to a worker (in this process, another process
or a Ray node). The worker first checks that it sees the driver's store (``Place``), then
runs the job under ``store.skip_held``: a run that another process is training raises
``RunHeld`` at once, and the job comes back ``held`` for the driver to try again later,
so the worker moves on to its next job instead of waiting on the lock.

Run folders are keyed by their configs, and a tuned run's config names its base's model
folder as a path under the store root, so every worker names the store exactly as the
driver does (``Place.store``, read from the driver's working directory when relative).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regimescope.errors import BadInput
from regimescope.store import RunDir, RunHeld, skip_held

STORE_ID = ".store-id"  # the file in the store root holding the driver's store ID
SHARED_HELP = "the store must be one folder shared by every worker, at the same path (README)"


class StoreNotShared(BadInput):
    """A worker does not see the driver's store: its jobs would train into another one."""


@dataclass(frozen=True)
class Place:
    store: str  # the store root exactly as the driver names it (configs hold paths under it)
    store_id: str  # the ID the driver wrote to <store>/.store-id; a worker must read the same
    cwd: str  # the driver's working directory (where a relative store root lies)
    threads: int  # torch threads per job (the machine's cores shared among its workers)


@dataclass(frozen=True)
class Train:
    config: Any  # a regime's config: the run it trains (or reuses, or resumes)

    def label(self) -> str:
        return type(self.config).__name__.removesuffix("Config").lower()

    def run(self, store: str, progress: Callable[[str], None]) -> tuple[str, str]:
        started = time.time()
        run = train_job(self.config, store)
        return str(run.path), "trained" if trained_since(run, started) else "reused"


@dataclass(frozen=True)
class Analyse:
    study: str  # the study's registry name
    scale: str  # smoke | quick | full
    seeds: int | None = None  # training seeds (None: the scale's)
    sets: tuple[str, ...] = ()  # name=value overrides of the config

    def label(self) -> str:
        return f"study {self.study}"

    def run(self, store: str, progress: Callable[[str], None]) -> tuple[str, str]:
        from regimescope.studies import STUDIES, run_study

        study = STUDIES[self.study]
        verdict, folder = run_study(study, self.scale, self.seeds, store, progress, list(self.sets))
        return str(folder.path), verdict.verdict


@dataclass(frozen=True)
class Outcome:
    job: Train | Analyse  # the job as sent
    held: bool  # another process holds the run: nothing was done, send the job again later
    path: str = ""  # the run folder (Train) or the study folder (Analyse), under Place.store
    detail: str = ""  # trained | reused (Train); the verdict (Analyse)
    seconds: float = 0.0  # the job's wall time on its worker
    host: str = ""  # the worker's host name


def trainers() -> dict[type, Callable]:
    """Config type -> the regime function that trains it (``fn(config, store) -> RunDir``)."""
    from regimescope.regimes.distractor import DistractorRunConfig, train_distractor
    from regimescope.regimes.modular import ModularRunConfig, train_modular
    from regimescope.regimes.multidomain import (
        MultiBaseConfig,
        StageConfig,
        train_base,
        train_stage,
    )
    from regimescope.regimes.pretrain import PretrainConfig, pretrain
    from regimescope.regimes.rl import RLConfig, rl
    from regimescope.regimes.sft import SFTConfig, sft
    from regimescope.regimes.student import StudentConfig, train_student

    return {
        PretrainConfig: pretrain,
        SFTConfig: sft,
        RLConfig: rl,
        StudentConfig: train_student,
        ModularRunConfig: train_modular,
        DistractorRunConfig: train_distractor,
        MultiBaseConfig: train_base,
        StageConfig: train_stage,
    }


def train_job(config: Any, store=None) -> RunDir:
    """Train (or reuse, or resume) ``config``'s run with the regime for its type."""
    found = trainers()
    trainer = found.get(type(config))
    if trainer is None:
        names = ", ".join(sorted(kind.__name__ for kind in found))
        raise BadInput(f"no regime trains a {type(config).__name__}; choose from: {names}")
    return trainer(config, store)


def trained_since(run: RunDir, started: float) -> bool:
    """Whether ``run`` was completed after ``started`` (a time.time()), i.e. by this job."""
    return (run.path / "complete.json").stat().st_mtime >= started


def run_job(job: Train | Analyse, place: Place, report=None) -> Outcome:
    """Run ``job`` on this worker against the driver's store; ``held`` if another process
    holds its run. Raises ``StoreNotShared`` when this worker does not see that store."""
    enter(place)
    started = time.perf_counter()
    try:
        with skip_held():
            path, detail = job.run(place.store, report or (lambda line: None))
    except RunHeld:
        return Outcome(job, held=True, host=socket.gethostname())
    seconds = time.perf_counter() - started
    return Outcome(job, False, path, detail, seconds, socket.gethostname())


def enter(place: Place) -> None:
    """Pin the torch threads, keep transformers offline and quiet, stand in the driver's
    directory for a relative store, and check that the store there is the driver's."""
    import torch

    from regimescope.cli import offline_and_quiet

    offline_and_quiet()  # a Ray worker does not inherit the command's environment
    torch.set_num_threads(place.threads)
    if not Path(place.store).is_absolute() and Path.cwd() != Path(place.cwd):
        if not Path(place.cwd).is_dir():
            raise not_shared(place, f"the driver's directory {place.cwd} is not there")
        os.chdir(place.cwd)
    marker = Path(place.store) / STORE_ID
    if not marker.is_file():
        raise not_shared(place, f"{marker.resolve()} is not there")
    if marker.read_text().strip() != place.store_id:
        raise not_shared(place, f"{marker.resolve()} holds another store's ID")


def not_shared(place: Place, reason: str) -> StoreNotShared:
    host = socket.gethostname()
    return StoreNotShared(
        f"worker {host} does not see the store {place.store}: {reason}; {SHARED_HELP}"
    )


def store_place(store, threads: int) -> Place:
    """The driver's ``Place``: its store root (created, with its ID) and directory."""
    import uuid

    from regimescope.store import store_root

    root = store_root(store)
    root.mkdir(parents=True, exist_ok=True)
    marker = root / STORE_ID
    if not marker.is_file():
        from regimescope.store import write_text_atomic

        write_text_atomic(marker, uuid.uuid4().hex + "\n")
    return Place(str(root), marker.read_text().strip(), str(Path.cwd()), threads)
