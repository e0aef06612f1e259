"""Training, measurement and effects of Study 4 (created or activated?); the claim, the
config and the decision rule live in ``capability_origin``, the tables and figures in
``capability_origin_tables`` and ``capability_origin_figures``.

Shapes: S training seeds, P held-out problems per cell, n samples per problem. A *cell*
is one (family, depth): its ``counts`` are (S, 2, P), correct samples of each problem for
the base (index 0) and for the RL model trained on that family (index 1). ``atomic``
holds the base's (S, P) counts at depth 1 per family. Every interval is the hierarchical
bootstrap of ``studies.stats`` (seeds, then problems within seeds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from regimescope.instruments import coverage as cov
from regimescope.instruments.passk_run import PassKConfig, run_passk
from regimescope.organisms import load_model
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.pretrain import PretrainConfig, pretrain
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.sampler.decode import SamplingConfig
from regimescope.store import RunDir
from regimescope.studies.base_organisms import organism_for
from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.verdict import Effect
from regimescope.tasks import get_task

FAMILIES = {"A": "latent (compositions pretrained)", "B": "atomic only", "C": "atomics missing"}


def eval_tokens(depth: int) -> int:
    """Token budget of a completion at ``depth``: 8 per step line, 9 for the answer, slack."""
    return 8 * depth + 16


def cell_task(family: str, depth: int) -> str:
    return (
        f"strings-atomic-{family.lower()}"
        if depth == 1
        else f"strings-depth{depth}-{family.lower()}"
    )


# ---------------------------------------------------------------- training


def base_config(cfg, seed: int) -> PretrainConfig:
    """The base organism: atomic functions of A and B, depth-2 compositions of A only.

    The loss is on the targets only (the prompts are random strings): Yuan et al.'s stage
    1 is likewise fine-tuning on atomic solutions. It learns the atomics about twice as
    fast as the loss on every token (measured at 800 steps on a micro organism).
    """
    return PretrainConfig(
        task=cfg.pretrain_task,
        organism=organism_for(cfg.organism_scale),
        steps=cfg.pretrain_steps,
        lr=cfg.pretrain_lr,
        loss_on="completion",
        batch_size=32,
        seed=seed,
        checkpoint_every=max(cfg.pretrain_steps // 4, 1),
        log_every=10,
    )


def rl_config(cfg, seed: int, base_model: str, family: str) -> RLConfig:
    """GRPO on depth-2 compositions of one family, from the base."""
    steps = cfg.missing_rl_steps if family == "C" else cfg.rl_steps
    return RLConfig(
        model=base_model,
        curriculum=CurriculumConfig(tasks=(cell_task(family, 2),)),
        objective="grpo",
        steps=steps,
        prompts_per_step=cfg.prompts_per_step,
        samples_per_prompt=cfg.samples_per_prompt,
        temperature=cfg.temperature,
        max_new_tokens=eval_tokens(2),
        lr=cfg.rl_lr,
        seed=seed,
        checkpoint_every=steps,
        recorder=RecorderConfig(  # every step's reward; no extra forward passes
            every=1, kl=False, changed=False, update_ratio=False, weight_norms=False
        ),
    )


@dataclass(frozen=True)
class SeedRun:
    seed: int  # training seed (base and the RL runs)
    base: RunDir  # the pretraining run
    rl: dict[str, RunDir]  # family -> its GRPO run on depth-2 compositions


def train_seed(cfg, seed: int, store, progress: Callable[[str], None]) -> SeedRun:
    """Pretrain (or reuse) the base, then one GRPO run per family on its depth-2 problems."""
    progress(f"seed {seed}: base, {cfg.pretrain_steps} steps on {cfg.pretrain_task}")
    base = pretrain(base_config(cfg, seed), store)
    runs = {}
    for family in FAMILIES:
        progress(f"seed {seed}: GRPO on family {family} depth 2")
        runs[family] = rl(rl_config(cfg, seed, str(base.model_dir), family), store)
    return SeedRun(seed, base, runs)


# ---------------------------------------------------------------- measurement


def cells(cfg) -> list[tuple[str, int]]:
    """The (family, depth) cells measured with base and RL: A and B at every depth, C at 2."""
    return [(f, d) for f in ("A", "B") for d in cfg.depths] + [("C", 2)]


def passk_settings(cfg, seed: int, depth: int) -> PassKConfig:
    sampling = SamplingConfig(
        n=cfg.n, temperature=cfg.temperature, max_new_tokens=eval_tokens(depth), seed=seed
    )
    return PassKConfig(
        split="test", problems=cfg.problems, sampling=sampling, bootstrap=100, ppl_samples=0
    )


def measure_seed(cfg, run: SeedRun, progress: Callable[[str], None]) -> dict:
    """Correct-sample counts of the base (and each family's RL model) on every cell.

    Returns {"cells": {(family, depth): (2, P)}, "atomic": {family: (P,)}}.
    """
    base = ("base", *load_model(run.base.model_dir))
    tuned = {f: (f"RL on {f}", *load_model(r.model_dir)) for f, r in run.rl.items()}
    found: dict = {"cells": {}, "atomic": {}}
    for family in FAMILIES:
        result = run_passk([base], get_task(cell_task(family, 1)), passk_settings(cfg, run.seed, 1))
        found["atomic"][family] = np.array(result.models[0].correct)
    for family, depth in cells(cfg):
        progress(f"seed {run.seed}: pass@k on family {family}, depth {depth}")
        task = get_task(cell_task(family, depth))
        result = run_passk([base, tuned[family]], task, passk_settings(cfg, run.seed, depth))
        found["cells"][family, depth] = np.array([m.correct for m in result.models])
    return found


def pooled(measured: list[dict], cfg) -> tuple[dict, dict]:
    """Stack seeds: cells -> (S, 2, P) per (family, depth); atomic -> (S, P) per family."""
    cell_counts = {c: np.stack([m["cells"][c] for m in measured]) for c in cells(cfg)}
    atomic = {f: np.stack([m["atomic"][f] for m in measured]) for f in FAMILIES}
    return cell_counts, atomic


# ---------------------------------------------------------------- effects


def mean_effect(name: str, values, resamples: int, unit: str = "fraction") -> Effect:
    """Mean of per-(seed, problem) ``values`` (S, P) with its hierarchical 95% interval."""
    estimate, ci = hierarchical_bootstrap(np.asarray(values, dtype=float), np.mean, resamples)
    return Effect(name, estimate, ci, unit)


def paired_effect(name: str, base, tuned, fn, resamples: int, unit: str) -> Effect:
    """``fn(base counts, tuned counts)`` with (seed, problem) pairs resampled together."""
    seeds, problems = base.shape
    index = np.arange(seeds * problems, dtype=float).reshape(seeds, problems)  # (S, P)

    def statistic(picked: np.ndarray) -> float:
        at = picked.astype(int).ravel()
        return fn(base.ravel()[at], tuned.ravel()[at])

    estimate, ci = hierarchical_bootstrap(index, statistic, resamples)
    return Effect(name, estimate, ci, unit)


def creation_rate(base: np.ndarray, tuned: np.ndarray) -> float:
    """Share of base-unsolved problems (0 of n correct) that RL solves; 0 if none unsolved."""
    unsolved = base == 0
    return float((unsolved & (tuned > 0)).sum() / max(int(unsolved.sum()), 1))


def crossover(n: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """k* of pooled counts, censored at n + 1 when the base stays below at every k."""

    def k_star(base: np.ndarray, tuned: np.ndarray) -> float:
        k = cov.crossover_k(base, tuned, n)
        return float(n + 1 if k is None else k)

    return k_star


def cell_effects(counts: np.ndarray, family: str, depth: int, n: int, resamples: int) -> dict:
    """The effects of one cell, RL against base (keys as in ``capability_origin.decide``)."""
    base, tuned = counts[:, 0], counts[:, 1]  # (S, P) each
    tag = f"{family}, depth {depth}"
    return {
        "gain": mean_effect(f"pass@1 gain RL - base ({tag})", (tuned - base) / n, resamples),
        "creation": paired_effect(
            f"creation rate: base-unsolved problems RL solves ({tag})",
            base,
            tuned,
            creation_rate,
            resamples,
            "fraction",
        ),
        "passn_gain": mean_effect(
            f"pass@{n} gain RL - base ({tag})", (tuned > 0).astype(float) - (base > 0), resamples
        ),
        "base_pass1": mean_effect(f"base pass@1 ({tag})", base / n, resamples),
        "base_passn": mean_effect(f"base pass@{n} ({tag})", base > 0, resamples),
        "rl_pass1": mean_effect(f"RL pass@1 ({tag})", tuned / n, resamples),
        "rl_passn": mean_effect(f"RL pass@{n} ({tag})", tuned > 0, resamples),
        "crossover": paired_effect(
            f"crossover k* ({tag}; n+1 = {n + 1}: never)",
            base,
            tuned,
            crossover(n),
            resamples,
            "samples",
        ),
    }


def all_effects(cell_counts: dict, n: int, resamples: int) -> dict[tuple[str, int], dict]:
    return {(f, d): cell_effects(c, f, d, n, resamples) for (f, d), c in cell_counts.items()}
