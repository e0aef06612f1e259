"""Train and measure for the learning-mechanics study (study 9).

Three sweeps of MLP students on the teacher task (``regimes.student``), each run keyed by
its own config in the store:

- **edge of stability**: full-batch gradient descent at each step size η, per seed, with
  the sharpness read every ``sharpness_every`` steps and the training loss every step;
- **size sweep** (scaling law and loss-curve collapse): Adam with a warmup-cosine schedule
  on a fresh example stream, ``examples_per_parameter`` examples per parameter (steps grow
  with size, as in compute-optimal training), per width and seed; every (width, seed) has
  its own initialisation and data order, so seeds are nested in sizes;
- **batch sweep** (critical batch size): plain SGD to a target loss at each (batch size,
  learning rate), per seed; the smallest batch's runs also read the gradient noise scale.

``plan`` lists every run in the order ``train_and_measure`` trains them.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from regimescope.organisms.mlp import mlp_parameters
from regimescope.regimes.student import StudentConfig, train_student


def eos_run(cfg, rate: float, seed: int) -> StudentConfig:
    """Full-batch GD at step size ``rate``: the template with teacher, η and seeds set."""
    return replace(cfg.eos, teacher=cfg.teacher, lr=rate, seed=seed, data_seed=seed)


def size_run(cfg, width: int, seed: int) -> StudentConfig:
    """Adam on ``examples_per_parameter`` x parameters fresh examples; warmup a twentieth
    of the steps, about 40 evaluations per run; the data order differs per (width, seed)."""
    organism = replace(cfg.sizes.organism, width=width)
    steps = math.ceil(cfg.examples_per_parameter * mlp_parameters(organism) / cfg.sizes.batch_size)
    return replace(
        cfg.sizes,
        organism=organism,
        teacher=cfg.teacher,
        steps=steps,
        warmup_steps=max(1, steps // 20),
        eval_every=max(1, steps // 40),
        log_every=steps,
        seed=seed,
        data_seed=1000 * width + seed,
    )


def batch_run(cfg, batch_size: int, rate: float, seed: int) -> StudentConfig:
    """SGD at (batch size, learning rate) to the target loss; the smallest batch size
    also reads the noise scale (it is the reference the prediction is made from)."""
    reference = batch_size == min(cfg.batch_sizes)
    return replace(
        cfg.batches,
        teacher=cfg.teacher,
        batch_size=batch_size,
        lr=rate,
        noise_scale_every=cfg.noise_scale_every if reference else 0,
        seed=seed,
        data_seed=seed,
    )


def widths(cfg) -> tuple[int, ...]:
    """Every width of the size sweep: the fitted ones, then the predicted one."""
    return (*cfg.fit_widths, cfg.predict_width)


def plan(cfg) -> list[StudentConfig]:
    """The training runs of the study, in the order ``train_and_measure`` trains them."""
    runs = [eos_run(cfg, rate, seed) for seed in cfg.seeds for rate in cfg.eos_rates]
    runs += [size_run(cfg, width, seed) for width in widths(cfg) for seed in cfg.seeds]
    runs += [
        batch_run(cfg, size, rate, seed)
        for seed in cfg.seeds
        for size in cfg.batch_sizes
        for rate in cfg.batch_rates
    ]
    return runs


def train_and_measure(cfg, ctx) -> dict[str, pd.DataFrame]:
    """Every run's readings, as three tidy tables: ``eos`` (seed, rate, step, train_loss,
    sharpness), ``sizes`` (width, parameters, seed, step, eval_loss) and ``batches``
    (seed, batch_size, rate, reached_at, diverged, and the reference runs' noise readings
    in ``noise``)."""
    eos = []
    for seed in cfg.seeds:
        for rate in cfg.eos_rates:
            ctx.progress(f"seed {seed}: full-batch GD at η = {rate:g}")
            run = train_student(eos_run(cfg, rate, seed), ctx.store)
            eos += [{"seed": seed, "rate": rate, **r} for r in run.read_metrics()]
    sizes = []
    for width in widths(cfg):
        ctx.progress(f"width {width}: {len(cfg.seeds)} seeds of Adam on the stream")
        for seed in cfg.seeds:
            run = train_student(size_run(cfg, width, seed), ctx.store)
            parameters = run.summary()["parameters"]
            sizes += [
                {"width": width, "parameters": parameters, "seed": seed, **r}
                for r in run.read_metrics()
                if "eval_loss" in r
            ]
    batches, noise = batch_sweep(cfg, ctx)
    return {
        "eos": pd.DataFrame(eos),
        "sizes": pd.DataFrame(sizes)[["width", "parameters", "seed", "step", "eval_loss"]],
        "batches": pd.DataFrame(batches),
        "noise": pd.DataFrame(noise),
    }


def batch_sweep(cfg, ctx) -> tuple[list[dict], list[dict]]:
    """Steps to the target per (seed, batch size, rate), and the noise readings of the
    reference (smallest batch) runs."""
    rows, noise = [], []
    for seed in cfg.seeds:
        ctx.progress(f"seed {seed}: SGD to loss {cfg.batches.target_loss:g} at each batch size")
        for size in cfg.batch_sizes:
            for rate in cfg.batch_rates:
                run = train_student(batch_run(cfg, size, rate, seed), ctx.store)
                summary = run.summary()
                keys = {"seed": seed, "batch_size": size, "rate": rate}
                rows.append(
                    {**keys, "reached_at": summary["reached_at"], "diverged": summary["diverged"]}
                )
                noise += [{**keys, **r} for r in run.read_metrics() if "noise_scale" in r]
    return rows, noise
