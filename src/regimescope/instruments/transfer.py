"""Transfer between tasks trained in sequence: the accuracy matrix, backward and forward
transfer, and the additive prediction of a training order's final scores.

Source: Lopez-Paz & Ranzato 2017, *Gradient Episodic Memory for Continual Learning*
(arXiv 1706.08840), §4; Omni-Thinker (arXiv 2507.14783) schedules tasks by BWT on
"a normalized, task-specific test metric". Notation, for T tasks trained in one order:

    R[j, i]  score on task i after training through the j-th task (0-based rows/cols,
             task i is the i-th trained), on a normalised metric (unit: the task's score,
             here a reward in [0, 1])
    b[i]     score on task i of the start model (before any of the sequence)

    BWT = 1/(T-1) * sum_{i < T-1} (R[T-1, i] - R[i, i])   (negative: forgetting)
    FWT = 1/(T-1) * sum_{i > 0}   (R[i-1, i] - b[i])      (positive: earlier tasks helped)

Pairwise transfer and the additive prediction (the reconstruction of Omni-Thinker's
scheduling rule in ``shared/research/findings-6-10.md`` §10): with s[i] the score on task
i after training on i alone from the start model, and P[i, j] the score on i after
training i then j,

    B[i, j] = P[i, j] - s[i]                      (what training j next does to i)
    R_hat[order][i] = s[i] + sum_{j after i in order} B[i, j]

i.e. pairwise effects assumed independent of history and additive. Every function takes
arrays with any leading batch shape (``...``), so bootstrap resamples go through at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def backward_transfer(r: np.ndarray) -> np.ndarray:
    """BWT of accuracy matrices ``r`` (..., T, T) with T >= 2 -> (...).

    >>> float(backward_transfer(np.array([[0.9, 0.1], [0.5, 0.8]])))
    -0.4
    """
    r = np.asarray(r, dtype=float)
    t = r.shape[-1]
    if t < 2 or r.shape[-2] != t:
        raise ValueError(f"need square (..., T, T) matrices with T >= 2, got {r.shape}")
    idx = np.arange(t - 1)
    return (r[..., t - 1, idx] - r[..., idx, idx]).mean(axis=-1)


def forward_transfer(r: np.ndarray, start: np.ndarray) -> np.ndarray:
    """FWT of ``r`` (..., T, T) against start-model scores ``start`` (..., T) -> (...).

    >>> float(forward_transfer(np.array([[0.9, 0.3], [0.5, 0.8]]), np.array([0.2, 0.1])))
    0.2
    """
    r, start = np.asarray(r, dtype=float), np.asarray(start, dtype=float)
    t = r.shape[-1]
    if t < 2:
        raise ValueError("forward transfer needs T >= 2 tasks")
    idx = np.arange(1, t)
    return (r[..., idx - 1, idx] - start[..., idx]).mean(axis=-1)


def pairwise_transfer(single: np.ndarray, pair: np.ndarray) -> np.ndarray:
    """B[..., i, j] = pair[..., i, j] - single[..., i]: the change on task i from training
    j after i (``pair[..., i, j]``: score on i after i then j; the diagonal is unused and
    returned as 0). Shapes: single (..., T), pair (..., T, T) -> (..., T, T).

    >>> pairwise_transfer(np.array([0.8, 0.6]), np.array([[0, 0.5], [0.7, 0]])).tolist()
    [[0.0, -0.30000000000000004], [0.09999999999999998, 0.0]]
    """
    single, pair = np.asarray(single, dtype=float), np.asarray(pair, dtype=float)
    found = pair - single[..., :, None]
    t = single.shape[-1]
    found[..., np.arange(t), np.arange(t)] = 0.0
    return found


def additive_prediction(single: np.ndarray, transfer: np.ndarray, order: Sequence[int]):
    """R_hat (..., T): each task's predicted final score after training in ``order`` (task
    indices, first trained first): its single-task score plus the pairwise transfer from
    every task trained after it. Indexed by task, not by position in the order.

    >>> additive_prediction(np.array([0.8, 0.6]), np.array([[0, -0.3], [0.1, 0]]), [0, 1])
    array([0.5, 0.6])
    """
    single = np.asarray(single, dtype=float)
    found = single.copy()
    for position, task in enumerate(order):
        for later in order[position + 1 :]:
            found[..., task] = found[..., task] + transfer[..., task, later]
    return found


def order_matrix(scores_after: np.ndarray, order: Sequence[int]) -> np.ndarray:
    """R (..., T, T) in the order's own indexing from ``scores_after`` (..., T stages,
    T tasks by task index): R[j, i] = score on the i-th trained task after stage j."""
    order = list(order)
    return np.asarray(scores_after, dtype=float)[..., :, order]


def spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rank correlation along the last axis (ties get the mean rank); (..., n)
    pairs -> (...). NaN where either side is constant.

    >>> float(spearman(np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.3, 0.2])))
    0.5
    """
    rx, ry = ranks(np.asarray(x, dtype=float)), ranks(np.asarray(y, dtype=float))
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    denom = np.sqrt((rx**2).sum(axis=-1) * (ry**2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (rx * ry).sum(axis=-1) / np.where(denom > 0, denom, 1), np.nan)


def ranks(a: np.ndarray) -> np.ndarray:
    """Ranks (0-based) along the last axis, ties averaged."""
    order = a.argsort(axis=-1, kind="stable")
    plain = np.empty_like(a)
    np.put_along_axis(plain, order, np.arange(a.shape[-1], dtype=float), axis=-1)
    # average ties: for each element, mean rank of the elements equal to it
    equal = a[..., :, None] == a[..., None, :]
    return (equal * plain[..., None, :]).sum(axis=-1) / equal.sum(axis=-1)
