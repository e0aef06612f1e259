"""Study 5's experiment: train the arms, measure every checkpoint.

Every checkpoint (the base at step 0, then every ``rl.checkpoint_every`` RL steps) is
measured on the same held-out problems with the same sampling seed, so curves over steps
differ only by the weights. A measurement is one row per problem: accuracy, plan accuracy
(``plan_ok``), execution accuracy (``exec_ok``), the plan measures of ``plan_measures``,
and per token class (plan, exec, answer, format, all) the sums of the policy's token
entropy and of the sampled tokens' negative log-likelihood, with the token count, so a
curve is a ratio of sums over the (seed, problem) cells it is given.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from regimescope.instruments import planning
from regimescope.organisms import load_model
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.objectives import token_entropy, token_log_probs
from regimescope.regimes.rl import RLConfig, completion_logits, rl
from regimescope.regimes.rollout import Rollouts, rollout_batch, shifted
from regimescope.sampler import sample
from regimescope.store import RunDir
from regimescope.studies.base_organisms import trained_base
from regimescope.tasks import distinct_examples, get_task
from regimescope.tasks.base import TOKEN_CLASSES
from regimescope.tasks.countdown import OPS, parse_plan, run_plan
from regimescope.tasks.token_classes import token_class_ids

CLASSES = ("plan", "exec", "answer", "format", "all")  # token classes measured ("all": every token)
ROWS_PER_FORWARD = 512  # sampled sequences scored in one forward pass


@dataclass(frozen=True)
class Arm:
    label: str  # shown in figures, effect and premise names
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
    "valid-plan coverage": ("coverage", None, "fraction"),
    "valid-plan diversity": ("simpson", "simpson_n", "probability"),
    "plan-choice entropy": ("plan_entropy", None, "nats"),
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
    run: RunDir  # the finished RL run (a checkpoint every rl.checkpoint_every steps)


# ---------------------------------------------------------------- the plan and training


def rl_runs(cfg, base_dir: str = "") -> list[tuple[str, int, RLConfig]]:
    """(arm, seed, RL config) of every RL run, in training order: the study's ``rl``
    template with the arm's objective and entropy bonus, the start model, the seed and
    the base's task filled in."""
    curriculum = CurriculumConfig(tasks=(cfg.base.task,))
    return [
        (
            arm,
            seed,
            replace(
                cfg.rl,
                model=base_dir,
                objective=ARMS[arm].objective,
                entropy_coef=cfg.entropy_coef if ARMS[arm].entropy_bonus else 0.0,
                seed=seed,
                curriculum=curriculum,
            ),
        )
        for arm in ARMS
        for seed in cfg.seeds
    ]


def plan(cfg, base_dir: str = "") -> list:
    """The training runs the study needs, in order: the base, then every RL run (whose
    start model is the base's folder, ``base_dir``, known once the base is trained)."""
    return [cfg.base, *(config for _, _, config in rl_runs(cfg, base_dir))]


def train_all(cfg, store, progress: Callable[[str], None]) -> tuple[RunDir, list[Trained]]:
    """(the base run, one finished RL run per arm and seed)."""
    progress("base organism")
    base = trained_base(cfg.base, store)
    trained = []
    for arm, seed, config in rl_runs(cfg, str(base.model_dir)):
        progress(f"{ARMS[arm].label}, seed {seed}: {config.steps} RL steps")
        trained.append(Trained(arm, seed, rl(config, store)))
    return base, trained


def checkpoints(run: RunDir) -> list[tuple[int, object]]:
    """(step, model folder) of every checkpoint of a finished run, in step order."""
    return [(step, run.checkpoint_dir(step)) for step in run.checkpoint_steps()]


# ---------------------------------------------------------------- plan measures


def valid_plans(numbers: Sequence[int], target: int) -> set:
    """Every plan the verifier accepts as ``plan_ok`` for a problem: any ordered choice of
    the given numbers (each used at most as often as given) with any operators, evaluated
    left to right, reaching ``target``. The reference set of valid-plan coverage."""
    found = set()
    for size in range(1, len(numbers) + 1):
        for order in set(itertools.permutations(numbers, size)):
            for ops in itertools.product(OPS, repeat=size - 1):
                if run_plan((order, ops))[-1] == target:
                    found.add((tuple(order), tuple(ops)))
    return found


def plan_measures(plans: Sequence[Hashable | None], valid: Sequence[bool], reference: int) -> dict:
    """The plan diversity of one problem's n samples.

    ``plans``: each sample's plan (None when it wrote none); ``valid``: whether each plan
    reaches the target with allowed numbers (``plan_ok``); ``reference``: how many valid
    plans the problem has (``valid_plans``).

    - ``coverage`` (decided): distinct valid plans among the n samples / ``reference``;
      a policy that moves mass from wrong plans onto one valid plan keeps it, one that
      stops reaching valid plans within n samples lowers it.
    - ``simpson``, ``simpson_n`` (reported): the Gini-Simpson index of the valid samples'
      plans, 1 − Σ c_j (c_j − 1) / (m (m − 1)) over the m valid samples (the chance that two
      of them use different plans; unbiased at any m >= 2), and 1 where m >= 2 (else both 0),
      so a curve is its mean over problems with two valid samples or more.
    - ``plan_entropy`` (the old, pre-v2 measure): entropy of the plan choice over all n
      samples, wrong and missing plans included, so it falls when wrong plans vanish.
    """
    chosen = Counter(p for p, ok in zip(plans, valid, strict=True) if ok)
    m = sum(chosen.values())
    repeats = sum(c * (c - 1) for c in chosen.values())
    return {
        "valid_plans": len(chosen),
        "coverage": len(chosen) / max(reference, 1),
        "simpson": 1 - repeats / (m * (m - 1)) if m >= 2 else 0.0,
        "simpson_n": float(m >= 2),
        "plan_entropy": planning.choice_entropy(["<none>" if p is None else p for p in plans]),
    }


def problem_row(problem: int, example, scores) -> dict:
    """Accuracy, plan and execution accuracy and the plan measures of one problem."""
    details = [s.details for s in scores]
    plans = [None if d["plan"] is None else parse_plan(d["plan"]) or d["plan"] for d in details]
    reference = valid_plans(example.meta["numbers"], example.meta["target"])
    return {
        "problem": problem,
        "accuracy": float(np.mean([s.reward for s in scores])),
        "plan_acc": float(np.mean([d["plan_ok"] for d in details])),
        "exec_acc": float(np.mean([d["exec_ok"] for d in details])),
        **plan_measures(plans, [d["plan_ok"] for d in details], len(reference)),
    }


# ---------------------------------------------------------------- measuring a checkpoint


def measure(folder, cfg, keep_docs: bool = False) -> tuple[pd.DataFrame, list]:
    """Sample ``cfg.eval`` completions of each of ``cfg.problems`` test problems and score
    them: one row per problem (see the module docstring) and, if asked, each sample's doc
    (tokens, plan mask or None if unlabelled, correctness) for the n-gram proxy."""
    task = get_task(cfg.base.task)
    items = distinct_examples(task, cfg.problems, "test")  # repeats would count twice
    model, tokenizer = load_model(folder)
    model.eval()
    completions = sample(model, tokenizer, [e.prompt for e in items], cfg.eval)
    scores = [
        [task.verify(e, c.text) for c in row] for e, row in zip(items, completions, strict=True)
    ]
    sums = token_sums(model, tokenizer, items, completions, cfg.eval.temperature)
    rows = pd.DataFrame(
        [problem_row(p, e, s) for p, (e, s) in enumerate(zip(items, scores, strict=True))]
    )
    rows = pd.concat([rows, pd.DataFrame(sums)], axis=1)
    return rows, sample_docs(tokenizer, items, completions, scores) if keep_docs else []


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
    plan_class = TOKEN_CLASSES.index("plan")
    docs = []
    for p, (example, row, row_scores) in enumerate(zip(items, completions, scores, strict=True)):
        for completion, score in zip(row, row_scores, strict=True):
            ids = token_class_ids(tokenizer, example, completion)
            labelled = any(i >= 0 for i in ids)
            docs.append(
                {
                    "problem": p,
                    "tokens": tokenizer.convert_ids_to_tokens(list(completion.token_ids)),
                    "plan_mask": [i == plan_class for i in ids] if labelled else None,
                    "correct": score.reward > 0.5,
                }
            )
    return docs


def measure_all(
    base: RunDir, trained: list[Trained], cfg, progress: Callable[[str], None]
) -> tuple[pd.DataFrame, list]:
    """(per-problem rows of every checkpoint, sample docs of the last GRPO checkpoints)."""
    progress("measuring the base")
    frames = [measure(base.model_dir, cfg)[0].assign(arm="base", seed=-1, step=0)]
    docs = []
    for t in trained:
        progress(f"measuring {ARMS[t.arm].label}, seed {t.seed}")
        for step, folder in checkpoints(t.run):
            last = t.arm == "grpo" and step == cfg.rl.steps
            rows, found = measure(folder, cfg, keep_docs=last)
            frames.append(rows.assign(arm=t.arm, seed=t.seed, step=step))
            docs += [{**d, "seed": t.seed} for d in found]
    return pd.concat(frames, ignore_index=True), docs


# ---------------------------------------------------------------- the recorder's rollout metrics

ROLLOUT_KEYS = (
    "reward",
    "entropy",
    "entropy/plan",
    "entropy/exec",
    "entropy/answer",
    "entropy/format",
)


def rollout_table(trained: list[Trained]) -> pd.DataFrame:
    """The recorder's per-step rollout metrics of every run (training prompts)."""
    rows = [
        (t.arm, t.seed, record["step"], *(record.get(k, np.nan) for k in ROLLOUT_KEYS))
        for t in trained
        for record in t.run.read_metrics()
    ]
    return pd.DataFrame(rows, columns=["arm", "seed", "step", *ROLLOUT_KEYS])
