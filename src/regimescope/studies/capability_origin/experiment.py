"""Study 4's training and measurement: per seed, the base and one GRPO run per family, then
n samples per held-out problem of every (family, depth) cell from the base (twice) and
from that family's RL model.

Shapes: S training seeds, P held-out problems per cell, n samples per problem. A *cell*
is one (family, depth): its ``counts`` are (S, 2, P), correct samples of each problem for
the base (index 0) and for the RL model trained on that family (index 1), both drawn with
the seed's sampling seed (the sampler is counter-based, so they see the same random
numbers). ``reference`` holds per cell the (S, P) counts of a second draw of the base
with another sampling seed: creation is counted on the problems it leaves unsolved
(``analysis``). ``atomic`` holds the base's (S, P) counts at depth 1 per family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from regimescope.instruments.passk_run import PassKConfig, run_passk
from regimescope.organisms import load_model
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.pretrain import PretrainConfig, pretrain
from regimescope.regimes.rl import RLConfig, rl
from regimescope.store import RunDir
from regimescope.tasks import get_task

FAMILIES = {"A": "latent (compositions pretrained)", "B": "atomic only", "C": "atomics missing"}
REFERENCE_SEED_OFFSET = 1  # the base's second draw samples with seed + 1 (same n, problems)


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


def base_run(cfg, seed: int) -> PretrainConfig:
    return replace(cfg.base, seed=seed)


def rl_run(cfg, seed: int, base_model: str, family: str) -> RLConfig:
    """GRPO on depth-2 compositions of one family, from the base (C gets its own, shorter
    length: it is expected to get no reward)."""
    steps = cfg.missing_rl_steps if family == "C" else cfg.rl.steps
    return replace(
        cfg.rl,
        model=base_model,
        seed=seed,
        curriculum=CurriculumConfig(tasks=(cell_task(family, 2),)),
        steps=steps,
        checkpoint_every=min(cfg.rl.checkpoint_every, steps),
    )


def plan(cfg) -> list[PretrainConfig | RLConfig]:
    """The training runs the study needs, in the order it trains them: each seed's base,
    then its GRPO run on each family. A GRPO run starts from its base's model folder, known
    once the base is in the store; here ``model`` names the base it waits for."""
    runs: list[PretrainConfig | RLConfig] = []
    for seed in cfg.seeds:
        runs.append(base_run(cfg, seed))
        runs += [rl_run(cfg, seed, f"(model of the seed-{seed} base)", f) for f in FAMILIES]
    return runs


@dataclass(frozen=True)
class SeedRun:
    seed: int  # training seed (base and the RL runs)
    base: RunDir  # the pretraining run
    rl: dict[str, RunDir]  # family -> its GRPO run on depth-2 compositions


def train_seed(cfg, seed: int, store, progress: Callable[[str], None]) -> SeedRun:
    """Pretrain (or reuse) the base, then one GRPO run per family on its depth-2 problems."""
    progress(f"seed {seed}: base, {cfg.base.steps} steps on {cfg.base.task}")
    base = pretrain(base_run(cfg, seed), store)
    runs = {}
    for family in FAMILIES:
        progress(f"seed {seed}: GRPO on family {family} depth 2")
        runs[family] = rl(rl_run(cfg, seed, str(base.model_dir), family), store)
    return SeedRun(seed, base, runs)


def training_rewards(runs: list[SeedRun], family: str) -> list[list[float]]:
    """Per seed, the rollout reward of every logged GRPO step on ``family``, in step order."""
    return [
        [float(line["reward"]) for line in r.rl[family].read_metrics() if "reward" in line]
        for r in runs
    ]


# ---------------------------------------------------------------- measurement


def cells(cfg) -> list[tuple[str, int]]:
    """The (family, depth) cells measured with base and RL: A and B at every depth, C at 2."""
    return [(f, d) for f in ("A", "B") for d in cfg.depths] + [("C", 2)]


def eval_config(cfg, seed: int, depth: int) -> PassKConfig:
    """The pass@k settings at ``depth`` with the sampling seed ``seed``."""
    sampling = replace(cfg.eval.sampling, max_new_tokens=eval_tokens(depth), seed=seed)
    return replace(cfg.eval, sampling=sampling)


def measure_seed(cfg, run: SeedRun, progress: Callable[[str], None]) -> dict:
    """Correct-sample counts of the base (twice) and each family's RL model on every cell.

    Returns {"cells": {(family, depth): (2, P)}, "reference": {(family, depth): (P,)},
    "atomic": {family: (P,)}}.
    """
    base = ("base", *load_model(run.base.model_dir))
    tuned = {f: (f"RL on {f}", *load_model(r.model_dir)) for f, r in run.rl.items()}
    again = run.seed + REFERENCE_SEED_OFFSET
    found: dict = {"cells": {}, "reference": {}, "atomic": {}}
    for family in FAMILIES:
        task = get_task(cell_task(family, 1))
        result = run_passk([base], task, eval_config(cfg, run.seed, 1))
        found["atomic"][family] = np.array(result.models[0].correct)
    for family, depth in cells(cfg):
        progress(f"seed {run.seed}: pass@k on family {family}, depth {depth}")
        task = get_task(cell_task(family, depth))
        result = run_passk([base, tuned[family]], task, eval_config(cfg, run.seed, depth))
        found["cells"][family, depth] = np.array([m.correct for m in result.models])
        second = run_passk([base], task, eval_config(cfg, again, depth))
        found["reference"][family, depth] = np.array(second.models[0].correct)
    return found


def pooled(measured: list[dict], cfg) -> tuple[dict, dict, dict]:
    """Stack seeds: cells -> (S, 2, P) and reference -> (S, P) per (family, depth); atomic
    -> (S, P) per family."""
    cell_counts = {c: np.stack([m["cells"][c] for m in measured]) for c in cells(cfg)}
    reference = {c: np.stack([m["reference"][c] for m in measured]) for c in cells(cfg)}
    atomic = {f: np.stack([m["atomic"][f] for m in measured]) for f in FAMILIES}
    return cell_counts, reference, atomic
