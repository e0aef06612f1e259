"""Training, measurement and effects of Study 2 (RL as catalyst); the claim, the config and
the decision rule live in ``rl_catalyst``, the tables and figures in ``rl_catalyst_tables``
and ``rl_catalyst_figures``.

Shapes: S training seeds, M models per seed (the base, then the RL checkpoints in step
order), P problems, n samples per problem. ``counts`` is (S, M, P): correct samples of
each problem for each model. Every interval is the hierarchical bootstrap of
``studies.stats`` (seeds, then problems within seeds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from regimescope.instruments import coverage as cov
from regimescope.instruments.passk_run import PassKConfig, PassKResult, run_passk
from regimescope.organisms import load_model
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.sampler.decode import SamplingConfig
from regimescope.studies.base import per_model_lines
from regimescope.studies.base_organisms import latent_base, trained_base
from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.verdict import Effect
from regimescope.tasks import get_task


@dataclass(frozen=True)
class SeedRun:
    seed: int  # training seed (base and RL)
    steps: list[int]  # RL step of each model, 0 = the base
    result: PassKResult  # pass@k experiment on the base and every RL checkpoint
    training: list[dict]  # the RL run's metrics lines (rollout reward, entropy, KL)


# ---------------------------------------------------------------- training and measurement


def rl_config(cfg, seed: int, base_model: str) -> RLConfig:
    """GRPO on the task from the base: the study's only RL regime."""
    return RLConfig(
        model=base_model,
        curriculum=CurriculumConfig(tasks=(cfg.task,)),
        objective="grpo",
        steps=cfg.rl_steps,
        prompts_per_step=cfg.prompts_per_step,
        samples_per_prompt=cfg.samples_per_prompt,
        temperature=cfg.temperature,
        max_new_tokens=cfg.max_new_tokens,
        lr=cfg.lr,
        seed=seed,
        checkpoint_every=cfg.checkpoint_every,
    )


def run_seed(cfg, seed: int, store, progress: Callable[[str], None]) -> SeedRun:
    """Pretrain (or reuse) the latent base, run GRPO on it, then sample and verify the
    base and every RL checkpoint on the same held-out problems."""
    progress(f"seed {seed}: base ({cfg.base_scale} latent base on {cfg.task})")
    base = trained_base(latent_base(cfg.base_scale, seed, cfg.task), store)
    progress(f"seed {seed}: GRPO, {cfg.rl_steps} steps")
    run = rl(rl_config(cfg, seed, str(base.model_dir)), store)
    steps = run.checkpoint_steps()
    folders = [base.model_dir] + [run.checkpoint_dir(s) for s in steps]
    labels = ["base"] + [f"RL step {s}" for s in steps]
    models = [(label, *load_model(folder)) for label, folder in zip(labels, folders, strict=True)]
    progress(f"seed {seed}: pass@k, {len(models)} models x {cfg.problems} problems x n={cfg.n}")
    passk_cfg = PassKConfig(
        split=cfg.split,
        problems=cfg.problems,
        sampling=SamplingConfig(
            n=cfg.n, temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens, seed=seed
        ),
        bootstrap=cfg.bootstrap,
        ppl_samples=cfg.ppl_samples,
    )
    per_model = cfg.problems * cfg.n
    relay = per_model_lines(progress, [f"{label}, seed {seed}" for label in labels], per_model)
    result = run_passk(models, get_task(cfg.task), passk_cfg, relay)
    return SeedRun(seed, [0, *steps], result, run.read_metrics())


def pooled_counts(runs: list[SeedRun]) -> np.ndarray:
    """Correct samples per (seed, model, problem): (S, M, P)."""
    return np.array([[m.correct for m in r.result.models] for r in runs], dtype=int)


# ---------------------------------------------------------------- effects


def mean_effect(name: str, values: np.ndarray, resamples: int, unit: str = "fraction") -> Effect:
    """Mean of per-(seed, problem) ``values`` (S, P) with its hierarchical 95% interval."""
    estimate, ci = hierarchical_bootstrap(values, np.mean, resamples)
    return Effect(name, estimate, ci, unit)


def paired_effect(
    name: str, base: np.ndarray, tuned: np.ndarray, fn, resamples: int, unit: str
) -> Effect:
    """``fn(base counts, tuned counts)`` over pooled problems, bootstrapped as pairs.

    The bootstrap resamples (seed, problem) indices, so a statistic of both models' counts
    (a crossover, a ratio) sees the same resampled problems for each model.
    """
    seeds, problems = base.shape
    index = np.arange(seeds * problems, dtype=float).reshape(seeds, problems)  # (S, P)

    def statistic(picked: np.ndarray) -> float:
        at = picked.astype(int).ravel()
        return fn(base.ravel()[at], tuned.ravel()[at])

    estimate, ci = hierarchical_bootstrap(index, statistic, resamples)
    return Effect(name, estimate, ci, unit)


def crossover(n: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """k* of pooled counts, censored at n + 1 when the base stays below at every k."""

    def k_star(base: np.ndarray, tuned: np.ndarray) -> float:
        k = cov.crossover_k(base, tuned, n)
        return float(n + 1 if k is None else k)

    return k_star


def creation_rate(base: np.ndarray, tuned: np.ndarray) -> float:
    """Share of base-unsolved problems the tuned model solves (0 if the base solves all)."""
    unsolved = base == 0
    return float((unsolved & (tuned > 0)).sum() / max(int(unsolved.sum()), 1))


def effects(counts: np.ndarray, n: int, resamples: int) -> dict[str, Effect]:
    """The study's effects, final RL checkpoint against its base (see rl_catalyst.decide)."""
    base, final = counts[:, 0], counts[:, -1]  # (S, P) each
    solved_b, solved_r = base > 0, final > 0
    return {
        "pass1_gain": mean_effect("pass@1 gain, RL - base", (final - base) / n, resamples),
        "large_k_gap": mean_effect(
            f"pass@{n} gap, base - RL", solved_b.astype(float) - solved_r, resamples
        ),
        "rl_only": mean_effect(
            "share of problems RL solves and the base never does", ~solved_b & solved_r, resamples
        ),
        "crossover": paired_effect(
            f"crossover k* (n+1 = {n + 1}: never)", base, final, crossover(n), resamples, "samples"
        ),
        "gap_se": mean_effect(
            f"sampling-efficiency gap, base pass@{n} - RL pass@1", solved_b - final / n, resamples
        ),
        "creation": paired_effect(
            f"creation rate (base-unsolved problems RL solves; there base < 3/n = {3 / n:.3g})",
            base,
            final,
            creation_rate,
            resamples,
            "fraction",
        ),
        "base_pass1": mean_effect("base pass@1", base / n, resamples),
        "base_passn": mean_effect(f"base pass@{n}", solved_b, resamples),
        "rl_pass1": mean_effect("RL pass@1", final / n, resamples),
        "rl_passn": mean_effect(f"RL pass@{n}", solved_r, resamples),
    }
