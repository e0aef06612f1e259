"""Study 5's machinery: training the arms and measuring every checkpoint.

Every checkpoint (the base at step 0, then every ``eval_every`` RL steps) is measured on
the same held-out problems with the same sampling seed, so curves over steps differ only
by the weights. A measurement is one row per problem: accuracy, plan accuracy
(``plan_ok``), execution accuracy (``exec_ok``), plan-choice entropy over the n samples,
distinct valid plans, and per token class (plan, exec, answer, format, all) the sums of
the policy's token entropy and of the sampled tokens' negative log-likelihood, with the
token count, so a curve is a ratio of sums over the (seed, problem) cells it is given.
Curves, effects, the n-gram proxy and figures live in ``two_phase_curves``,
``two_phase_effects``, ``two_phase_proxy`` and ``two_phase_figures``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from regimescope.instruments import planning
from regimescope.organisms import load_model
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.objectives import token_entropy, token_log_probs
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig, completion_logits, rl
from regimescope.regimes.rollout import Rollouts, rollout_batch, shifted
from regimescope.sampler.decode import SamplingConfig, sample
from regimescope.store import RunDir
from regimescope.studies.base_organisms import trained_base
from regimescope.tasks import get_task
from regimescope.tasks.base import TOKEN_CLASSES
from regimescope.tasks.countdown import solutions
from regimescope.tasks.token_classes import token_class_ids

if TYPE_CHECKING:
    from regimescope.studies.base import StudyContext
    from regimescope.studies.two_phase import TwoPhaseConfig

CLASSES = ("plan", "exec", "answer", "format", "all")  # token classes measured ("all": every token)
EVAL_SEED = 0  # sampling seed of every measurement (same samples' randomness at every step)
ROWS_PER_FORWARD = 512  # sampled sequences scored in one forward pass


@dataclass(frozen=True)
class Arm:
    label: str  # shown in figures and effect names
    objective: str  # RL objective
    entropy_bonus: bool  # whether the arm adds the token-entropy bonus


ARMS = {
    "grpo": Arm("GRPO", "grpo", False),
    "hicra": Arm("HICRA", "hicra", False),
    "entropy": Arm("GRPO + entropy bonus", "grpo", True),
}

# metric -> (numerator column, denominator column or None for a mean over cells, unit)
METRICS = {
    "accuracy": ("accuracy", None, "fraction"),
    "plan accuracy": ("plan_acc", None, "fraction"),
    "execution accuracy": ("exec_acc", None, "fraction"),
    "plan-choice entropy": ("plan_entropy", None, "nats"),
    "valid-plan coverage": ("coverage", None, "fraction"),
    "execution-token entropy": ("h_exec", "n_exec", "nats"),
    "planning-token entropy": ("h_plan", "n_plan", "nats"),
    "aggregate token entropy": ("h_all", "n_all", "nats"),
    "execution-token relative perplexity": ("nll_exec", "n_exec", "PPL_t / PPL_0"),
    "planning-token relative perplexity": ("nll_plan", "n_plan", "PPL_t / PPL_0"),
}


@dataclass(frozen=True)
class Trained:
    arm: str  # key of ARMS
    seed: int  # RL seed
    run: RunDir  # the finished RL run (checkpoints every eval_every steps)


# ---------------------------------------------------------------- training


def rl_config(cfg: TwoPhaseConfig, base_dir: str, arm: str, seed: int) -> RLConfig:
    """One arm's run: the shared rate, no KL, a checkpoint every ``eval_every`` steps."""
    record = RecorderConfig(
        every=1, kl=False, formats=False, update_ratio=False, changed=False, weight_norms=False
    )
    return RLConfig(
        model=base_dir,
        curriculum=CurriculumConfig(tasks=(cfg.base.task,)),
        objective=ARMS[arm].objective,
        steps=cfg.steps,
        prompts_per_step=cfg.prompts_per_step,
        samples_per_prompt=cfg.samples_per_prompt,
        max_new_tokens=cfg.max_new_tokens,
        lr=cfg.lr,
        alpha=cfg.alpha,
        entropy_coef=cfg.entropy_coef if ARMS[arm].entropy_bonus else 0.0,
        seed=seed,
        checkpoint_every=cfg.eval_every,
        recorder=record,
    )


def train_all(cfg: TwoPhaseConfig, ctx: StudyContext) -> tuple[RunDir, list[Trained]]:
    """(the base run, one finished RL run per arm and seed)."""
    ctx.progress("base organism")
    base = trained_base(cfg.base, ctx.store)
    trained = []
    for arm in ARMS:
        for seed in cfg.seeds:
            ctx.progress(f"{ARMS[arm].label}, seed {seed}: {cfg.steps} RL steps")
            run = rl(rl_config(cfg, str(base.model_dir), arm, seed), ctx.store)
            trained.append(Trained(arm, seed, run))
    return base, trained


def checkpoints(run: RunDir) -> list[tuple[int, object]]:
    """(step, model folder) of every checkpoint of a finished run, in step order."""
    return [(step, run.checkpoint_dir(step)) for step in run.checkpoint_steps()]


# ---------------------------------------------------------------- measuring a checkpoint


def measure(folder, cfg: TwoPhaseConfig, keep_docs: bool = False) -> tuple[pd.DataFrame, list]:
    """Sample ``eval_samples`` completions of each held-out problem and score them: one row
    per problem (see the module docstring) and, if asked, each sample's doc (tokens, plan
    mask or None if unlabelled, correctness) for the n-gram proxy."""
    task = get_task(cfg.base.task)
    items = [task.example(i, "test", 0) for i in range(cfg.eval_problems)]
    model, tokenizer = load_model(folder)
    model.eval()
    sampling = SamplingConfig(
        n=cfg.eval_samples,
        temperature=cfg.eval_temperature,
        max_new_tokens=cfg.max_new_tokens,
        seed=EVAL_SEED,
    )
    completions = sample(model, tokenizer, [e.prompt for e in items], sampling)
    scores = [
        [task.verify(e, c.text) for c in row] for e, row in zip(items, completions, strict=True)
    ]
    sums = token_sums(model, tokenizer, items, completions, cfg.eval_temperature)
    rows = pd.DataFrame(
        [
            problem_row(p, e, s, task.config.max_value)
            for p, (e, s) in enumerate(zip(items, scores, strict=True))
        ]
    )
    rows = pd.concat([rows, pd.DataFrame(sums)], axis=1)
    return rows, sample_docs(tokenizer, items, completions, scores) if keep_docs else []


def problem_row(problem: int, example, scores, max_value: int) -> dict:
    """Accuracy, plan and execution accuracy, plan-choice entropy and valid-plan coverage."""
    details = [s.details for s in scores]
    valid = {d["plan"] for d in details if d["plan_ok"]}
    found = sum(1 for _ in solutions(example.meta["numbers"], example.meta["target"], max_value))
    return {
        "problem": problem,
        "accuracy": float(np.mean([s.reward for s in scores])),
        "plan_acc": float(np.mean([d["plan_ok"] for d in details])),
        "exec_acc": float(np.mean([d["exec_ok"] for d in details])),
        "plan_entropy": planning.choice_entropy([d["plan"] or "<none>" for d in details]),
        "valid_plans": len(valid),
        "coverage": len(valid) / max(found, 1),
    }


def token_sums(model, tokenizer, items, completions, temperature: float) -> dict[str, list]:
    """Per problem and token class: sums of policy entropy and sampled-token NLL, and counts."""
    out: dict[str, list] = {f"{k}_{c}": [] for k in ("h", "nll", "n") for c in CLASSES}
    per = max(1, ROWS_PER_FORWARD // max(len(completions[0]), 1))  # prompts per forward
    for start in range(0, len(items), per):
        chunk_items, chunk = items[start : start + per], completions[start : start + per]
        n = len(chunk[0])
        rollouts = Rollouts(
            chunk_items, chunk, torch.zeros(len(chunk), n), [None] * (len(chunk) * n)
        )
        batch = rollout_batch(tokenizer, rollouts)
        tokens, mask, class_ids = shifted(batch)  # (B, T-1) each
        with torch.inference_mode():
            logits = completion_logits(model, batch, temperature)  # (B, T-1, V)
            entropy, nll = token_entropy(logits), -token_log_probs(logits, tokens)  # (B, T-1)
        for cls in CLASSES:
            chosen = mask if cls == "all" else mask & (class_ids == TOKEN_CLASSES.index(cls))
            for key, value in (("h", entropy), ("nll", nll), ("n", torch.ones_like(nll))):
                per_problem = (value * chosen).sum(dim=1).view(len(chunk), n).sum(dim=1)  # (p,)
                out[f"{key}_{cls}"] += per_problem.tolist()
    return out


def sample_docs(tokenizer, items, completions, scores) -> list[dict]:
    """Each sample's tokens, ground-truth plan mask (None if unlabelled) and correctness."""
    plan = TOKEN_CLASSES.index("plan")
    docs = []
    for p, (example, row, row_scores) in enumerate(zip(items, completions, scores, strict=True)):
        for completion, score in zip(row, row_scores, strict=True):
            ids = token_class_ids(tokenizer, example, completion)
            labelled = any(i >= 0 for i in ids)
            docs.append(
                {
                    "problem": p,
                    "tokens": tokenizer.convert_ids_to_tokens(list(completion.token_ids)),
                    "plan_mask": [i == plan for i in ids] if labelled else None,
                    "correct": score.reward > 0.5,
                }
            )
    return docs


def measure_all(base: RunDir, trained: list[Trained], cfg, ctx) -> tuple[pd.DataFrame, list]:
    """(per-problem rows of every checkpoint, sample docs of the last GRPO checkpoints)."""
    ctx.progress("measuring the base")
    frames = [measure(base.model_dir, cfg)[0].assign(arm="base", seed=-1, step=0)]
    docs = []
    for t in trained:
        ctx.progress(f"measuring {ARMS[t.arm].label}, seed {t.seed}")
        for step, folder in checkpoints(t.run):
            last = t.arm == "grpo" and step == cfg.steps
            rows, found = measure(folder, cfg, keep_docs=last)
            frames.append(rows.assign(arm=t.arm, seed=t.seed, step=step))
            docs += [{**d, "seed": t.seed} for d in found]
    return pd.concat(frames, ignore_index=True), docs


# ---------------------------------------------------------------- the recorder's rollout metrics


def rollout_table(trained: list[Trained]) -> pd.DataFrame:
    """The recorder's per-step rollout metrics of every run (training prompts)."""
    keys = ("reward", "entropy", "entropy/plan", "entropy/exec", "entropy/answer", "entropy/format")
    rows = [
        (t.arm, t.seed, record["step"], *(record.get(k, np.nan) for k in keys))
        for t in trained
        for record in t.run.read_metrics()
    ]
    return pd.DataFrame(rows, columns=["arm", "seed", "step", *keys])
