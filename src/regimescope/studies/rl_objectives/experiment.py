"""Study 3b's experiment: train every objective from one base, sample every model.

Every model, base included, is sampled on the same held-out problems with the same
sampling seed, so a per-problem difference cancels the problems' difficulty. The base is
one model: its counts are one row shared by every seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from regimescope.instruments.passk_run import run_passk
from regimescope.organisms import load_model
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.store import RunDir
from regimescope.studies.base import per_model_lines
from regimescope.studies.base_organisms import trained_base
from regimescope.tasks import get_task

OBJECTIVES = ("grpo", "psr", "nsr", "w_reinforce")
LABELS = {"base": "base", "grpo": "GRPO", "psr": "PSR", "nsr": "NSR", "w_reinforce": "W-REINFORCE"}


@dataclass(frozen=True)
class Trained:
    objective: str  # one of OBJECTIVES
    seed: int  # RL seed
    run: RunDir  # the finished RL run


# ---------------------------------------------------------------- the plan


def rl_runs(cfg, base_dir: str = "") -> list[tuple[str, int, RLConfig]]:
    """(objective, seed, RL config) of every RL run, in training order: the study's
    ``rl`` template with the objective, start model, seed and the base's task filled in."""
    curriculum = CurriculumConfig(tasks=(cfg.base.task,))
    return [
        (
            objective,
            seed,
            replace(
                cfg.rl,
                model=base_dir,
                objective=objective,
                seed=seed,
                curriculum=curriculum,
            ),
        )
        for objective in OBJECTIVES
        for seed in cfg.seeds
    ]


def plan(cfg, base_dir: str = "") -> list:
    """The training runs the study needs, in order: the base, then every RL run (whose
    start model is the base's folder, ``base_dir``, known once the base is trained)."""
    return [cfg.base, *(config for _, _, config in rl_runs(cfg, base_dir))]


def train_all(cfg, store, progress: Callable[[str], None]) -> tuple[Path, list[Trained]]:
    """(base model folder, one finished run per objective and seed)."""
    progress("base organism")
    base = trained_base(cfg.base, store)
    trained = []
    for objective, seed, config in rl_runs(cfg, str(base.model_dir)):
        progress(f"{LABELS[objective]}, seed {seed}")
        trained.append(Trained(objective, seed, rl(config, store)))
    return base.model_dir, trained


def training_curves(trained: list[Trained], key: str) -> dict[str, list[list[float]]]:
    """objective -> one per-step curve of the recorder's ``key`` (``reward``: mean
    rollout reward; ``entropy``: rollout token entropy) per seed."""
    return {
        objective: [
            [r[key] for r in t.run.read_metrics() if key in r]
            for t in trained
            if t.objective == objective
        ]
        for objective in OBJECTIVES
    }


# ---------------------------------------------------------------- sampling


@dataclass(frozen=True)
class Counts:
    n: int  # samples per problem
    base: np.ndarray  # (P,) correct samples of the base per problem
    tuned: dict[str, np.ndarray]  # objective -> (S, P) correct samples per seed and problem
    finished: dict[str, float]  # model label -> share of samples that ended with EOS


def evaluate(
    base_dir: Path, trained: list[Trained], cfg, progress: Callable[[str], Any] = lambda _: None
) -> Counts:
    """Sample every model (base first) on the held-out problems with ``cfg.eval``;
    ``progress(line)`` hears as each model's samples end."""
    models = [("base", *load_model(base_dir))]
    models += [(f"{t.objective}/{t.seed}", *load_model(t.run.model_dir)) for t in trained]
    n = cfg.eval.sampling.n
    relay = per_model_lines(progress, [m[0] for m in models], cfg.eval.problems * n)
    result = run_passk(models, get_task(cfg.base.task), cfg.eval, relay)
    found = {m.name: np.array(m.correct) for m in result.models}
    tuned = {o: np.stack([found[f"{o}/{s}"] for s in cfg.seeds]) for o in OBJECTIVES}
    finished = {m.name: m.finished for m in result.models}
    return Counts(n, found["base"], tuned, finished)
