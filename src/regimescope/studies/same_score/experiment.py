"""Train and measure for the same-score study (study 8, part A: the Clock and the Pizza).

One run per (attention dial α, seed) of the one-layer modular-addition transformer
(``regimes.modular``), each keyed by its config in the store; a seed sets both the
initialisation and the train/test split, offset by α (``model_run``), so every (α, seed)
model is its own draw and seeds are nested in α. Per model: test accuracy (the "score"),
gradient symmetricity and distance irrelevance (``instruments.clock_pizza``), and the
residual stream at the last position on all p² inputs (for CKA between models,
``analysis``).
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import torch

from regimescope.instruments.clock_pizza import (
    correct_logit_table,
    distance_irrelevance,
    gradient_symmetricity,
)
from regimescope.regimes.modular import ModularRunConfig, load_modular, train_modular
from regimescope.studies.same_score import costs, generalisation
from regimescope.tasks.modular import all_pairs

SITE = "final"  # the residual stream the unembedding reads: the representation compared


def model_run(cfg, alpha: float, seed: int) -> ModularRunConfig:
    """The template with the attention dial set and the seeds offset by α: no two models
    of different α share an initialisation or a split, so CKA across the groups is not
    raised by a common start (the weights' shapes do not depend on α)."""
    organism = replace(cfg.run.organism, attention_alpha=alpha)
    drawn = 1000 * round(100 * alpha) + seed
    return replace(cfg.run, organism=organism, seed=drawn, data_seed=drawn)


def first_runs(cfg) -> list:
    """The runs that start from nothing: part A's, in the order ``train_and_measure``
    trains them, then part B's shortcut organisms (``generalisation``)."""
    part_a = [model_run(cfg, alpha, seed) for alpha in cfg.alphas for seed in cfg.seeds]
    return [*part_a, *generalisation.plan(cfg.shortcut)]


def plan(cfg) -> list:
    """Every training run: parts A and B (``first_runs``), then part C's, study 2's bases
    and GRPO runs (``costs.plan``: a GRPO run names the base it waits for)."""
    return [*first_runs(cfg), *costs.plan(cfg.costs)]


def train_and_measure(cfg, ctx) -> tuple[pd.DataFrame, dict[tuple[float, int], torch.Tensor]]:
    """(one row per model: alpha, seed, test and train accuracy, symmetricity, distance
    irrelevance; the [p², width] residual of every model keyed by (alpha, seed))."""
    rows, states = [], {}
    for alpha in cfg.alphas:
        ctx.progress(f"α = {alpha:g}: {len(cfg.seeds)} seeds")
        for seed in cfg.seeds:
            run = train_modular(model_run(cfg, alpha, seed), ctx.store)
            model = load_modular(run)
            summary = run.summary()
            rows.append(
                {
                    "alpha": alpha,
                    "seed": seed,
                    "test_accuracy": summary["test_accuracy"],
                    "train_accuracy": summary["train_accuracy"],
                    **internals(model, cfg),
                }
            )
            states[(alpha, seed)] = residual_states(model, cfg.run.organism.p)
    return pd.DataFrame(rows), states


def internals(model, cfg) -> dict[str, float]:
    """Gradient symmetricity (over ``cfg.triples`` triples) and distance irrelevance."""
    p = cfg.run.organism.p
    table = correct_logit_table(lambda a, b: model(torch.stack([a, b], dim=1)), p)
    return {
        "symmetricity": gradient_symmetricity(
            model.logits_from_embeddings, model.W_E, p, samples=cfg.triples
        ),
        "distance_irrelevance": distance_irrelevance(table, p),
    }


@torch.no_grad()
def residual_states(model, p: int) -> torch.Tensor:
    """[p², width] residual stream at ``SITE`` on every input pair (row-major in (a, b))."""
    tokens, _ = all_pairs(p)
    return model.residual(tokens)[SITE].double()
