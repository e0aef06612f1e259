"""Linear probes per site, with a control task and a random-init baseline.

A probe asks what is *linearly decodable* at a site; on its own it says nothing about use
(Belinkov 2022, arXiv 2102.12452), so every number here comes with two controls:

- **Selectivity** (Hewitt & Liang 2019, arXiv 1909.03368): the control task gives each
  *type* (the value of the token(s) the variable is read from; the caller names it per
  example) one fixed random label, drawn from the empirical distribution of the real
  labels. A probe that scores well on it memorises types rather than reading the variable.
  selectivity = acc(real task) − acc(control task), on the same held-out examples
  (fraction, in [−1, 1]).
- **Random-init baseline**: the same probe, split and control on a copy of the model
  re-initialised under a fixed seed (``sites.random_init_copy``). Random networks keep
  much of their input linearly decodable, so a claim needs accuracy above this.

The probe is multinomial logistic regression on standardised activations, fitted full-batch
with L-BFGS in float64 (loss: mean cross-entropy + ``l2`` · ‖W‖², W in standardised units).
Accuracy intervals are Wilson score intervals over held-out examples; the selectivity
interval is a percentile bootstrap over held-out examples, resampled in pairs (real and
control correctness of the same example together).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import norm
from torch import Tensor, nn

from regimescope.errors import BadInput
from regimescope.instruments.sites import random_init_copy, run_with_cache
from regimescope.tasks.encode import encode_prompt


@dataclass(frozen=True)
class ProbeData:
    prompts: tuple[str, ...]  # model inputs, one per example
    labels: tuple[int, ...]  # the variable's value per example, 0..C-1
    types: tuple[str, ...] | None = None  # control-task type per example (None: the prompt)
    positions: tuple[int, ...] | None = None  # token index read (negative from the end; None: -1)


@dataclass(frozen=True)
class LinearProbe:
    weight: Tensor  # [C, d] float64, in raw activation units (standardisation folded in)
    bias: Tensor  # [C]

    def logits(self, x: Tensor) -> Tensor:
        return x.double() @ self.weight.T + self.bias  # [N, d] @ [d, C] -> [N, C]

    def predict(self, x: Tensor) -> Tensor:
        return self.logits(x).argmax(-1)


@dataclass(frozen=True)
class ProbeResult:
    accuracy: float  # held-out accuracy on the real task (fraction)
    accuracy_ci: tuple[float, float]  # Wilson interval
    control_accuracy: float  # held-out accuracy of the same probe family on the control task
    control_ci: tuple[float, float]  # Wilson interval
    selectivity: float  # accuracy − control_accuracy
    selectivity_ci: tuple[float, float]  # paired bootstrap over held-out examples
    majority: float  # held-out share of the most frequent training label: the floor
    n_train: int
    n_test: int


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion correct/n:
    (p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n), z the normal quantile."""
    if n <= 0:
        return (float("nan"), float("nan"))
    z = float(norm.ppf(0.5 + confidence / 2))
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def control_labels(labels: Sequence[int], types: Sequence[str], seed: int = 0) -> np.ndarray:
    """Hewitt & Liang's control task: every distinct type gets one label, drawn independently
    (seeded) from the empirical distribution of ``labels``; each example takes its type's."""
    if len(labels) != len(types):
        raise BadInput(f"{len(labels)} labels but {len(types)} types; give one type per example")
    rng = np.random.default_rng(seed)
    distinct = sorted(set(types))
    drawn = rng.choice(np.asarray(labels), size=len(distinct))
    label_of = dict(zip(distinct, drawn.tolist(), strict=True))
    return np.array([label_of[t] for t in types])


def held_out_split(
    n: int, test_fraction: float = 0.3, seed: int = 0, groups: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) example indices. With ``groups``, whole groups go to one side (e.g. by
    type: then the control task is at chance on the test side by construction)."""
    if not 0 < test_fraction < 1:
        raise BadInput(f"test fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    keys = np.arange(n) if groups is None else np.asarray(groups)
    distinct = np.unique(keys)
    held = rng.permutation(len(distinct))[: max(1, round(test_fraction * len(distinct)))]
    test = np.isin(keys, distinct[held])
    if test.all() or not test.any():
        raise BadInput(f"cannot split {n} examples ({len(distinct)} groups) into train and test")
    return np.flatnonzero(~test), np.flatnonzero(test)


def fit_logistic(x: Tensor, y: Tensor, classes: int, l2: float = 1e-3) -> LinearProbe:
    """Multinomial logistic regression on standardised ``x`` [N, d], labels ``y`` [N] in
    0..classes−1: minimise mean CE + l2·‖W‖² with full-batch L-BFGS (float64)."""
    x, y = x.double(), torch.as_tensor(y, dtype=torch.long)
    mean, std = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-8)
    z = (x - mean) / std  # [N, d]
    linear = nn.Linear(x.shape[1], classes, dtype=torch.float64)
    nn.init.zeros_(linear.weight), nn.init.zeros_(linear.bias)
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(linear(z), y) + l2 * linear.weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    weight = linear.weight.detach() / std  # [C, d]: acts on raw x
    return LinearProbe(weight, linear.bias.detach() - weight @ mean)


def probe_features(
    x: Tensor,
    labels: Sequence[int],
    control: Sequence[int],
    split: tuple[np.ndarray, np.ndarray],
    l2: float = 1e-3,
    seed: int = 0,
) -> ProbeResult:
    """Fit the probe on the train rows of ``x`` [N, d] for the real and the control labels;
    score both on the test rows (see the module docstring for every quantity)."""
    train, test = split
    y, c = np.asarray(labels), np.asarray(control)
    classes = int(max(y.max(), c.max())) + 1
    right = []
    for target in (y, c):
        probe = fit_logistic(x[train], torch.as_tensor(target[train]), classes, l2)
        right.append(probe.predict(x[test]).numpy() == target[test])  # [n_test] bool
    real, ctrl = right
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(test), size=(2000, len(test)))  # bootstrap rows
    diffs = real[draws].mean(1) - ctrl[draws].mean(1)
    majority = np.bincount(y[train], minlength=classes).argmax()
    return ProbeResult(
        accuracy=float(real.mean()),
        accuracy_ci=wilson_interval(int(real.sum()), len(test)),
        control_accuracy=float(ctrl.mean()),
        control_ci=wilson_interval(int(ctrl.sum()), len(test)),
        selectivity=float(real.mean() - ctrl.mean()),
        selectivity_ci=(float(np.quantile(diffs, 0.025)), float(np.quantile(diffs, 0.975))),
        majority=float((y[test] == majority).mean()),
        n_train=len(train),
        n_test=len(test),
    )


@torch.no_grad()
def collect(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    names: Sequence[str],
    positions: Sequence[Sequence[int]],
    batch_size: int = 64,
) -> dict[str, Tensor]:
    """Activations at ``names`` for every prompt: name -> [N, P, d] float32 on the CPU, row
    n read at ``positions[n]`` (P token indices, negative from the end). Prompts are encoded
    as the organisms are (BOS first where the model expects one) and batched by length, so
    no padding enters."""
    device = next(model.parameters()).device
    encoded = [encode_prompt(tokenizer, p) for p in prompts]
    by_length: dict[int, list[int]] = defaultdict(list)
    for n, ids in enumerate(encoded):
        by_length[len(ids)].append(n)
    out: dict[str, Tensor] = {}
    for length, rows in by_length.items():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            ids = torch.tensor([encoded[n] for n in chunk], device=device)  # [b, T]
            index = torch.tensor([_positions(positions[n], length) for n in chunk])  # [b, P]
            _, cache = run_with_cache(model, ids, names)
            for name, act in cache.items():  # act [b, T, d]
                picked = act.cpu().float()[torch.arange(len(chunk))[:, None], index]  # [b, P, d]
                buffer = out.setdefault(name, torch.zeros(len(prompts), *picked.shape[1:]))
                buffer[chunk] = picked
    return out


def _positions(wanted: Sequence[int], length: int) -> list[int]:
    """Token indices resolved against a prompt of ``length`` tokens, or BadInput."""
    resolved = [p + length if p < 0 else p for p in wanted]
    if any(not 0 <= p < length for p in resolved):
        raise BadInput(f"position(s) {list(wanted)} outside a prompt of {length} tokens")
    return resolved


def probe_sites(
    model: nn.Module,
    tokenizer,
    data: ProbeData,
    names: Sequence[str],
    offsets: Sequence[int] | None = None,
    test_fraction: float = 0.3,
    split_by_type: bool = False,
    seed: int = 0,
    l2: float = 1e-3,
) -> dict[str, list[ProbeResult]]:
    """name -> one ProbeResult per position: ``offsets`` (the same token indices in every
    prompt, e.g. [-3, -2, -1]) or, when None, each example's own ``data.positions``."""
    features = collect(model, tokenizer, data.prompts, names, _rows(data, offsets))
    return probe_collected(features, data, test_fraction, split_by_type, seed, l2)


def probe_collected(
    features: dict[str, Tensor],
    data: ProbeData,
    test_fraction: float = 0.3,
    split_by_type: bool = False,
    seed: int = 0,
    l2: float = 1e-3,
) -> dict[str, list[ProbeResult]]:
    """``probe_sites`` on features already collected (name -> [N, P, d])."""
    types = data.types if data.types is not None else data.prompts
    control = control_labels(data.labels, types, seed)
    split = held_out_split(len(data.labels), test_fraction, seed, types if split_by_type else None)
    return {
        name: [
            probe_features(x[:, p], data.labels, control, split, l2, seed)
            for p in range(x.shape[1])
        ]
        for name, x in features.items()
    }


def _rows(data: ProbeData, offsets: Sequence[int] | None) -> list[list[int]]:
    if offsets is not None:
        return [list(offsets)] * len(data.prompts)
    if data.positions is None:
        return [[-1]] * len(data.prompts)
    return [[p] for p in data.positions]


def probe_direction(probe: LinearProbe) -> Tensor:
    """The direction a binary probe reads, in raw activation units: w₁ − w₀ [d] (the
    gradient of its log-odds of class 1)."""
    if probe.weight.shape[0] != 2:
        raise BadInput(
            f"a probe direction needs a binary probe, got {probe.weight.shape[0]} classes"
        )
    return (probe.weight[1] - probe.weight[0]).float()


def probe_with_baseline(
    model: nn.Module,
    tokenizer,
    data: ProbeData,
    names: Sequence[str],
    offsets: Sequence[int] | None = None,
    baseline_seed: int = 0,
    **options,
) -> dict[str, dict[str, list[ProbeResult]]]:
    """``probe_sites`` on the model and on its random-init copy (same split, same control
    labels): {"model": ..., "random_init": ...}. ``options`` go to ``probe_sites``."""
    baseline = random_init_copy(model, baseline_seed)
    return {
        "model": probe_sites(model, tokenizer, data, names, offsets, **options),
        "random_init": probe_sites(baseline, tokenizer, data, names, offsets, **options),
    }
