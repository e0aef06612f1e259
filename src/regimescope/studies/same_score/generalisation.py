"""Study 8, part B: the same in-distribution score, a wide spread out of distribution.

McCoy, Min & Linzen 2020 (BlackboxNLP, arXiv 1911.02969) fine-tuned BERT 100 times with
different seeds: MNLI accuracy varied by under 2 points while accuracy on HANS, the
examples where the lexical-overlap shortcut gives the wrong answer, ranged from 0 to 66%.
Here the shortcut is planted: on the comparison-with-a-distractor task
(``tasks.distractor``) the feature D = [x3 > x4] agrees with the answer on 98% of the
training prompts; the ``conflict`` split always sets D against the answer, so it reads how
much a model leans on D. Many seeds of one short recipe (``regimes.distractor``), each
scored on held-out in-distribution prompts (``test``) and on ``conflict`` prompts, the
same prompts for every seed.

The effect: the standard deviation across seeds of conflict accuracy minus that of
in-distribution accuracy, over the seeds whose in-distribution accuracy reached the band
(the "same score"); seeds and prompts resampled crossed. Departures: a planted shortcut
and a model trained from scratch instead of a pretrained model fine-tuned; far fewer
seeds than 100.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from regimescope.organisms.load import load_model
from regimescope.regimes.distractor import DistractorRunConfig, default_loop, seeded
from regimescope.regimes.distractor import train_distractor as train
from regimescope.studies.stats import paired_effect
from regimescope.tasks.distractor import DistractorTask
from regimescope.tasks.encode import encode_prompt

SPLITS = ("test", "conflict")  # in distribution, and the shortcut broken
SPREAD_NAME = "accuracy sd across seeds, conflict minus in-distribution (part B)"


def short_recipe() -> DistractorRunConfig:
    """500 steps of 32 prompts: long enough that every pilot seed learned the task in
    distribution, short enough that some still lean on the shortcut (NOTES.md)."""
    return DistractorRunConfig(loop=replace(default_loop(), steps=500, batch_size=32))


@dataclass(frozen=True)
class ShortcutConfig:
    seeds: tuple[int, ...] = tuple(range(30))  # training seeds of the shortcut organisms
    run: DistractorRunConfig = field(default_factory=short_recipe)  # the shared recipe
    prompts: int = 500  # held-out prompts per split, the same for every seed


@torch.no_grad()
def split_correct(model, tokenizer, task: DistractorTask, split: str, n: int) -> np.ndarray:
    """[n] 1.0 where the greedy answer token to prompt i of ``split`` is right."""
    qs = [task.quadruple(i, split) for i in range(n)]
    ids = torch.tensor([encode_prompt(tokenizer, q.prompt) for q in qs])  # [n, T]: one length
    chosen = model(input_ids=ids).logits[:, -1].argmax(-1)
    answers = [tokenizer.convert_tokens_to_ids(q.answer) for q in qs]
    return (chosen == torch.tensor(answers)).numpy().astype(float)


def plan(cfg: ShortcutConfig) -> list[DistractorRunConfig]:
    """Part B's training runs, one organism per seed."""
    return [seeded(cfg.run, seed) for seed in cfg.seeds]


def train_and_score(cfg: ShortcutConfig, ctx) -> dict[str, np.ndarray]:
    """split -> (seeds, prompts) correct, one organism per seed (trained or reused)."""
    task = DistractorTask(cfg.run.task)
    found = {split: [] for split in SPLITS}
    ctx.progress(f"part B: {len(cfg.seeds)} shortcut organisms")
    for config in plan(cfg):
        model, tokenizer = load_model(train(config, ctx.store).model_dir)
        model.eval()
        for split in SPLITS:
            found[split].append(split_correct(model, tokenizer, task, split, cfg.prompts))
    return {split: np.stack(rows) for split, rows in found.items()}


def in_band(correct: dict[str, np.ndarray], band: float) -> np.ndarray:
    """Indices of the seeds whose in-distribution accuracy is at least ``band``."""
    return np.flatnonzero(correct["test"].mean(1) >= band)


def spread_gap(correct: dict[str, np.ndarray], seeds: np.ndarray, resamples: int, family: int):
    """sd across seeds of conflict accuracy minus sd of in-distribution accuracy."""
    arrays = [correct["conflict"][seeds], correct["test"][seeds]]

    def gap(conflict, test) -> float:
        return float(np.std(conflict.mean(1), ddof=1) - np.std(test.mean(1), ddof=1))

    return paired_effect(SPREAD_NAME, gap, arrays, resamples, "fraction", family)


def accuracy_table(cfg: ShortcutConfig, correct: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per seed: in-distribution and conflict accuracy."""
    return pd.DataFrame(
        {"seed": list(cfg.seeds), **{f"{s}_accuracy": correct[s].mean(1) for s in SPLITS}}
    )


def plot(table: pd.DataFrame, band: float):
    """Each seed as a point: in-distribution against conflict accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(table.test_accuracy, table.conflict_accuracy, s=22, color="k")
    ax.axvline(band, color="grey", lw=0.6, ls="--")
    ax.set(
        xlabel="in-distribution accuracy (held-out)",
        ylabel="accuracy where the shortcut is wrong",
        ylim=(-0.02, 1.02),
    )
    return fig
