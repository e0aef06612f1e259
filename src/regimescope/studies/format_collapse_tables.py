"""Study 6's tables: per base and format, per RL run, held-out formats per model and
stage, the recorder's rollout statistics, and the effects.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from regimescope.studies.format_collapse_parts import (
    NAMES,
    Measured,
    best_accuracy,
    collapse_step,
    most_frequent,
    rollout_frame,
    winner,
)
from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.verdict import Effect
from regimescope.tasks import FORMATS, get_task

# ---------------------------------------------------------------- tables


def base_table(cfg, measured: Measured) -> pd.DataFrame:
    """Per base and format: pretraining weight, sampled share, forced accuracy, 95% CIs."""
    rows = []
    for cond, base in measured.bases.items():
        weights = np.array(get_task(cond.mixture).config.format_weights, dtype=float)
        for i, name in enumerate(FORMATS):
            share = base.free.shares()[:, i]
            forced = base.forced[name].correct.mean(axis=1)
            rows.append(
                {
                    **asdict(cond),
                    "format": name,
                    "pretrain_weight": weights[i] / weights.sum(),
                    **interval("share", share, cfg.bootstrap),
                    **interval("forced_accuracy", forced, cfg.bootstrap),
                }
            )
    return pd.DataFrame(rows)


def interval(name: str, per_problem, resamples: int) -> dict[str, float]:
    est, (low, high) = hierarchical_bootstrap(np.asarray(per_problem)[None], np.mean, resamples)
    return {name: est, f"{name}_lo": low, f"{name}_hi": high}


def runs_table(cfg, measured: Measured, runs: dict, threshold: float) -> pd.DataFrame:
    """One row per RL run: winner, predictors, shares before / after the first pass / end."""
    rows = []
    for (cond, kl), run in runs.items():
        base, first, final = (
            measured.bases[cond],
            measured.first[cond, kl],
            measured.final[cond, kl],
        )
        won = winner(final)
        rows.append(
            {
                **asdict(cond),
                "kl_coef": kl,
                "winner": NAMES[won],
                "best_pre_rl_accuracy": NAMES[best_accuracy(base)],
                "most_frequent_pre_rl": NAMES[most_frequent(base)],
                "base_accuracy": base.free.correct.mean(),
                "winner_share_base": base.free.winner_share(won).mean(),
                "winner_share_first_pass": first.winner_share(won).mean(),
                "winner_share_final": final.winner_share(won).mean(),
                "accuracy_first_pass": first.correct.mean(),
                "accuracy_final": final.correct.mean(),
                "pass_steps": cfg.pass_steps,
                "first_pass_read_at": cfg.first_pass_step,
                "collapse_step": collapse_step(rollout_frame(run), threshold),
            }
        )
    return pd.DataFrame(rows)


def eval_table(measured: Measured) -> pd.DataFrame:
    """Held-out format shares and within-format accuracy of every model and stage."""
    rows = []
    stages = [((c, None), "base", b.free) for c, b in measured.bases.items()]
    stages += [(k, "first pass", s) for k, s in measured.first.items()]
    stages += [(k, "final", s) for k, s in measured.final.items()]
    for (cond, kl), stage, samples in stages:
        for i, name in enumerate(NAMES):
            mine = samples.formats == i
            within = samples.correct[mine].mean() if mine.any() else np.nan
            rows.append(
                {
                    **asdict(cond),
                    "kl_coef": kl,
                    "stage": stage,
                    "format": name,
                    "share": mine.mean(),
                    "accuracy_within": within,
                }
            )
    return pd.DataFrame(rows)


def rollout_table(runs: dict) -> pd.DataFrame:
    """Every run's recorder rollout statistics, tidy, with its condition."""
    frames = [
        rollout_frame(run).assign(**asdict(cond), kl_coef=kl) for (cond, kl), run in runs.items()
    ]
    return pd.concat(frames, ignore_index=True)


def effects_table(effects: list[Effect]) -> pd.DataFrame:
    rows = [(e.name, e.estimate, *e.ci95, e.unit) for e in effects]
    return pd.DataFrame(rows, columns=["effect", "estimate", "ci_low", "ci_high", "unit"])
