"""Train an MLP student on the teacher task, reading the learning-mechanics statistics.

The regime of study 9 (``studies.learning_mechanics``): full-batch gradient descent (the
edge-of-stability setting of Cohen et al. 2021, a fixed training set), mini-batch SGD on
a fresh example stream (the batch-size sweeps of McCandlish et al. 2018) or Adam with a
warmup-cosine schedule (the size sweeps of scaling laws and loss-curve collapse).

Every reading is taken at the parameters θ_t after t updates, before update t + 1, and
recorded with ``step`` = t (so step 0 is the initialisation):

- ``train_loss``: the mean squared error of the batch update t + 1 is computed on (for
  full-batch GD, the training loss itself) every ``log_every`` steps;
- ``eval_loss``: MSE on a fixed evaluation set every ``eval_every`` steps; a run with a
  ``target_loss`` stops at the first reading at or below it (``reached_at``), and any run
  stops when the loss exceeds ``DIVERGED`` (``diverged``);
- ``sharpness``: λ_max of the Hessian of the training loss (the training set, or the first
  ``SHARPNESS_PROBE`` evaluation examples for a stream) every ``sharpness_every`` steps,
  by power iteration (``instruments.sharpness``);
- ``noise_scale``: B_simple = tr(Σ)/|G|² from the per-example gradients of a fresh batch of
  ``noise_batch`` examples, with ``gradient_sq`` = |G|² and ``trace_cov`` = tr(Σ) (to be
  averaged over readings before their ratio), every ``noise_scale_every`` steps
  (``instruments.noise_scale``).

Runs take seconds, so there is no checkpoint to resume from: an interrupted run starts over.
The folder holds ``metrics.jsonl``, ``model.safetensors`` (the final weights) and the summary.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache

import torch
from safetensors.torch import save_file
from torch.func import functional_call, grad, vmap

from regimescope.errors import BadInput, choose
from regimescope.fingerprint import module_fingerprint
from regimescope.instruments.noise_scale import from_microbatches
from regimescope.instruments.sharpness import sharpness
from regimescope.organisms.mlp import MLPConfig, build_mlp, mlp_parameters
from regimescope.store import RunDir, open_run, write_text_atomic
from regimescope.tasks.teacher import TeacherConfig, teacher_batch, teacher_set

OPTIMIZERS = ("gd", "sgd", "adam")
SCHEDULES = ("constant", "cosine")
SHARPNESS_PROBE = 1024  # evaluation examples the sharpness of a stream-trained run is read on
DIVERGED = 1e3  # eval MSE above this (a constant predictor scores ~1) ends a run as diverged
NOISE_STREAM = 1_000_003  # data-seed offset of the batches the noise scale is read on


@dataclass(frozen=True)
class StudentConfig:
    organism: MLPConfig = field(default_factory=MLPConfig)  # the student
    teacher: TeacherConfig = field(default_factory=TeacherConfig)  # the task
    optimizer: str = "gd"  # gd (full batch, plain steps), sgd (plain steps), adam
    lr: float = 0.1  # learning rate (peak, for the cosine schedule)
    schedule: str = "constant"  # constant, or cosine: linear warmup then cosine to lr / 10
    warmup_steps: int = 0  # linear warmup steps of the cosine schedule
    batch_size: int = 1000  # examples per step; gd uses the whole training set
    train_examples: int = 1000  # a fixed training set of this size; 0: a fresh stream
    steps: int = 1000  # updates, at most
    target_loss: float = 0.0  # stop at the first eval_loss <= this (0: never stop early)
    log_every: int = 1  # record train_loss every N steps
    eval_every: int = 10  # record eval_loss every N steps (and at the end)
    eval_examples: int = 2048  # size of the fixed evaluation set
    sharpness_every: int = 0  # read the sharpness every N steps (0: never)
    sharpness_iterations: int = 20  # Hessian-vector products per reading, at most
    noise_scale_every: int = 0  # read B_simple every N steps (0: never)
    noise_batch: int = 256  # per-example gradients per noise-scale reading
    seed: int = 0  # initialisation of the student
    data_seed: int = 0  # order of the training stream (and which fixed set)


def validate(cfg: StudentConfig) -> None:
    """BadInput for configs that cannot run (checked before anything is written)."""
    choose("optimizer", cfg.optimizer, OPTIMIZERS)
    choose("schedule", cfg.schedule, SCHEDULES)
    if min(cfg.steps, cfg.batch_size, cfg.log_every, cfg.eval_every, cfg.eval_examples) <= 0:
        raise BadInput("steps, batch_size, log_every, eval_every, eval_examples must be positive")
    if cfg.optimizer == "gd" and cfg.train_examples <= 0:
        raise BadInput("optimizer gd needs a fixed training set: train_examples > 0")
    if cfg.noise_scale_every and cfg.noise_batch < 2:
        raise BadInput("noise_batch must be at least 2 to read a noise scale")


def train_student(cfg: StudentConfig, root=None) -> RunDir:
    """Train (or reuse) the run of ``cfg``; returns its complete run folder."""
    validate(cfg)
    name = f"{cfg.optimizer}-w{cfg.organism.width}d{cfg.organism.depth}"
    run = open_run("student", name, cfg, root, key={"code": code_fingerprint()})
    with run.exclusive():
        if not run.is_complete():
            train(run, cfg)
    return run


@cache
def code_fingerprint() -> str:
    """The fingerprint of this regime's code, once per process (a sweep opens many runs)."""
    return module_fingerprint(__name__)


def train(run: RunDir, cfg: StudentConfig) -> None:
    """The loop of ``train_student``: readings at θ_t, then update t + 1."""
    model = build_mlp(cfg.organism, cfg.seed)
    params = list(model.parameters())
    optimizer = make_optimizer(cfg, params)
    eval_x, eval_y = teacher_set(cfg.teacher, "eval", cfg.eval_examples)
    train_set = (
        teacher_set(cfg.teacher, "train", cfg.train_examples, cfg.data_seed)
        if cfg.train_examples
        else None
    )
    probe = (
        train_set if train_set is not None else (eval_x[:SHARPNESS_PROBE], eval_y[:SHARPNESS_PROBE])
    )
    records, reached = [], None
    for step in range(cfg.steps + 1):
        record = readings(cfg, model, step, (eval_x, eval_y), probe)
        if step == cfg.steps or (reached := stopped(cfg, record, step)) is not None:
            records.append(record)
            break
        x, y = batch(cfg, train_set, step)
        loss = mse(model(x), y)
        if step % cfg.log_every == 0:
            record["train_loss"] = float(loss.detach())
        if len(record) > 1:
            records.append(record)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    finish(run, cfg, model, records, reached)


def readings(cfg: StudentConfig, model, step: int, evaluation, probe) -> dict:
    """The readings due at θ_step (always eval_loss at the last step)."""
    record: dict = {"step": step}
    if step % cfg.eval_every == 0 or step == cfg.steps:
        with torch.no_grad():
            record["eval_loss"] = float(mse(model(evaluation[0]), evaluation[1]))
    if cfg.sharpness_every and step % cfg.sharpness_every == 0:
        x, y = probe
        found = sharpness(
            lambda: mse(model(x), y), list(model.parameters()), iterations=cfg.sharpness_iterations
        )
        record["sharpness"] = found.value
    if cfg.noise_scale_every and step % cfg.noise_scale_every == 0:
        x, y = teacher_batch(
            cfg.teacher,
            "train",
            step * cfg.noise_batch,
            cfg.noise_batch,
            NOISE_STREAM + cfg.data_seed,
        )
        found = from_microbatches(per_example_gradients(model, x, y), 1)
        record |= {
            "noise_scale": found.b_simple,
            "gradient_sq": found.gradient_sq,
            "trace_cov": found.trace_cov,
        }
    return record


def stopped(cfg: StudentConfig, record: dict, step: int) -> int | None:
    """``step`` when this reading reached the target loss, -1 when the run diverged (an
    eval loss above ``DIVERGED`` or not finite), else None."""
    loss = record.get("eval_loss")
    if loss is None:
        return None
    if not loss <= DIVERGED:
        return -1
    return step if cfg.target_loss > 0 and loss <= cfg.target_loss else None


def batch(cfg: StudentConfig, train_set, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The examples of update ``step + 1``: the whole set (gd), the set's next slice in
    order (wrapping around), or the next slice of the fresh stream."""
    if train_set is None:
        return teacher_batch(
            cfg.teacher, "train", step * cfg.batch_size, cfg.batch_size, cfg.data_seed
        )
    x, y = train_set
    if cfg.optimizer == "gd":
        return x, y
    rows = (torch.arange(cfg.batch_size) + step * cfg.batch_size) % x.shape[0]
    return x[rows], y[rows]


def mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error (squared target units; Var(y) = 1, so a constant scores ~1)."""
    return ((prediction - target) ** 2).mean()


def per_example_gradients(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """[B, P] flattened gradient of each example's squared error (``torch.func.vmap``)."""
    weights = {name: p.detach() for name, p in model.named_parameters()}

    def one(w, xi, yi):
        return mse(functional_call(model, w, (xi[None],)), yi[None])

    grads = vmap(grad(one), in_dims=(None, 0, 0))(weights, x, y)  # name -> [B, *shape]
    return torch.cat([g.reshape(x.shape[0], -1) for g in grads.values()], dim=1)  # [B, P]


def make_optimizer(cfg: StudentConfig, params) -> torch.optim.Optimizer:
    """Plain steps θ ← θ − η∇L for gd and sgd (no momentum), Adam otherwise."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr)
    return torch.optim.SGD(params, lr=cfg.lr)


def learning_rate(cfg: StudentConfig, step: int) -> float:
    """η of update ``step + 1``: constant, or linear warmup then cosine from lr to lr / 10."""
    if cfg.schedule == "constant":
        return cfg.lr
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def finish(run: RunDir, cfg: StudentConfig, model, records: list[dict], reached) -> None:
    """Write the metrics, the final weights and the completion marker (last)."""
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    write_text_atomic(run.path / "metrics.jsonl", text)
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, run.path / "model.safetensors"
    )
    evals = [r["eval_loss"] for r in records if "eval_loss" in r]
    run.mark_complete(
        {
            "final_eval_loss": evals[-1],
            "reached_at": reached if reached != -1 else None,
            "diverged": reached == -1,
            "steps": records[-1]["step"],
            "parameters": mlp_parameters(cfg.organism),
        }
    )
