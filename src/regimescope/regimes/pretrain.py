"""Pretraining: train an organism from scratch on a task (or mixture) with next-token loss.

A plain loop, readable top to bottom: AdamW, linear warmup + cosine decay, fp32 weights,
gradient clipping. Step ``s`` trains on examples ``s*B .. s*B+B-1`` of the task's train
split, so the data order is a pure function of the config and resuming needs no data
state. The same config and seed give bit-identical metrics and weights on CPU; a killed
run resumes from its last checkpoint and ends identical to an uninterrupted one.

Departures from large-scale practice: no sequence packing (examples are short and
padded per batch), no dropout, no mixed precision; the loss covers every real token of
``[BOS] prompt target [EOS]`` unless ``loss_on="completion"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from regimescope.fingerprint import module_fingerprint
from regimescope.organisms import OrganismConfig, build_organism, count_parameters, save_model
from regimescope.organisms.presets import micro
from regimescope.regimes.common import (
    build_optimizer,
    collate,
    resume,
    save_checkpoint,
    set_lr,
    warmup_cosine,
)
from regimescope.sampler import cache as sample_cache
from regimescope.store import RunDir, atomic_dir, open_run
from regimescope.tasks import check_trainable, get_task
from regimescope.tasks.encode import encode_example


@dataclass(frozen=True)
class PretrainConfig:
    task: str = "arithmetic"  # registry name of the task or mixture to train on
    organism: OrganismConfig = field(default_factory=micro)  # architecture of the organism
    steps: int = 1000  # optimizer steps
    batch_size: int = 32  # examples per step
    lr: float = 3e-3  # peak learning rate
    warmup_steps: int = 50  # linear warmup from lr/warmup to lr
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio at the last step
    weight_decay: float = 0.1  # AdamW decoupled decay on weight matrices
    betas: tuple[float, float] = (0.9, 0.95)  # AdamW moment coefficients
    grad_clip: float = 1.0  # max global gradient norm
    loss_on: str = "all"  # "all" tokens (pretraining) or "completion" tokens only
    seed: int = 0  # seeds initialisation and the task's example stream
    checkpoint_every: int = 250  # save a resumable checkpoint every N steps (and at the end)
    log_every: int = 10  # write one metrics line every N steps (and at the last step)


def validate(cfg: PretrainConfig) -> None:
    """BadInput for configs that cannot run (checked before anything is written)."""
    from regimescope.errors import BadInput

    if cfg.steps <= 0:
        raise BadInput(f"steps must be a positive integer, got {cfg.steps}")
    if cfg.batch_size <= 0:
        raise BadInput(f"batch_size must be a positive integer, got {cfg.batch_size}")
    if cfg.loss_on not in ("all", "completion"):
        raise BadInput(f"unknown loss_on {cfg.loss_on!r}; choose from: all, completion")
    if cfg.checkpoint_every <= 0 or cfg.log_every <= 0:
        raise BadInput("checkpoint_every and log_every must be positive integers")
    check_trainable(get_task(cfg.task))


def make_batch(cfg: PretrainConfig, task, tokenizer, step: int):
    """The batch of ``step``: train examples ``step*B .. step*B+B-1``."""
    start = step * cfg.batch_size
    encoded = [
        encode_example(tokenizer, task.example(i, "train", cfg.seed))
        for i in range(start, start + cfg.batch_size)
    ]
    return collate(encoded, tokenizer.pad_token_id, cfg.loss_on)


def train_step(model, optimizer, batch, grad_clip: float) -> tuple[float, float]:
    """One optimizer step; returns (loss, gradient norm before clipping)."""
    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels)
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return out.loss.item(), grad_norm.item()


def pretrain(
    cfg: PretrainConfig,
    root=None,
    on_step: Callable[[int, dict], None] | None = None,
) -> RunDir:
    """Train (or reuse, or resume) the run of ``cfg``; returns its complete run folder.

    ``on_step(step, record)`` is called after every step (progress display; tests use it
    to interrupt a run).
    """
    validate(cfg)
    task = get_task(cfg.task)
    name = f"{cfg.task}-w{cfg.organism.width}d{cfg.organism.depth}"
    key = {"task_version": task.version, "code": module_fingerprint(__name__)}  # see fingerprint
    run = open_run("pretrain", name, cfg, root, key=key)
    with run.exclusive(), sample_cache.paused():  # another process training it: wait, reuse
        if not run.is_complete():
            train(run, cfg, task, on_step)
    return run


def train(run: RunDir, cfg: PretrainConfig, task, on_step) -> None:
    """The training loop of ``pretrain`` (resumes from the run's last checkpoint)."""
    model, tokenizer = build_organism(cfg.organism, seed=cfg.seed)
    model.train()
    optimizer = build_optimizer(model, cfg.lr, cfg.weight_decay, cfg.betas)
    start = resume(run, model, optimizer)
    for step in range(start, cfg.steps):
        set_lr(
            optimizer, warmup_cosine(step, cfg.steps, cfg.warmup_steps, cfg.lr, cfg.min_lr_ratio)
        )
        batch = make_batch(cfg, task, tokenizer, step)
        loss, grad_norm = train_step(model, optimizer, batch, cfg.grad_clip)
        done = step + 1
        record = {
            "step": done,
            "loss": loss,
            "grad_norm": grad_norm,
            "lr": optimizer.param_groups[0]["lr"],
        }
        if done % cfg.log_every == 0 or done == cfg.steps:
            run.append_metrics(record)
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            save_checkpoint(run, done, model, tokenizer, optimizer)
        if on_step is not None:
            on_step(done, record)
    finish(run, model, tokenizer, cfg)


def finish(run: RunDir, model, tokenizer, cfg: PretrainConfig) -> None:
    """Write the final model folder, then the completion marker with a short summary."""
    model.eval()
    with atomic_dir(run.model_dir) as folder:
        save_model(model, tokenizer, folder)
    metrics = run.read_metrics()
    run.mark_complete(
        {
            "final_loss": metrics[-1]["loss"] if metrics else None,
            "steps": cfg.steps,
            "parameters": count_parameters(model),
            "model_dir": str(run.model_dir),
        }
    )
