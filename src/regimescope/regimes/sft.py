"""Supervised fine-tuning from a model folder: gold targets, perturbed instructions, self-SFT.

The loop is pretraining's (AdamW, warmup + cosine, gradient clipping, step ``s`` trains on
examples ``s*B .. s*B+B-1`` of the task or curriculum), with the loss on completion
tokens only, started from a model folder instead of a fresh organism. Runs are stored,
reused and resumed like pretraining; the same config gives bit-identical runs on CPU.

Two experimental knobs:

- ``prompt_mode`` (Kung & Peng 2023, arXiv 2305.11383): for instruction-bearing tasks
  (``rules``), the training prompt is rebuilt from the example's structure as
  ``original``, ``simplified`` (label set and demonstrations, no rule description),
  ``empty`` (demonstrations only) or ``delusive`` (demonstrations with wrong labels).
  Other tasks of a curriculum keep their prompts. The recorder's probe always uses the
  task's own prompts, so every mode is evaluated the same way.
- ``data="self"``: rejection fine-tuning on the model's own verified-correct samples. The
  steps are split into ``rounds``; each round samples ``self_samples`` completions for
  ``self_problems`` training prompts with the current model, keeps those the verifier
  rewards, and trains on them for its share of the steps. More than one round is expert
  iteration (as in Echo Chamber, arXiv 2504.07912). Each round's pool is saved in the run
  folder (``pools/round_NNN.json``) before its first step, so a resumed run trains on the
  same pool.

Departures: Kung & Peng tune T5 on Super-NaturalInstructions with several hundred tasks;
here the instruction is a synthetic rule and its perturbations are deterministic. Echo
Chamber's expert iteration samples 64 per question and trains 2 epochs per round; here
the sample count and steps per round are config, and a round with no correct sample
trains on nothing (its steps skip the optimizer and log ``pool_size = 0``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from regimescope.errors import BadInput, choose
from regimescope.fingerprint import module_fingerprint
from regimescope.instruments.entropy import entropy_by_class, token_entropy
from regimescope.instruments.kl import kl_exact, masked_mean
from regimescope.regimes.common import (
    build_optimizer,
    collate,
    resume,
    save_checkpoint,
    set_lr,
    warmup_cosine,
)
from regimescope.regimes.curriculum import (
    CurriculumConfig,
    build_curriculum,
    leaf_tasks,
    step_examples,
    validate_curriculum,
)
from regimescope.regimes.finetune import (
    check_probe_split,
    completed_run,
    finish,
    frozen_copy,
    load_start,
    pin_start,
    resolve_lr,
    start_weights,
)
from regimescope.regimes.mechanics_probe import mechanics_due, mechanics_stats
from regimescope.regimes.recorder import (
    Recorder,
    RecorderConfig,
    probe_stats,
    should_log,
)
from regimescope.regimes.rollout import collect, encode_sample, step_seed
from regimescope.sampler import cache as sample_cache
from regimescope.sampler.decode import Completion, SamplingConfig
from regimescope.store import RunDir, open_run, write_json_atomic
from regimescope.tasks import MODES, RulesTask, Sequence, render_prompt
from regimescope.tasks.base import Example
from regimescope.tasks.encode import encode_example

DATA = ("gold", "self")


@dataclass(frozen=True)
class SFTConfig:
    model: str = ""  # start model folder (a pretrain run's model/, or any local HF folder)
    model_sha256: str = ""  # sha256 of the start weights; filled in (or checked) by resolve()
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)  # task(s) and order
    data: str = "gold"  # "gold" targets, or "self": the model's own verified-correct samples
    prompt_mode: str = "original"  # instruction perturbation (rules tasks): one of tasks.MODES
    steps: int = 200  # optimizer steps (over all rounds)
    batch_size: int = 32  # sequences per step
    lr: float = 0.0  # peak learning rate; 0 = by the start model's size (finetune.default_lr)
    warmup_steps: int = 10  # linear warmup steps
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio at the last step
    weight_decay: float = 0.0  # AdamW decoupled decay on matrices
    betas: tuple[float, float] = (0.9, 0.95)  # AdamW moment coefficients
    grad_clip: float = 1.0  # max global gradient norm
    rounds: int = 1  # data="self": rejection-sampling rounds (> 1 = expert iteration)
    self_problems: int = 128  # data="self": training prompts sampled per round
    self_samples: int = 8  # data="self": completions per prompt
    self_temperature: float = 1.0  # data="self": sampling temperature
    max_new_tokens: int = 64  # data="self": token budget per sampled completion
    seed: int = 0  # seeds the example stream, the self samples and the pool order
    checkpoint_every: int = 50  # save a resumable checkpoint every N steps (and at the end)
    recorder: RecorderConfig = field(default_factory=lambda: RecorderConfig(probe_problems=32))


def validate(cfg: SFTConfig) -> None:
    """BadInput for configs that cannot run (checked before anything is written)."""
    choose("data", cfg.data, DATA)
    choose("prompt mode", cfg.prompt_mode, MODES)
    counts = {
        "steps": cfg.steps,
        "batch_size": cfg.batch_size,
        "rounds": cfg.rounds,
        "self_problems": cfg.self_problems,
        "self_samples": cfg.self_samples,
        "max_new_tokens": cfg.max_new_tokens,
        "checkpoint_every": cfg.checkpoint_every,
        "recorder.every": cfg.recorder.every,
    }
    for name, value in counts.items():
        if value <= 0:
            raise BadInput(f"{name} must be a positive integer, got {value}")
    if cfg.lr < 0 or cfg.self_temperature <= 0:
        raise BadInput(
            f"need lr > 0 (0 = by model size) and self_temperature > 0, "
            f"got {cfg.lr}, {cfg.self_temperature}"
        )
    if cfg.data == "gold" and cfg.rounds != 1:
        raise BadInput("rounds apply to data='self' (expert iteration); use rounds=1 with gold")
    if cfg.rounds > cfg.steps:
        raise BadInput(f"{cfg.rounds} rounds need at least as many steps, got {cfg.steps}")
    validate_curriculum(cfg.curriculum, cfg.steps)
    check_probe_split(cfg.curriculum, cfg.recorder)
    task = build_curriculum(cfg.curriculum, cfg.steps, cfg.batch_size)
    instructed = [t for t in leaf_tasks(task).values() if isinstance(t, RulesTask)]
    if cfg.prompt_mode != "original" and not instructed:
        raise BadInput(
            f"prompt_mode {cfg.prompt_mode!r} needs an instruction-bearing task "
            "(rules); use prompt_mode='original'"
        )


def resolve(cfg: SFTConfig) -> SFTConfig:
    """The config validated, with the start model's weight hash filled in."""
    validate(cfg)
    sha = pin_start(cfg.model, cfg.model_sha256)  # the loader check runs here, first
    return replace(cfg, model_sha256=sha, lr=resolve_lr("sft", cfg.lr, cfg.model))


def run_name(cfg: SFTConfig) -> str:
    mode = "" if cfg.prompt_mode == "original" else f"-{cfg.prompt_mode}"
    kind = "" if len(cfg.curriculum.tasks) == 1 else f"-{cfg.curriculum.order}"
    return f"{cfg.data}{mode}-{'_'.join(cfg.curriculum.tasks)}{kind}"


def perturb(example: Example, mode: str, leaves: dict) -> Example:
    """The example with its instruction re-rendered in ``mode`` (rules tasks only)."""
    if mode == "original" or not isinstance(leaves[example.task], RulesTask):
        return example
    return replace(example, prompt=render_prompt(example.meta, mode))


# ---------------------------------------------------------------- self-SFT pools


def round_bounds(cfg: SFTConfig, r: int) -> tuple[int, int]:
    """Steps ``[start, end)`` of round ``r``."""
    return r * cfg.steps // cfg.rounds, (r + 1) * cfg.steps // cfg.rounds


def round_of(cfg: SFTConfig, step: int) -> int:
    """The round that 0-based ``step`` belongs to."""
    return next(r for r in range(cfg.rounds) if round_bounds(cfg, r)[1] > step)


def build_pool(model, tokenizer, task, cfg: SFTConfig, r: int) -> list[dict]:
    """Round ``r``'s verified-correct samples, from prompts starting at the round's first step."""
    first = round_bounds(cfg, r)[0] * cfg.batch_size
    last = first + cfg.self_problems
    if isinstance(task, Sequence):
        last = min(last, len(task))
    leaves = leaf_tasks(task)
    examples = [
        perturb(task.example(i, "train", cfg.seed), cfg.prompt_mode, leaves)
        for i in range(first, last)
    ]
    sampling = SamplingConfig(
        n=cfg.self_samples,
        temperature=cfg.self_temperature,
        max_new_tokens=cfg.max_new_tokens,
        seed=step_seed(cfg.seed, r),
    )
    model.eval()
    rollouts = collect(model, tokenizer, task, examples, sampling)
    model.train()
    pool = []
    for e, row, rewards in zip(
        examples, rollouts.completions, rollouts.rewards.tolist(), strict=True
    ):
        for c, reward in zip(row, rewards, strict=True):
            if reward > 0.5:
                pool.append(
                    {"index": e.index, "token_ids": list(c.token_ids), "finished": c.finished}
                )
    return pool


def load_or_build_pool(run: RunDir, model, tokenizer, task, cfg: SFTConfig, r: int) -> list[dict]:
    """Round ``r``'s pool from the run folder, or sampled now and saved there first."""
    path = run.path / "pools" / f"round_{r:03d}.json"
    if path.is_file():
        return json.loads(path.read_text())["pool"]
    pool = build_pool(model, tokenizer, task, cfg, r)
    write_json_atomic(path, {"round": r, "prompts": cfg.self_problems, "pool": pool})
    return pool


def pool_batch(pool: list[dict], task, tokenizer, cfg: SFTConfig, step: int):
    """The batch of ``step`` from its round's pool, in a seeded order per round."""
    r = round_of(cfg, step)
    order = list(range(len(pool)))
    random.Random(f"sft-pool|{cfg.seed}|{r}").shuffle(order)
    offset = (step - round_bounds(cfg, r)[0]) * cfg.batch_size
    leaves = leaf_tasks(task)
    encoded = []
    for j in range(cfg.batch_size):
        item = pool[order[(offset + j) % len(pool)]]
        example = perturb(task.example(item["index"], "train", cfg.seed), cfg.prompt_mode, leaves)
        text = tokenizer.decode(item["token_ids"], skip_special_tokens=True)
        completion = Completion(text, tuple(item["token_ids"]), item["finished"])
        encoded.append(encode_sample(tokenizer, example, completion))
    return collate(encoded, tokenizer.pad_token_id, loss_on="completion")


def self_batch(run: RunDir, model, tokenizer, task, cfg: SFTConfig, step: int, pools: dict):
    """(batch or None, round info) of ``step`` for data="self".

    The round's pool is built (or read back) the first time the loop reaches the round:
    at its first step, or at the step a resumed run continues from.
    """
    r = round_of(cfg, step)
    if r not in pools:
        pools.clear()
        pools[r] = load_or_build_pool(run, model, tokenizer, task, cfg, r)
    pool = pools[r]
    batch = pool_batch(pool, task, tokenizer, cfg, step) if pool else None
    return batch, {"round": r, "pool_size": len(pool)}


def gold_batch(task, tokenizer, cfg: SFTConfig, step: int):
    """The batch of ``step``: gold targets of examples ``step*B .. step*B+B-1``."""
    leaves = leaf_tasks(task)
    examples = step_examples(task, step, cfg.batch_size, cfg.seed)
    encoded = [encode_example(tokenizer, perturb(e, cfg.prompt_mode, leaves)) for e in examples]
    return collate(encoded, tokenizer.pad_token_id, loss_on="completion")


# ---------------------------------------------------------------- the loop


def sft_step(model, ref, optimizer, batch, cfg: SFTConfig, log: bool) -> dict:
    """One optimizer step on a batch (loss on completion tokens); the step's statistics."""
    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels)
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip).item()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)  # free the gradients before logging or the next step
    stats = {"loss": out.loss.item()}
    if cfg.recorder.grad_norm:
        stats["grad_norm"] = norm
    if not log:
        return stats
    logits = out.logits[:, :-1].detach()  # (B, T-1, V): position t predicts token t+1
    mask = batch.labels[:, 1:] != -100  # (B, T-1)
    if cfg.recorder.entropy:
        stats |= entropy_by_class(token_entropy(logits), mask, batch.class_ids[:, 1:])
    if cfg.recorder.kl and ref is not None:
        with torch.no_grad():
            ref_logits = ref(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        stats["kl_start"] = masked_mean(kl_exact(logits, ref_logits[:, :-1]), mask)
    return stats


def mechanics_probe_batch(task, tokenizer, cfg: SFTConfig) -> dict:
    """The fixed batch the mechanics readings are taken on: the gold batch of step 0 (the
    same at every reading, as Cohen et al. read sharpness on a fixed subset)."""
    batch = gold_batch(task, tokenizer, cfg, 0)
    return {
        "input_ids": batch.input_ids,
        "attention_mask": batch.attention_mask,
        "labels": batch.labels,
    }


def sft(
    cfg: SFTConfig,
    root=None,
    on_step: Callable[[int, dict], None] | None = None,
    keep_optimizer: bool = False,
) -> RunDir:
    """Train (or reuse, or resume) the SFT run of ``cfg``; returns its complete run folder."""
    cfg = resolve(cfg)
    task = build_curriculum(cfg.curriculum, cfg.steps, cfg.batch_size)
    # a regenerated task, or edited training code (an objective, the loop), makes a new run
    key = {"task_version": task.version, "code": module_fingerprint(__name__)}
    existing = completed_run("sft", run_name(cfg), cfg, root, key)
    if existing is not None:
        return existing
    model, tokenizer = load_start(cfg.model)  # a folder that does not load fails before writing
    run = open_run("sft", run_name(cfg), cfg, root, key)
    with run.exclusive(), sample_cache.paused():  # another process training it: wait, reuse
        if not run.is_complete():
            train(run, cfg, task, model, tokenizer, on_step, keep_optimizer)
    return run


def train(
    run: RunDir, cfg: SFTConfig, task, model, tokenizer, on_step, keep_optimizer: bool = False
) -> None:
    """The training loop of ``sft`` from the loaded start model (resumes from the run's last
    checkpoint)."""
    recorder = Recorder(cfg.recorder, model, start_weights(cfg.model, model))
    ref = frozen_copy(model) if cfg.recorder.kl else None
    optimizer = build_optimizer(model, cfg.lr, cfg.weight_decay, cfg.betas)
    start = resume(run, model, optimizer)
    pools: dict[int, list[dict]] = {}  # the current round's pool (data="self")
    mechanics = cfg.recorder.mechanics
    reads = mechanics.sharpness_every or mechanics.noise_scale_every
    probe = mechanics_probe_batch(task, tokenizer, cfg) if reads else None
    for step in range(start, cfg.steps):
        done = step + 1
        log = should_log(done, cfg.steps, cfg.recorder.every) or mechanics_due(mechanics, done)
        set_lr(
            optimizer, warmup_cosine(step, cfg.steps, cfg.warmup_steps, cfg.lr, cfg.min_lr_ratio)
        )
        record = {"step": done, "lr": optimizer.param_groups[0]["lr"]}
        if cfg.data == "gold":
            batch = gold_batch(task, tokenizer, cfg, step)
        else:
            batch, info = self_batch(run, model, tokenizer, task, cfg, step, pools)
            record |= info
        if log:
            recorder.before_step(model)
        if batch is not None:  # None: a self round with no correct sample
            record |= sft_step(model, ref, optimizer, batch, cfg, log)
        if log:
            record |= recorder.weight_stats(model)
            record |= probe_stats(model, tokenizer, leaf_tasks(task), cfg.recorder, cfg.seed)
            if probe is not None:
                record |= mechanics_stats(model, probe, optimizer, mechanics, done)
            run.append_metrics(record)
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            save_checkpoint(run, done, model, tokenizer, optimizer)
        if on_step is not None:
            on_step(done, record)
    finish(run, model, tokenizer, cfg.steps, keep_optimizer)
