"""A small two-stage sweep for the executor tests: study 3a (rl-weights) at smoke scale
with one learning rate (a base, then 3 regimes x 2 seeds), trained by an executor and then
analysed, beside the same study run inline as before."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from regimescope.executor import Executor, opened, study_plan, train_plan
from regimescope.studies import STUDIES, run_study, study_config

NAME, SCALE, SETS = "rl-weights", "smoke", ["lrs=1e-3"]


def run_folders(store: Path) -> set[str]:
    """Every training run folder in the store (kind/name-hash)."""
    return {f"{p.parent.name}/{p.name}" for p in store.glob("*/*") if p.parent.name != "study"}


def inline_verdict(store: Path) -> dict:
    """The study run as it always was: training inside the study."""
    verdict, _ = run_study(STUDIES[NAME], SCALE, None, store, sets=SETS)
    return dataclasses.asdict(verdict)


def executed(executor: Executor, store: Path, watch=lambda: None) -> tuple[dict, list, set, set]:
    """(verdict, the outcomes of the plan's jobs, run folders after the plan, run folders
    after the study) with the plan trained on ``executor``, then the study run. ``watch()``
    is called as each job ends and once more before the pool closes."""
    outcomes = []
    plan = study_plan(NAME, study_config(STUDIES[NAME], SCALE, sets=SETS))
    with opened(executor, store) as pool:
        train_plan(plan, pool, lambda outcome: (outcomes.append(outcome), watch()))
        watch()
    trained = run_folders(store)
    verdict, _ = run_study(STUDIES[NAME], SCALE, None, store, sets=SETS)
    return dataclasses.asdict(verdict), outcomes, trained, run_folders(store)
