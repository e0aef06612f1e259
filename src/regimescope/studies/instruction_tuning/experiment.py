"""Train and measure for the instruction-tuning study (study 1).

Per training seed: the untuned base (a ``PretrainConfig``), then one SFT run per (examples
per rule, prompt mode), each starting from that base. ``plan`` lists those runs in the order
``train_and_measure`` trains them.

``Bench`` scores a model folder on fixed problems of the rules task's splits, one row per
problem: exact match ``em``, label-space validity ``valid``, the random-in-label-space
baseline ``random`` = 1/|labels|, and the task component ``task`` = em - valid * random.
Problem i of a split is the same instance for every model, so scores are paired across
models and seeds.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from regimescope.organisms import load_model
from regimescope.regimes.pretrain import PretrainConfig
from regimescope.regimes.sft import SFTConfig, sft
from regimescope.sampler import SamplingConfig, sample
from regimescope.studies.base_organisms import trained_base
from regimescope.tasks import MODES, get_task, render_prompt
from regimescope.tasks.rules import LABEL_VOCAB

SPLITS = ("test", "heldout_composable", "heldout_novel")  # test = seen rules, unseen inputs
ANSWER_TOKENS = max(len(label) for label in LABEL_VOCAB) + 1  # longest label, then a stop


def base_run(cfg, seed: int) -> PretrainConfig:
    """The untuned model of training seed ``seed``: the study's base recipe at that seed."""
    return replace(cfg.base, seed=seed)


def tuning_run(
    template: SFTConfig, base_dir: str, mode: str, per_rule: float, seed: int, n_rules: int
) -> SFTConfig:
    """SFT of the base on ``per_rule`` examples per training rule (one epoch of a fresh
    example stream, so the step count follows from the examples): the template with the
    start model, prompt mode, steps, warmup (a tenth of the steps, at most the template's),
    recorder interval (ten records per run) and seed filled in."""
    steps = max(1, math.ceil(per_rule * n_rules / template.batch_size))
    return replace(
        template,
        model=base_dir,
        prompt_mode=mode,
        steps=steps,
        warmup_steps=max(1, min(template.warmup_steps, steps // 10)),
        seed=seed,
        recorder=replace(template.recorder, every=max(1, steps // 10)),
    )


def tuning_runs(cfg, seed: int, base_dir: str) -> dict[tuple[float, str], SFTConfig]:
    """Every SFT run of one seed, keyed by (examples per rule, prompt mode), in training order."""
    n_rules = len(get_task("rules").rules["train"])
    return {
        (per_rule, mode): tuning_run(cfg.sft, base_dir, mode, per_rule, seed, n_rules)
        for per_rule in cfg.per_rule
        for mode in MODES
    }


def plan(cfg) -> list[PretrainConfig | SFTConfig]:
    """The training runs the study needs, in the order it trains them: each seed's base,
    then that seed's SFT runs. An SFT run starts from its base's model folder, known once
    the base is in the store; here ``model`` names the base it waits for."""
    runs: list[PretrainConfig | SFTConfig] = []
    for seed in cfg.seeds:
        runs.append(base_run(cfg, seed))
        runs.extend(tuning_runs(cfg, seed, f"(model of the seed-{seed} base)").values())
    return runs


def tested_in(train_mode: str) -> str:
    """The prompt mode a tuned model is tested in: its own, but demonstrations stay correct."""
    return "original" if train_mode == "delusive" else train_mode


def train_and_measure(cfg, ctx) -> pd.DataFrame:
    """Per-problem scores of every model: (seed, condition, per_rule, split, problem) rows;
    the untuned base is condition ``untuned`` at ``per_rule`` 0."""
    bench = Bench(get_task("rules"), SPLITS, cfg.problems, cfg.eval)
    frames = []
    for seed in cfg.seeds:
        base = str(trained_base(base_run(cfg, seed), ctx.store).model_dir)
        frames.append(bench.score(base, "original", seed=seed, condition="untuned", per_rule=0))
        for (per_rule, mode), run_cfg in tuning_runs(cfg, seed, base).items():
            ctx.progress(f"seed {seed}: SFT {mode}, {per_rule:g} examples per rule")
            tuned = str(sft(run_cfg, ctx.store).model_dir)
            keys = {"seed": seed, "condition": mode, "per_rule": per_rule}
            frames.append(bench.score(tuned, tested_in(mode), **keys))
    return pd.concat(frames, ignore_index=True)


class Bench:
    """Fixed test problems of the rules task (problem i of a split is the same for all)."""

    def __init__(self, task, splits: tuple[str, ...], problems: int, sampling: SamplingConfig):
        self.task = task
        self.sampling = sampling
        self.examples = {s: [task.example(i, s, 0) for i in range(problems)] for s in splits}

    def score(self, folder: str, mode: str, **keys) -> pd.DataFrame:
        """One row per (split, problem) for the model in ``folder``, tested in ``mode``."""
        model, tokenizer = load_model(folder)
        rows = []
        for split, items in self.examples.items():
            prompts = [render_prompt(e.meta, mode) for e in items]
            outputs = sample(model, tokenizer, prompts, self.sampling)
            for i, (example, out) in enumerate(zip(items, outputs, strict=True)):
                score = self.task.verify(example, out[0].text)
                rows.append({**keys, "split": split, "problem": i, **measure(example, score)})
        frame = pd.DataFrame(rows)
        frame["task"] = frame["em"] - frame["valid"] * frame["random"]
        return frame


def measure(example, score) -> dict:
    """One problem's record: its rule, the parsed answer, EM, validity, 1/|labels|."""
    return {
        "rule": example.meta["rule_id"],
        "answer": score.answer,
        "em": score.reward,
        "valid": float(score.details["in_label_space"]),
        "random": 1.0 / len(example.meta["labels"]),
    }
