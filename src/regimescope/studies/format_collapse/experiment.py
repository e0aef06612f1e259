"""Study 6, train and measure: the grid of bases (mixture × scale × seed), the RL arms
(one per KL coefficient) from each, and the format samples of every model.

Every model (each base, each RL run after its first pass and at its end) is sampled on
the same held-out problems with the same sampling seed, so per-problem format shares are
paired across models and the runs × problems design is crossed. A sample's format is
``classify_format`` of its text (``code``, ``nl``, ``tagged``, or ``none`` when no
format marker appears). The RL runs log every step, so the training reward the shared RL
premise reads is the whole per-step series.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from regimescope.organisms import load_model
from regimescope.organisms.presets import preset
from regimescope.regimes.pretrain import PretrainConfig, pretrain
from regimescope.regimes.rl import RLConfig, rl
from regimescope.sampler import SamplingConfig, sample
from regimescope.store import RunDir
from regimescope.tasks import FORMATS, distinct_examples, get_task

NAMES = (*FORMATS, "none")  # format labels of samples; index 3 = no format marker
EVAL_TASK = "arithmetic"  # every mixture shares its problems and verifier with this task


@dataclass(frozen=True)
class Condition:
    scale: str  # organism preset name
    mixture: str  # pretraining task (format proportions)
    seed: int  # pretraining and RL seed


def conditions(cfg) -> list[Condition]:
    """Every base of the grid, in the order they are trained."""
    return [Condition(s, m, seed) for m in cfg.mixtures for s in cfg.scales for seed in cfg.seeds]


# ---------------------------------------------------------------- the plan


def base_config(cfg, cond: Condition) -> PretrainConfig:
    """The base of ``cond``: both scales see the same examples for the same steps.
    Checkpoint and log cadence match ``base_organisms.latent_base``, so equal configs
    share a run."""
    return PretrainConfig(
        task=cond.mixture,
        organism=preset(cond.scale),
        steps=cfg.pretrain_steps,
        batch_size=cfg.pretrain_batch,
        seed=cond.seed,
        checkpoint_every=100,
        log_every=10,
    )


def rl_config(cfg, base_dir: str, cond: Condition, kl: float) -> RLConfig:
    """``cfg.rl`` from the base of ``cond`` with KL coefficient ``kl``, and a checkpoint
    where the first pass is read."""
    return replace(
        cfg.rl,
        model=base_dir,
        seed=cond.seed,
        kl_coef=kl,
        checkpoint_every=cfg.first_pass_step,
    )


def plan(cfg, base_dirs: dict[Condition, str] | None = None) -> list:
    """The training runs of the study in order: each base, then its RL arms. An RL run
    starts from its base's model folder, known once the base is trained (empty until then)."""
    found = []
    for cond in conditions(cfg):
        start = (base_dirs or {}).get(cond, "")
        found += [base_config(cfg, cond), *(rl_config(cfg, start, cond, k) for k in cfg.kl_coefs)]
    return found


# ---------------------------------------------------------------- training


def train(cfg, ctx) -> tuple[dict[Condition, RunDir], dict[tuple[Condition, float], RunDir]]:
    """(bases: Condition -> run, runs: (Condition, kl) -> run), trained or reused."""
    bases, runs = {}, {}
    for cond in conditions(cfg):
        ctx.progress(f"base {cond.scale} on {cond.mixture}, seed {cond.seed}")
        bases[cond] = pretrain(base_config(cfg, cond), ctx.store)
        for kl in cfg.kl_coefs:
            ctx.progress(f"RL {cond.scale} on {cond.mixture}, seed {cond.seed}, KL {kl:g}")
            config = rl_config(cfg, str(bases[cond].model_dir), cond, kl)
            runs[cond, kl] = rl(config, ctx.store)
    return bases, runs


def training_rewards(run: RunDir) -> list[float]:
    """An RL run's training reward (mean over the step's rollouts) at every logged step."""
    return [float(r["reward"]) for r in run.read_metrics() if "reward" in r]


def rollout_frame(run: RunDir) -> pd.DataFrame:
    """The recorder's per-step rollout format shares and per-format accuracy, tidy."""
    rows = [
        (r["step"], f, r.get(f"format_share/{f}"), r.get(f"format_acc/{f}"), r.get("accuracy"))
        for r in run.read_metrics()
        for f in NAMES
    ]
    columns = ["step", "format", "share", "format_accuracy", "accuracy"]
    return pd.DataFrame(rows, columns=columns).astype({c: float for c in columns[2:]})


# ---------------------------------------------------------------- sampling formats


@dataclass(frozen=True)
class Samples:
    formats: np.ndarray  # (P, n) index into NAMES
    correct: np.ndarray  # (P, n) 1.0 where the verifier accepts the sample

    def shares(self) -> np.ndarray:
        """(P, 4) share of each problem's samples in each format (NAMES order)."""
        return np.stack([(self.formats == i).mean(axis=1) for i in range(len(NAMES))], axis=1)

    def winner_share(self, won: int) -> np.ndarray:
        """(P,) share of format ``won`` per problem; 0 when no format won (``none``)."""
        return self.shares()[:, won] if won < len(FORMATS) else np.zeros(len(self.formats))


def forced_prefix(example) -> str:
    """The gold target up to its first number: ``a=3``, ``3`` or ``<s>3``. Sampling after it
    commits the model to the example's format at the cost of copying one operand."""
    end = example.target_classes.index("exec")
    while end < len(example.target) and example.target_classes[end] == "exec":
        end += 1
    return example.target[:end]


def draw(model, tokenizer, items, prefixes, sampling: SamplingConfig) -> Samples:
    """Sample each item's prompt (+ prefix); score prefix + completion."""
    task = get_task(EVAL_TASK)
    prompts = [e.prompt + p for e, p in zip(items, prefixes, strict=True)]
    outs = sample(model, tokenizer, prompts, sampling)
    texts = [[p + c.text for c in row] for p, row in zip(prefixes, outs, strict=True)]
    formats = [[NAMES.index(task.classify_format(t) or "none") for t in row] for row in texts]
    correct = [[task.verify(e, t).reward for t in row] for e, row in zip(items, texts, strict=True)]
    return Samples(np.array(formats), np.array(correct, dtype=float))


@dataclass(frozen=True)
class BaseSamples:
    free: Samples  # unforced samples: the pre-RL format frequency and accuracy
    forced: dict[str, Samples]  # format -> samples with that format's opening forced


@dataclass(frozen=True)
class Measured:
    bases: dict[Condition, BaseSamples]
    first: dict[tuple[Condition, float], Samples]  # after the first pass over the RL prompts
    final: dict[tuple[Condition, float], Samples]  # at the end of the RL run
    rewards: dict[tuple[Condition, float], list[float]]  # per-step training reward of each run


def measure(cfg, bases: dict, runs: dict, progress=lambda _: None) -> Measured:
    """Sample every base (free and forced) and every RL run (first pass, end) with
    ``cfg.eval`` on the first ``cfg.eval_problems`` held-out problems; ``progress(line)``
    hears as each model is sampled."""
    task = get_task(EVAL_TASK)
    problems = [e.index for e in distinct_examples(task, cfg.eval_problems, "test")]
    free = [task.example(i, "test") for i in problems]
    forced = {f: [task.example(i, "test", fmt=f) for i in problems] for f in FORMATS}
    unforced = [""] * len(free)
    base_samples = {}
    for cond, run in bases.items():
        progress(f"sampling base {cond.scale} on {cond.mixture}, seed {cond.seed}")
        model, tok = load_model(run.model_dir)
        prefixed = {f: (items, [forced_prefix(e) for e in items]) for f, items in forced.items()}
        base_samples[cond] = BaseSamples(
            draw(model, tok, free, unforced, cfg.eval),
            {f: draw(model, tok, *pair, cfg.eval) for f, pair in prefixed.items()},
        )
    first, final = {}, {}
    for key, run in runs.items():
        cond, kl = key
        progress(f"sampling RL {cond.scale} on {cond.mixture}, seed {cond.seed}, KL {kl:g}")
        for found, folder in (
            (first, run.checkpoint_dir(cfg.first_pass_step)),
            (final, run.model_dir),
        ):
            found[key] = draw(*load_model(folder), free, unforced, cfg.eval)
    rewards = {key: training_rewards(run) for key, run in runs.items()}
    return Measured(base_samples, first, final, rewards)
