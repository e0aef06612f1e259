"""Several studies on one pool: each study's stages and then its analysis, as soon as they
are ready, instead of every study's training first and every analysis after it.

``run_jobs`` runs one list of jobs; a demo trained the merged plan stage by stage (a
barrier after each stage) and only then analysed. Workers then idle twice: at each
stage's end, while the last long run finishes, and in the analysis tail. Here a study's
next stage is sent once its own earlier stages are done (a stage lists its runs from the
models of the stages before it), and its ``Analyse`` job once all its runs are: a study
whose runs are done analyses while the others still train. A run two studies share is
sent once and waited on by both. A study whose plan names studies ``after`` (it reads
the samples they draw) analyses once their analyses are done: the first draws the samples
into the sampler's cache, the second reads them back instead of drawing them again at the
same time. Ready jobs go out in study order, training before analysis, so the runs that
unlock the most work go first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regimescope.executor.dispatch import Dispatch
from regimescope.executor.jobs import Analyse, Outcome, Train
from regimescope.executor.plans import Plan


@dataclass
class Track:
    """One study's way through its stages to its analysis."""

    stages: list[Callable]  # the plan's stages (each: models of earlier stages -> configs)
    analysis: Analyse | None  # its analysis job (None: train only)
    stage: int = -1  # the stage whose runs are out (-1: none sent yet)
    waiting_on: set = field(default_factory=set)  # that stage's configs not yet trained
    after: tuple[str, ...] = ()  # studies whose analysis must finish before this one's
    trained: bool = False  # every stage trained
    queued: bool = False  # its analysis queued (or it has none)


def run_studies(
    plans: dict[str, Plan],
    analyses: dict[str, Analyse | None],
    pool,
    report: Callable[[Outcome], None],
    check: Callable[[Outcome], Outcome] = lambda outcome: outcome,
) -> dict[str, Outcome]:
    """Train every study's plan and run its analysis on ``pool``; study name -> the
    analysis's Outcome. A job that comes back held is sent again after
    ``dispatch.HELD_RETRY_S``; the first job that fails raises its error."""
    tracks = {
        name: Track(plan.stages(), analyses.get(name), after=plan.after)
        for name, plan in plans.items()
    }
    models: dict[Any, str] = {}  # trained config -> its model folder
    sent: set = set()  # configs queued or running (each is trained once)
    analysed: dict[str, Outcome] = {}
    dispatch = Dispatch(pool)
    while True:
        advance(tracks, models, dispatch, sent)
        release(tracks, analysed, dispatch)
        if dispatch.idle:
            return analysed
        for job, outcome in dispatch.step(first=lambda job: isinstance(job, Analyse)):
            report(check(outcome))
            if isinstance(job, Train):
                models[job.config] = str(Path(outcome.path) / "model")
            else:
                analysed[job.study] = outcome


def advance(tracks: dict[str, Track], models: dict, dispatch: Dispatch, sent: set) -> None:
    """Move every study whose current stage is trained on to its next stage, queueing the
    runs not yet sent; a study past its last stage is ``trained``."""
    for track in tracks.values():
        while not track.trained and not (track.waiting_on - models.keys()):
            track.stage += 1
            if track.stage == len(track.stages):
                track.trained = True
                break
            configs = list(dict.fromkeys(track.stages[track.stage](models)))
            track.waiting_on = set(configs)
            for config in configs:
                if config not in sent and config not in models:
                    sent.add(config)
                    dispatch.queue(Train(config))


def release(tracks: dict[str, Track], analysed: dict, dispatch: Dispatch) -> None:
    """Queue the analysis of every trained study whose ``after`` studies (those in this
    run, with an analysis) have finished theirs."""
    for track in tracks.values():
        if track.trained and not track.queued and not held_back(track, tracks, analysed):
            track.queued = True
            if track.analysis is not None:
                dispatch.queue(track.analysis)


def held_back(track: Track, tracks: dict[str, Track], analysed: dict) -> bool:
    """Whether a study ``track`` must follow still has its analysis to do."""
    return any(
        name in tracks and tracks[name].analysis is not None and name not in analysed
        for name in track.after
    )
