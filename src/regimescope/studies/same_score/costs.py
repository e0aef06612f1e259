"""Study 8, part C: what a gain costs. As RL raises accuracy, do calibration, diversity
and faithfulness fall?

Sources: the GPT-4 report (arXiv 2303.08774: the pretrained model's calibration plot is
near the diagonal, the PPO post-trained one is not), Kirk et al. 2024 (arXiv 2310.06452:
RLHF lowers per-input diversity, EAD over K samples of one prompt) and Lanham et al. 2023
(arXiv 2307.13702: early-answering faithfulness, the area over the "% same answer" curve
when the chain of thought is cut). Details: ``shared/research/findings-6-10.md`` §8(d)3.

Runs. None of its own: part C measures the runs study 2 (``rl_catalyst``) trains, the
latent countdown base of each seed and GRPO from it with a checkpoint every
``rl.checkpoint_every`` steps, configured by the same functions, so the store trains them
once for both studies. Countdown's completion is a scratchpad (a plan line, one line per
operation) then ``ans N``; the reward is 1 iff the plan reaches the target with the given
numbers and the answer is the target. The base, pretrained on gold countdown completions,
stands in for the SFT model (the lab's SFT-equivalent: next-token training on gold
scratchpads); RL starts from it, so step 0 is "before RL".

Per model (the base, then every RL checkpoint), on the same held-out problems:

- **accuracy**: the share of correct samples among the n samples per problem (sampling
  seed = the training seed, study 2's draw, so the sampler's cache serves both studies);
- **diversity**: per-input EAD (``instruments.diversity``) over the first ``diversity_k``
  of those samples (Kirk et al.'s K);
- **calibration**: ECE (``instruments.calibration``) of the probability of the greedy
  completion (``instruments.compare.completion_probability``) against its correctness;
- **faithfulness**: early answering (``instruments.faithfulness``) on the greedy
  completion: its scratchpad (the text before the ``ans`` line) cut after a fraction of its
  lines, ``ans `` appended, the greedy answer read; per problem, the area over the "same
  answer as with the whole scratchpad" curve. NaN where the greedy completion has no
  scratchpad or no answer. A model that copies the target from the prompt whatever its
  scratchpad says answers the same at every cut: AOC 0, the answer does not rest on the
  reasoning.

Departures: a synthetic task whose answer is also written in the prompt (so faithfulness
reads whether the answer follows the scratchpad or the prompt); confidence is the
probability of the whole greedy completion (mostly the plan: the lines after it follow
from it), not of a forced-choice answer token; one seed at quick (the interval is over
problems only).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from regimescope.instruments.calibration import reliability
from regimescope.instruments.compare import completion_probability
from regimescope.instruments.diversity import ead
from regimescope.instruments.faithfulness import FRACTIONS, area_over_curve, truncations
from regimescope.instruments.passk_run import PassKConfig
from regimescope.organisms import load_model
from regimescope.regimes.pretrain import PretrainConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.sampler import SamplingConfig, sample
from regimescope.studies.base_organisms import latent_base, trained_base
from regimescope.studies.rl_catalyst import grpo, held_out
from regimescope.studies.stats import crossed_bootstrap
from regimescope.studies.verdict import effect
from regimescope.tasks import distinct_examples, get_task

LINE = r"[^\n]+"  # a unit of the scratchpad: one line (the plan, then one per operation)
ANSWER_CUE = "ans "  # what the task writes before its answer
METRICS = ("accuracy", "ece", "diversity", "aoc")  # the curves over RL steps


@dataclass(frozen=True)
class CostsConfig:
    seeds: tuple[int, ...] = (0,)  # training seeds: study 2's latent base and GRPO run each
    base: PretrainConfig = field(default_factory=lambda: latent_base("quick"))  # study 2's
    rl: RLConfig = field(default_factory=grpo)  # study 2's GRPO run (checkpoints measured)
    eval: PassKConfig = field(default_factory=held_out)  # problems and samples (study 2's)
    diversity_k: int = 16  # samples per problem whose EAD is the diversity (Kirk et al.'s K)
    fractions: tuple[float, ...] = FRACTIONS  # shares of the scratchpad kept (early answering)
    bins: int = 10  # ECE bins (equal width)
    answer_tokens: int = 6  # new tokens read after a forced ``ans ``


def base_run(cfg: CostsConfig, seed: int) -> PretrainConfig:
    return replace(cfg.base, seed=seed)


def rl_run(cfg: CostsConfig, seed: int, base_model: str) -> RLConfig:
    """GRPO from the seed's base, exactly study 2's run."""
    return replace(cfg.rl, model=base_model, seed=seed)


def plan(cfg: CostsConfig) -> list:
    """Each seed's base, then its GRPO run (``model`` names the base it waits for)."""
    runs = []
    for seed in cfg.seeds:
        runs += [base_run(cfg, seed), rl_run(cfg, seed, f"(model of the seed-{seed} base)")]
    return runs


# ---------------------------------------------------------------- measurement


def measure(cfg: CostsConfig, ctx) -> pd.DataFrame:
    """One row per (seed, step, problem): accuracy, EAD, greedy confidence and correctness,
    early-answering AOC. Step 0 is the base."""
    task = get_task(cfg.rl.curriculum.tasks[0])
    items = distinct_examples(task, cfg.eval.problems, cfg.eval.split, cfg.eval.data_seed)
    frames = []
    for seed in cfg.seeds:
        ctx.progress(f"part C, seed {seed}: base and GRPO ({cfg.rl.steps} steps)")
        base = trained_base(base_run(cfg, seed), ctx.store)
        run = rl(rl_run(cfg, seed, str(base.model_dir)), ctx.store)
        steps = run.checkpoint_steps()
        folders = [base.model_dir, *(run.checkpoint_dir(s) for s in steps)]
        for step, folder in zip([0, *steps], folders, strict=True):
            ctx.progress(f"part C, seed {seed}: measuring step {step}")
            row = measure_model(cfg, task, items, folder, seed)
            frames.append(row.assign(seed=seed, step=step))
    return pd.concat(frames, ignore_index=True)


def measure_model(cfg: CostsConfig, task, items, folder, seed: int) -> pd.DataFrame:
    """The four readings of one model on every problem."""
    model, tokenizer = load_model(folder)
    model.eval()
    prompts = [e.prompt for e in items]
    drawn = sample(model, tokenizer, prompts, replace(cfg.eval.sampling, seed=seed))
    accuracy = [
        np.mean([task.verify(e, c.text).reward for c in row])
        for e, row in zip(items, drawn, strict=True)
    ]
    vocab = len(tokenizer)
    diversity = [ead([c.token_ids for c in row[: cfg.diversity_k]], vocab) for row in drawn]
    length = cfg.eval.sampling.max_new_tokens
    greedy_cfg = SamplingConfig(n=1, temperature=0.0, max_new_tokens=length)
    greedy = [row[0] for row in sample(model, tokenizer, prompts, greedy_cfg)]
    confidence = [
        completion_probability(model, tokenizer, p, g.token_ids, g.finished)
        for p, g in zip(prompts, greedy, strict=True)
    ]
    correct = [task.verify(e, g.text).reward for e, g in zip(items, greedy, strict=True)]
    aoc = early_answering(cfg, model, tokenizer, prompts, [g.text for g in greedy])
    return pd.DataFrame(
        {
            "problem": range(len(items)),
            "accuracy": accuracy,
            "diversity": diversity,
            "confidence": confidence,
            "greedy_correct": correct,
            "aoc": aoc,
        }
    )


def split_answer(completion: str) -> tuple[str, str | None] | None:
    """(scratchpad, answer) of a completion: the text before its first ``ans`` line and
    the number on it; None when there is no scratchpad or no ``ans`` line."""
    at = completion.find("\n" + ANSWER_CUE)
    if at <= 0:
        return None
    return completion[:at], read_answer(completion[at + 1 + len(ANSWER_CUE) :])


def read_answer(text: str) -> str | None:
    """The number a forced answer starts with (None if it starts with none)."""
    found = re.match(r"-?\d+", text)
    return found.group() if found else None


def early_answering(cfg: CostsConfig, model, tokenizer, prompts, completions) -> list[float]:
    """Per problem, the early-answering AOC of its greedy completion (NaN where it has no
    scratchpad or no answer). Every cut of every problem is answered in one greedy call."""
    forced, finals = [], []
    for prompt, completion in zip(prompts, completions, strict=True):
        parts = split_answer(completion)
        if parts is None or parts[1] is None:
            finals.append(None)
            continue
        scratchpad, answer = parts
        finals.append(answer)
        for cut in truncations(scratchpad, cfg.fractions, LINE):
            forced.append(prompt + cut + ("\n" if cut else "") + ANSWER_CUE)
    config = SamplingConfig(n=1, temperature=0.0, max_new_tokens=cfg.answer_tokens)
    answers = iter(read_answer(r[0].text) for r in sample(model, tokenizer, forced, config))
    aoc = []
    for final in finals:
        if final is None:
            aoc.append(math.nan)
            continue
        same = {f: float(next(answers) == final) for f in cfg.fractions}
        aoc.append(area_over_curve(same))
    return aoc


# ---------------------------------------------------------------- effects


def cells(frame: pd.DataFrame, column: str, step: int) -> np.ndarray:
    """(S, P) readings of ``column`` at ``step``, seeds in order."""
    at = frame[frame.step == step].pivot(index="seed", columns="problem", values=column)
    return at.sort_index().to_numpy(dtype=float)


def mean(values: np.ndarray) -> float:
    """Mean of the finite values (NaN, without a warning, when there are none)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else math.nan


def relative_fall(before: np.ndarray, after: np.ndarray) -> float:
    """1 − mean(after) / mean(before) (NaN when the base's mean is not positive)."""
    base = mean(before)
    return 1.0 - mean(after) / base if base > 0 else math.nan


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int) -> float:
    return reliability(confidence.ravel(), correct.ravel(), bins).ece


def change(frame: pd.DataFrame, metric: str, bins: int):
    """(statistic of picked (seed, problem) cells: last checkpoint minus step 0, arrays):
    the statistics the rule decides on, oriented so that the claim predicts a positive
    value (accuracy rises, ECE rises, diversity falls, AOC falls)."""
    first, last = 0, int(frame.step.max())
    if metric == "ece":
        pairs = [(s, c) for s in (first, last) for c in ("confidence", "greedy_correct")]
        arrays = [cells(frame, c, s) for s, c in pairs]

        def rise(c0, k0, c1, k1):
            return ece(c1, k1, bins) - ece(c0, k0, bins)

        return rise, arrays
    arrays = [cells(frame, metric, first), cells(frame, metric, last)]
    if metric == "accuracy":
        return (lambda before, after: mean(after) - mean(before)), arrays
    if metric == "diversity":  # relative fall: EAD's scale depends on the vocabulary
        return relative_fall, arrays
    return (lambda before, after: mean(before) - mean(after)), arrays


NAMES = {
    "accuracy": ("accuracy gain, last RL checkpoint − base", "fraction"),
    "ece": ("ECE rise, last RL checkpoint − base", "probability"),
    "diversity": ("per-input EAD fall, 1 − last RL checkpoint / base", "fraction of base"),
    "aoc": ("early-answering AOC fall, base − last RL checkpoint", "fraction"),
}


def effects(frame: pd.DataFrame, bins: int, resamples: int, family: int) -> dict:
    """metric -> its Effect, seeds and problems resampled crossed (``stats``)."""
    found = {}
    for metric in METRICS:
        statistic, arrays = change(frame, metric, bins)

        def picked(seeds, problems, statistic=statistic, arrays=arrays):
            return statistic(*(a[np.ix_(seeds, problems)] for a in arrays))

        resampled = crossed_bootstrap(picked, *arrays[0].shape, resamples)
        name, unit = NAMES[metric]
        found[metric] = effect(name, resampled, unit, family)
    return found


def curves(frame: pd.DataFrame, bins: int) -> pd.DataFrame:
    """One row per step (seeds pooled): accuracy, ECE, EAD, AOC, greedy accuracy and mean
    confidence, and the share of problems whose greedy completion gave an AOC."""
    rows = []
    for step, at in frame.groupby("step"):
        rows.append(
            {
                "step": step,
                "accuracy": at.accuracy.mean(),
                "ece": reliability(at.confidence, at.greedy_correct, bins).ece,
                "diversity": at.diversity.mean(),
                "aoc": at.aoc.mean(),
                "greedy_accuracy": at.greedy_correct.mean(),
                "confidence": at.confidence.mean(),
                "answered": at.aoc.notna().mean(),
            }
        )
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame):
    """The trade-off curves over RL steps, one panel per metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {
        "accuracy": "accuracy (share of samples correct)",
        "ece": "ECE of greedy-completion probability",
        "diversity": "per-input EAD (n = 1..5)",
        "aoc": "early-answering AOC",
    }
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
    for ax, metric in zip(axes, METRICS, strict=True):
        ax.plot(table.step, table[metric], marker="o", color="k")
        ax.set(xlabel="RL step (0 = base)", ylabel=labels[metric])
    fig.tight_layout()
    return fig
