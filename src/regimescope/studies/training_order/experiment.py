"""Study 10, train and measure: one base on all three domains, then per seed every chain of
RL stages (every ordered prefix of every training order) and the joint run.

Chains share prefixes: the stage-1 runs are the single-domain runs (3 per seed), the
stage-2 runs the pairwise runs (6: they give the pairwise transfer matrix), the stage-3
runs the six full orders; the joint run trains the equal mixture of the three domains for
as many steps as an order (3 x ``rl.steps``). 15 chained runs + 1 joint run per seed.

Every model (the base once, every run of every seed) is measured on the same held-out
problems of each domain (``problems`` distinct test prompts, ``samples`` samples each at
temperature 1, one fixed sampling seed): per problem the mean reward (the creative
domain's group reward over the problem's samples) and the sums of the policy's token
entropy and token count over its samples, so a score is a mean over (seed, problem) cells
and an entropy a ratio of sums over them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from regimescope.organisms import load_model
from regimescope.regimes.multidomain import (
    DOMAINS,
    StageConfig,
    domain_task,
    group_rewards,
    train_base,
    train_stage,
)
from regimescope.regimes.objectives import token_entropy
from regimescope.regimes.rl import completion_logits
from regimescope.regimes.rollout import Rollouts, rollout_batch, shifted
from regimescope.sampler import sample
from regimescope.sampler.decode import SamplingConfig
from regimescope.store import RunDir
from regimescope.tasks import distinct_examples

ORDERS = tuple(itertools.permutations(DOMAINS))  # the 6 training orders
CHAINS = tuple(o[:k] for k in (1, 2, 3) for o in ORDERS)
CHAINS = tuple(dict.fromkeys(CHAINS))  # 3 singles, 6 pairs, 6 orders
JOINT = ("joint",)
EVAL_SEED = 12345  # sampling seed of every evaluation (the same draws for every model)


def chain_label(chain: tuple[str, ...]) -> str:
    return ">".join(chain)


# ---------------------------------------------------------------- the plan and training


def stage_config(cfg, seed: int, chain: tuple[str, ...], start_dir: str) -> StageConfig:
    """The run that trains the last domain of ``chain`` from ``start_dir`` (the base's
    model for a single, the chain's prefix's model otherwise); ``JOINT``: the mixture."""
    if chain == JOINT:
        rl = replace(cfg.rl, model=start_dir, seed=seed, steps=len(DOMAINS) * cfg.rl.steps)
        return StageConfig(rl=rl, domains=DOMAINS, stage="joint")
    rl = replace(cfg.rl, model=start_dir, seed=seed)
    return StageConfig(rl=rl, domains=(chain[-1],), stage=chain_label(chain))


def first_stage(cfg, base_dir: str) -> list[StageConfig]:
    """The runs that start from the base: the single-domain runs and the joint run."""
    starts = [c for c in CHAINS if len(c) == 1] + [JOINT]
    return [stage_config(cfg, seed, c, base_dir) for seed in cfg.seeds for c in starts]


def plan(cfg, base_dir: str = "") -> list:
    """The runs the executor can train ahead: the base, then every run that starts from it.
    The stage-2 and stage-3 runs start from stage-1 and stage-2 models, so ``run`` trains
    them itself (reusing the planned ones)."""
    return [cfg.base, *first_stage(cfg, base_dir)]


def train_all(cfg, store, progress: Callable[[str], None]) -> tuple[RunDir, dict]:
    """(the base run, {(seed, chain): run}) with chain a tuple of domains or ``JOINT``."""
    progress("base organism on all domains")
    base = train_base(cfg.base, store)
    runs: dict = {}
    for seed in cfg.seeds:
        for chain in (*CHAINS, JOINT):
            start = base if len(chain) == 1 else runs.get((seed, chain[:-1]), base)
            progress(f"seed {seed}: {chain_label(chain)}")
            config = stage_config(cfg, seed, chain, str(start.model_dir))
            runs[(seed, chain)] = train_stage(config, store)
    return base, runs


# ---------------------------------------------------------------- measuring a model


def measure(folder, cfg) -> pd.DataFrame:
    """One row per (domain, problem): ``score`` (mean reward of its samples), ``h`` (sum of
    token entropies, nats) and ``n`` (tokens) over its samples."""
    model, tokenizer = load_model(folder)
    model.eval()
    sampling = SamplingConfig(
        n=cfg.samples, temperature=1.0, max_new_tokens=cfg.rl.max_new_tokens, seed=EVAL_SEED
    )
    rows = []
    for domain in DOMAINS:
        task = domain_task(domain)
        items = distinct_examples(task, cfg.problems, "test")
        completions = sample(model, tokenizer, [e.prompt for e in items], sampling)
        h, n = entropy_sums(model, tokenizer, items, completions)
        for p, (example, row) in enumerate(zip(items, completions, strict=True)):
            rewards = group_rewards(task, example, [c.text for c in row])
            rows.append(
                {
                    "domain": domain,
                    "problem": p,
                    "score": float(np.mean(rewards)),
                    "h": h[p],
                    "n": n[p],
                }
            )
    return pd.DataFrame(rows)


def entropy_sums(model, tokenizer, items, completions) -> tuple[list[float], list[float]]:
    """Per problem: the sum of the policy's next-token entropy (T = 1) at every sampled
    completion token of its samples, and the number of those tokens."""
    samples = len(completions[0])
    rollouts = Rollouts(items, completions, torch.zeros(len(items), samples), [None] * 0)
    batch = rollout_batch(tokenizer, rollouts)
    _, mask, _ = shifted(batch)
    with torch.inference_mode():
        entropy = token_entropy(completion_logits(model, batch, 1.0))  # (B, T-1)
    per_sample_h = (entropy * mask).sum(dim=1).view(len(items), samples).sum(dim=1)
    per_sample_n = mask.sum(dim=1).view(len(items), samples).sum(dim=1).float()
    return per_sample_h.tolist(), per_sample_n.tolist()


def measure_all(base: RunDir, runs: dict, cfg, progress) -> pd.DataFrame:
    """Rows of every model: ``model`` (chain label, "joint" or "base"), ``seed`` (-1 for
    the base), ``stage`` (domains trained so far; 0 for the base)."""
    progress("measuring the base")
    frames = [measure(base.model_dir, cfg).assign(model="base", seed=-1, stage=0)]
    for (seed, chain), run in runs.items():
        progress(f"measuring seed {seed}: {chain_label(chain)}")
        stage = len(DOMAINS) if chain == JOINT else len(chain)
        frames.append(
            measure(run.model_dir, cfg).assign(model=chain_label(chain), seed=seed, stage=stage)
        )
    return pd.concat(frames, ignore_index=True)


def training_curves(runs: dict) -> pd.DataFrame:
    """The recorder's per-step reward and rollout entropy of every run (its training
    prompts: the domain it trains), with the step counted from the base along the chain."""
    rows = []
    for (seed, chain), run in runs.items():
        for record in run.read_metrics():
            offset = 0 if chain == JOINT else (len(chain) - 1) * record_steps(run)
            rows.append(
                {
                    "seed": seed,
                    "model": chain_label(chain),
                    "domain": "joint" if chain == JOINT else chain[-1],
                    "step": record["step"] + offset,
                    "reward": record.get("reward", np.nan),
                    "entropy": record.get("entropy", np.nan),
                }
            )
    return pd.DataFrame(rows)


def record_steps(run: RunDir) -> int:
    """The number of RL steps of a run (from its config)."""
    return int(run.config["rl"]["steps"])
