"""Study 2's training and measurement: per seed, the latent base, GRPO on it, and n samples
per held-out problem from the base (twice) and from every RL checkpoint.

Shapes: S training seeds, M models per seed (the base, then the RL checkpoints in step
order), P problems, n samples per problem. ``counts`` is (S, M, P): correct samples of
each problem for each model, every model drawn with the seed's sampling seed (the sampler
is counter-based, so the models see the same random numbers and their differences are
measured precisely). ``reference`` is (S, P): a second draw of the base with another
sampling seed, independent of the first; creation is counted on the problems *it* leaves
unsolved (``analysis``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from regimescope.instruments.passk_run import PassKConfig, PassKResult, run_passk
from regimescope.organisms import load_model
from regimescope.regimes.pretrain import PretrainConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.studies.base import per_model_lines
from regimescope.studies.base_organisms import trained_base
from regimescope.tasks import get_task

REFERENCE_SEED_OFFSET = 1  # the second base draw samples with seed + 1 (same n, same problems)


@dataclass(frozen=True)
class SeedRun:
    seed: int  # training seed (base and RL)
    steps: list[int]  # RL step of each model, 0 = the base
    result: PassKResult  # pass@k experiment on the base and every RL checkpoint
    reference: list[int]  # c per problem of the base's second draw (sampling seed + 1)
    training: list[dict]  # the RL run's metrics lines, one per step (rollout reward, ...)


def task_name(cfg) -> str:
    """The task RL trains on and every model is evaluated on."""
    return cfg.rl.curriculum.tasks[0]


def base_run(cfg, seed: int) -> PretrainConfig:
    return replace(cfg.base, seed=seed)


def rl_run(cfg, seed: int, base_model: str) -> RLConfig:
    """GRPO from the seed's base: the study's only RL regime."""
    return replace(cfg.rl, model=base_model, seed=seed)


def plan(cfg) -> list[PretrainConfig | RLConfig]:
    """The training runs the study needs, in the order it trains them: each seed's base,
    then its GRPO run. A GRPO run starts from its base's model folder, known once the base
    is in the store; here ``model`` names the base it waits for."""
    runs: list[PretrainConfig | RLConfig] = []
    for seed in cfg.seeds:
        runs += [base_run(cfg, seed), rl_run(cfg, seed, f"(model of the seed-{seed} base)")]
    return runs


def eval_config(cfg, seed: int, ppl_samples: int | None = None) -> PassKConfig:
    """The pass@k settings with the sampling seed ``seed``."""
    settings = replace(cfg.eval, sampling=replace(cfg.eval.sampling, seed=seed))
    return settings if ppl_samples is None else replace(settings, ppl_samples=ppl_samples)


def run_seed(cfg, seed: int, store, progress: Callable[[str], None]) -> SeedRun:
    """Pretrain (or reuse) the latent base, run GRPO on it, then sample and verify the
    base and every RL checkpoint on the same held-out problems, and the base once more
    with another sampling seed."""
    progress(f"seed {seed}: base ({cfg.base.steps} steps on {cfg.base.task})")
    base = trained_base(base_run(cfg, seed), store)
    progress(f"seed {seed}: GRPO, {cfg.rl.steps} steps")
    run = rl(rl_run(cfg, seed, str(base.model_dir)), store)
    steps = run.checkpoint_steps()
    folders = [base.model_dir] + [run.checkpoint_dir(s) for s in steps]
    labels = ["base"] + [f"RL step {s}" for s in steps]
    models = [(label, *load_model(folder)) for label, folder in zip(labels, folders, strict=True)]
    problems, n = cfg.eval.problems, cfg.eval.sampling.n
    progress(f"seed {seed}: pass@k, {len(models)} models x {problems} problems x n={n}")
    task = get_task(task_name(cfg))
    relay = per_model_lines(progress, [f"{label}, seed {seed}" for label in labels], problems * n)
    result = run_passk(models, task, eval_config(cfg, seed), relay)
    again = seed + REFERENCE_SEED_OFFSET
    relay = per_model_lines(progress, [f"base again (sampling seed {again})"], problems * n)
    reference = run_passk(models[:1], task, eval_config(cfg, again, ppl_samples=0), relay)
    return SeedRun(seed, [0, *steps], result, reference.models[0].correct, run.read_metrics())


def pooled_counts(runs: list[SeedRun]) -> np.ndarray:
    """Correct samples per (seed, model, problem): (S, M, P)."""
    return np.array([[m.correct for m in r.result.models] for r in runs], dtype=int)


def reference_counts(runs: list[SeedRun]) -> np.ndarray:
    """Correct samples of the base's second draw per (seed, problem): (S, P)."""
    return np.array([r.reference for r in runs], dtype=int)


def training_rewards(runs: list[SeedRun]) -> list[list[float]]:
    """Per seed, the rollout reward of every logged RL step, in step order."""
    return [[float(line["reward"]) for line in r.training if "reward" in line] for r in runs]
