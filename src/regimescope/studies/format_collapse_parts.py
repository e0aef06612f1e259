"""Study 6's machinery: bases and RL runs, format sampling, per-run summaries.

Every model (each base, each RL run after its first pass and at its end) is sampled on
the same held-out problems with the same sampling seed, so per-problem format shares
are paired across models. A sample's format is ``classify_format`` of its text
(``code``, ``nl``, ``tagged``, or ``none`` when no format marker appears). Effects,
tables and figures live in ``format_collapse_effects``, ``format_collapse_tables`` and
``format_collapse_figures``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from regimescope.organisms import load_model
from regimescope.organisms.presets import preset
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.pretrain import PretrainConfig, pretrain
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.sampler.decode import SamplingConfig, sample
from regimescope.store import RunDir
from regimescope.tasks import FORMATS, get_task

if TYPE_CHECKING:
    from regimescope.studies.base import StudyContext
    from regimescope.studies.format_collapse import FormatCollapseConfig

NAMES = (*FORMATS, "none")  # format labels of samples; index 3 = no format marker
EVAL_TASK = "arithmetic"  # every mixture shares its problems and verifier with this task
UNRECORDED = ("entropy", "kl", "grad_norm", "update_ratio", "changed", "weight_norms")


@dataclass(frozen=True)
class Condition:
    scale: str  # organism preset name
    mixture: str  # pretraining task (format proportions)
    seed: int  # pretraining and RL seed


# ---------------------------------------------------------------- training


def base_config(cfg: FormatCollapseConfig, cond: Condition) -> PretrainConfig:
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


def rl_config(cfg: FormatCollapseConfig, base_dir: str, cond: Condition, kl: float) -> RLConfig:
    """GRPO on the equal-format task; a checkpoint where the first pass is read."""
    record = RecorderConfig(every=cfg.log_every, **dict.fromkeys(UNRECORDED, False))
    return RLConfig(
        model=base_dir,
        curriculum=CurriculumConfig(tasks=(EVAL_TASK,)),
        objective="grpo",
        steps=cfg.rl_steps,
        prompts_per_step=cfg.prompts_per_step,
        samples_per_prompt=cfg.samples_per_prompt,
        temperature=cfg.temperature,
        max_new_tokens=cfg.max_new_tokens,
        lr=cfg.lr,
        kl_coef=kl,
        seed=cond.seed,
        checkpoint_every=cfg.first_pass_step,
        recorder=record,
    )


def conditions(cfg: FormatCollapseConfig) -> list[Condition]:
    return [Condition(s, m, seed) for m in cfg.mixtures for s in cfg.scales for seed in cfg.seeds]


def train(cfg: FormatCollapseConfig, ctx: StudyContext):
    """(bases: Condition -> run, runs: (Condition, kl) -> run), trained or reused."""
    bases, runs = {}, {}
    for cond in conditions(cfg):
        ctx.progress(f"base {cond.scale} on {cond.mixture}, seed {cond.seed}")
        bases[cond] = pretrain(base_config(cfg, cond), ctx.store)
        for kl in cfg.kl_coefs:
            ctx.progress(f"RL {cond.scale} on {cond.mixture}, seed {cond.seed}, KL {kl:g}")
            runs[cond, kl] = rl(rl_config(cfg, str(bases[cond].model_dir), cond, kl), ctx.store)
    return bases, runs


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
    outs = sample(
        model, tokenizer, [e.prompt + p for e, p in zip(items, prefixes, strict=True)], sampling
    )
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


def sampling(cfg: FormatCollapseConfig) -> SamplingConfig:
    return SamplingConfig(
        n=cfg.eval_samples, temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens, seed=0
    )


def measure(
    cfg: FormatCollapseConfig, bases: dict, runs: dict, progress=lambda _: None
) -> Measured:
    """Sample every base (free and forced) and every RL run (first pass, end);
    ``progress(line)`` hears as each model is sampled."""
    task = get_task(EVAL_TASK)
    problems = range(cfg.eval_problems)
    free = [task.example(i, "test") for i in problems]
    forced = {f: [task.example(i, "test", fmt=f) for i in problems] for f in FORMATS}
    unforced = [""] * len(free)
    base_samples = {}
    for cond, run in bases.items():
        progress(f"sampling base {cond.scale} on {cond.mixture}, seed {cond.seed}")
        model, tok = load_model(run.model_dir)
        prefixed = {f: (items, [forced_prefix(e) for e in items]) for f, items in forced.items()}
        base_samples[cond] = BaseSamples(
            draw(model, tok, free, unforced, sampling(cfg)),
            {f: draw(model, tok, *pair, sampling(cfg)) for f, pair in prefixed.items()},
        )
    first, final = {}, {}
    for key, run in runs.items():
        cond, kl = key
        progress(f"sampling RL {cond.scale} on {cond.mixture}, seed {cond.seed}, KL {kl:g}")
        for found, folder in (
            (first, run.checkpoint_dir(cfg.first_pass_step)),
            (final, run.model_dir),
        ):
            found[key] = draw(*load_model(folder), free, unforced, sampling(cfg))
    return Measured(base_samples, first, final)


# ---------------------------------------------------------------- per-run summaries


def winner(samples: Samples) -> int:
    """Index (into NAMES) of the format with the largest share of the samples; ``none``
    (3) only when no sample has a format at all."""
    totals = samples.shares().mean(axis=0)[: len(FORMATS)]
    return int(np.argmax(totals)) if totals.max() > 0 else len(FORMATS)


def best_accuracy(base: BaseSamples) -> int:
    """Index of the format with the highest forced accuracy before RL."""
    return int(np.argmax([base.forced[f].correct.mean() for f in FORMATS]))


def most_frequent(base: BaseSamples) -> int:
    """Index of the format the base emits most often (free samples)."""
    return winner(base.free)


def rollout_frame(run: RunDir) -> pd.DataFrame:
    """The recorder's per-step rollout format shares and per-format accuracy, tidy."""
    rows = [
        (r["step"], f, r.get(f"format_share/{f}"), r.get(f"format_acc/{f}"), r.get("accuracy"))
        for r in run.read_metrics()
        for f in NAMES
    ]
    columns = ["step", "format", "share", "format_accuracy", "accuracy"]
    return pd.DataFrame(rows, columns=columns).astype({c: float for c in columns[2:]})


def collapse_step(frame: pd.DataFrame, threshold: float, smooth: int = 3) -> float:
    """First logged step at which one format's rollout share, averaged over the last
    ``smooth`` logged steps, exceeds ``threshold``; nan if it never does."""
    wide = frame[frame.format.isin(FORMATS)].pivot(index="step", columns="format", values="share")
    smoothed = wide.rolling(smooth, min_periods=1).mean().max(axis=1)
    above = smoothed[smoothed > threshold]
    return float(above.index[0]) if len(above) else float("nan")
