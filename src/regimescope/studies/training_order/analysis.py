"""Study 10, analysis: every effect from one crossed resampling of seeds and problems.

Each model's measurement is an (S, P) array per domain (seeds x held-out problems; the
problems are the same for every seed) and the base's a (P,) array measured once. One set
of resamples (``stats.resample_indices``: seed rows, and one set of problem columns shared
by every seed row) is drawn once; every mean is computed on the data and on each resample
at once (a vector of R + 1 values, the data first), and every effect is arithmetic on
those vectors, so all effects see the same resampled cells (seeds and problems resampled
the way the data were made). A domain's problem j and another domain's problem j are
unrelated problems resampled together; their scores are independent, so tying their
indices changes no variance.

Scores are each domain's reward in [0, 1] (the normalised, task-specific metric).
Entropies are ratios of sums (nats per sampled token).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from regimescope.instruments.transfer import (
    additive_prediction,
    backward_transfer,
    forward_transfer,
    order_matrix,
    pairwise_transfer,
    spearman,
)
from regimescope.regimes.multidomain import CREATIVE, DOMAINS, STRUCTURED
from regimescope.studies.stats import Resampled, resample_indices
from regimescope.studies.training_order.experiment import ORDERS, chain_label
from regimescope.studies.verdict import Effect, effect

STRUCTURED_FIRST = tuple(o for o in ORDERS if o[-1] == CREATIVE)
CREATIVE_FIRST = tuple(o for o in ORDERS if o[0] == CREATIVE)


@dataclass
class Draws:
    """Means of the measurements on the data and on every resample: (R + 1,) vectors."""

    rows: np.ndarray  # (R, S) resampled seed indices
    cols: np.ndarray  # (R, P) resampled problem indices
    cells: dict  # (model, domain, column) -> (S, P) array, or (P,) for the base

    def mean(self, model: str, domain: str, column: str = "score") -> np.ndarray:
        data = self.cells[(model, domain, column)]
        if data.ndim == 1:  # the base: measured once, indexed by the problem columns only
            return np.concatenate([[data.mean()], data[self.cols].mean(axis=1)])
        picked = data[self.rows[:, :, None], self.cols[:, None, :]]  # (R, S, P)
        return np.concatenate([[data.mean()], picked.mean(axis=(1, 2))])

    def entropy(self, model: str, domain: str) -> np.ndarray:
        """Mean token entropy (ratio of sums), nats per token."""
        return self.mean(model, domain, "h") / self.mean(model, domain, "n")

    def scores(self, model: str) -> np.ndarray:
        """(R + 1, D) the model's score on every domain, in ``DOMAINS`` order."""
        return np.stack([self.mean(model, d) for d in DOMAINS], axis=-1)


def draws(measures: pd.DataFrame, resamples: int, seed: int = 0) -> Draws:
    """The measurements as arrays, and one crossed resampling of them."""
    seeds = sorted(s for s in measures.seed.unique() if s >= 0)
    problems = int(measures.problem.max()) + 1
    cells = {}
    for (model, domain), group in measures.groupby(["model", "domain"]):
        for column in ("score", "h", "n"):
            if model == "base":
                cells[(model, domain, column)] = group.sort_values("problem")[column].to_numpy()
            else:
                table = group.pivot(index="seed", columns="problem", values=column)
                cells[(model, domain, column)] = table.loc[seeds].to_numpy(dtype=float)
    rows, cols = resample_indices(len(seeds), problems, resamples, seed)
    return Draws(rows, cols, cells)


def as_effect(name: str, values: np.ndarray, unit: str, family: int = 1) -> Effect:
    return effect(name, Resampled(float(values[0]), values[1:]), unit, family)


# ---------------------------------------------------------------- (i) entropy by domain


def entropy_change(d: Draws, domain: str) -> np.ndarray:
    """Relative change of a domain's entropy under RL on that domain alone:
    (H_single - H_base) / H_base."""
    base = d.entropy("base", domain)
    return (d.entropy(domain, domain) - base) / base


def structured_entropy(d: Draws, family: int) -> Effect:
    values = np.mean([entropy_change(d, s) for s in STRUCTURED], axis=0)
    name = "entropy change under structured RL, relative to the base (mean of strings, countdown)"
    return as_effect(name, values, "fraction of the base's entropy", family)


def creative_entropy(d: Draws, family: int) -> Effect:
    name = "entropy change under creative RL, relative to the base"
    return as_effect(name, entropy_change(d, CREATIVE), "fraction of the base's entropy", family)


# ---------------------------------------------------------------- orders and transfer


def final_mean(d: Draws, order) -> np.ndarray:
    """Mean over domains of the final scores after training in ``order``."""
    return d.scores(chain_label(order)).mean(axis=-1)


def structured_first_gain(d: Draws, family: int) -> Effect:
    """Mean normalised score: structured-first orders (mean of both) minus joint."""
    first = np.mean([final_mean(d, o) for o in STRUCTURED_FIRST], axis=0)
    values = first - d.scores("joint").mean(axis=-1)
    name = "mean normalised score, structured-first orders minus joint training"
    return as_effect(name, values, "reward", family)


def transfer_inputs(d: Draws) -> tuple[np.ndarray, np.ndarray]:
    """(single (R+1, D): score on i after i alone; pair (R+1, D, D): score on i after i
    then j), domains in ``DOMAINS`` order."""
    single = np.stack([d.mean(a, a) for a in DOMAINS], axis=-1)
    pair = np.zeros((single.shape[0], len(DOMAINS), len(DOMAINS)))
    for i, a in enumerate(DOMAINS):
        for j, b in enumerate(DOMAINS):
            if i != j:
                pair[:, i, j] = d.mean(chain_label((a, b)), a)
    return single, pair


def predicted_and_measured(d: Draws) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, measured) mean final score of every order: (R + 1, 6) each."""
    single, pair = transfer_inputs(d)
    transfer = pairwise_transfer(single, pair)
    index = {name: i for i, name in enumerate(DOMAINS)}
    predicted = [
        additive_prediction(single, transfer, [index[x] for x in o]).mean(axis=-1) for o in ORDERS
    ]
    measured = [final_mean(d, o) for o in ORDERS]
    return np.stack(predicted, axis=-1), np.stack(measured, axis=-1)


def ranking(d: Draws, family: int) -> Effect:
    predicted, measured = predicted_and_measured(d)
    name = "Spearman correlation over the 6 orders, BWT-additive prediction vs measured"
    return as_effect(name, spearman(predicted, measured), "correlation", family)


def order_transfer(d: Draws, order) -> tuple[np.ndarray, np.ndarray]:
    """(BWT, FWT) of ``order`` (R + 1,) each, from its own chain's accuracy matrix."""
    after = np.stack([d.scores(chain_label(order[:k])) for k in (1, 2, 3)], axis=-2)
    index = [DOMAINS.index(x) for x in order]
    r = order_matrix(after, index)
    start = d.scores("base")[..., index]
    return backward_transfer(r), forward_transfer(r, start)


# ---------------------------------------------------------------- (iv) creative last


def creative_position(d: Draws, family: int) -> tuple[Effect, Effect]:
    """The creative domain's final score and entropy, creative-last orders minus
    creative-first orders (entropy relative to the base's)."""
    last = [chain_label(o) for o in STRUCTURED_FIRST]
    first = [chain_label(o) for o in CREATIVE_FIRST]
    score = np.mean([d.mean(m, CREATIVE) for m in last], axis=0) - np.mean(
        [d.mean(m, CREATIVE) for m in first], axis=0
    )
    h = np.mean([d.entropy(m, CREATIVE) for m in last], axis=0) - np.mean(
        [d.entropy(m, CREATIVE) for m in first], axis=0
    )
    h = h / d.entropy("base", CREATIVE)
    return (
        as_effect("creative score, creative last minus creative first", score, "reward", family),
        as_effect(
            "creative entropy, creative last minus creative first, relative to the base",
            h,
            "fraction of the base's entropy",
            family,
        ),
    )


def score_gain(d: Draws, domain: str) -> Effect:
    """Held-out score on ``domain`` after RL on it alone minus the base's."""
    values = d.mean(domain, domain) - d.mean("base", domain)
    return as_effect(f"{domain}: held-out score, single-domain RL - base", values, "reward")


# ---------------------------------------------------------------- tables


def transfer_table(d: Draws) -> pd.DataFrame:
    """Per order: predicted and measured mean final score, BWT and FWT, with intervals."""
    predicted, measured = predicted_and_measured(d)
    rows = []
    for k, order in enumerate(ORDERS):
        bwt, fwt = order_transfer(d, order)
        row = {"order": chain_label(order)}
        for name, values in (
            ("predicted", predicted[:, k]),
            ("measured", measured[:, k]),
            ("bwt", bwt),
            ("fwt", fwt),
        ):
            low, high = Resampled(float(values[0]), values[1:]).interval()
            row |= {name: values[0], f"{name}_low": low, f"{name}_high": high}
        rows.append(row)
    return pd.DataFrame(rows)


def pairwise_table(d: Draws) -> pd.DataFrame:
    """B[i, j]: the change on domain i from training j after i (on the data)."""
    single, pair = transfer_inputs(d)
    matrix = pairwise_transfer(single, pair)[0]
    return pd.DataFrame(
        [
            {"on": a, "then_trained": b, "transfer": matrix[i, j]}
            for i, a in enumerate(DOMAINS)
            for j, b in enumerate(DOMAINS)
            if i != j
        ]
    )


def model_table(measures: pd.DataFrame) -> pd.DataFrame:
    """Mean score and entropy of every model on every domain (over seeds and problems)."""
    sums = measures.groupby(["model", "stage", "domain"]).agg(
        score=("score", "mean"), h=("h", "sum"), n=("n", "sum")
    )
    sums["entropy"] = sums.h / sums.n
    return sums.drop(columns=["h", "n"]).reset_index()
