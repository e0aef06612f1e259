"""A scaling law L(N) = E + A · N^(−α) fitted to final losses over model sizes, with
bootstrap intervals on its parameters and on a prediction (Kaplan et al. 2020, arXiv
2001.08361; the irreducible term E as in Hoffmann et al. 2022, "Chinchilla", arXiv
2203.15556, whose data term B · D^(−β) is left out: the lab varies N at fixed data).

Fit: least squares on log L, the parameters kept in their domain by E = exp(e),
A = exp(a), α ≥ 0 (Chinchilla fits log L too, with a Huber loss; squared error here, as
few points carry no outliers), from a grid of starts, best kept (scipy's
``least_squares``). N is in parameters, L in nats per token.

Intervals resample the way the data were made: each size has its own seeds, so a
bootstrap resample draws seeds with replacement *within* each size and refits; the 95%
interval is the 2.5-97.5 percentiles of the refitted values. With one seed per size
there is nothing to resample and the interval is the point (the caller should say so);
with few seeds the percentile interval is narrower than the truth's spread (a resample of
3 values has 2/3 of their variance in expectation), so a study should use 5 or more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PowerLaw:
    irreducible: float  # E, the loss no size removes (nats per token)
    scale: float  # A
    exponent: float  # α

    def predict(self, size: float) -> float:
        """L(N) = E + A · N^(−α)."""
        return self.irreducible + self.scale * size ** (-self.exponent)


@dataclass(frozen=True)
class ScalingFit:
    law: PowerLaw  # fitted to the per-size mean losses
    exponent_ci: tuple[float, float]  # 95% bootstrap interval of α
    resamples: int  # bootstrap resamples that were refitted


def fit_power_law(
    sizes: Sequence[float], losses: Sequence[float], start: PowerLaw | None = None
) -> PowerLaw:
    """Least-squares fit of log L = log(E + A · N^(−α)) over (size, loss) points.

    Without ``start``, the best of six starting points (the objective has several local
    minima when E is poorly determined); with ``start`` (a nearby law, e.g. the fit to the
    unresampled data when refitting a bootstrap resample), one descent from it.
    """
    from scipy.optimize import least_squares

    n = np.asarray(sizes, dtype=float)
    log_loss = np.log(np.asarray(losses, dtype=float))
    scale_n = float(np.exp(np.mean(np.log(n))))  # fit in N / geometric mean: well conditioned
    log_x = np.log(n / scale_n)

    def parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e, a, alpha = x
        power = np.exp(a - alpha * log_x)  # A' · (N / scale)^(−α)
        return np.exp(e) + power, power

    def residuals(x: np.ndarray) -> np.ndarray:
        return np.log(parts(x)[0]) - log_loss

    def jacobian(x: np.ndarray) -> np.ndarray:
        total, power = parts(x)
        # d/de, d/da, d/dα of log(e^e + e^a x^-α); shape [points, 3]
        return np.stack([np.exp(x[0]) / total, power / total, -log_x * power / total], axis=1)

    floor = float(np.min(log_loss))
    if start is not None:
        guesses = [
            np.array(
                [
                    np.log(max(start.irreducible, 1e-20)),
                    np.log(start.scale) - start.exponent * np.log(scale_n),
                    start.exponent,
                ]
            )
        ]
    else:
        guesses = [
            np.array([e0, floor - 1.0, a0])
            for e0 in (floor - 3.0, floor - 0.5)
            for a0 in (0.1, 0.5, 1.5)
        ]
    best = None
    for guess in guesses:
        guess = np.clip(guess, [-50, -50, 0], [50, 50, 10])
        fit = least_squares(residuals, guess, jac=jacobian, bounds=([-50, -50, 0], [50, 50, 10]))
        if best is None or fit.cost < best.cost:
            best = fit
    e, a, alpha = best.x
    return PowerLaw(float(np.exp(e)), float(np.exp(a) * scale_n**alpha), float(alpha))


def fit_with_interval(
    losses_by_size: Mapping[float, Sequence[float]],
    predict_at: float | None = None,
    resamples: int = 400,
    seed: int = 0,
) -> tuple[ScalingFit, tuple[float, float, float] | None]:
    """The law fitted to per-size mean losses (``losses_by_size``: size -> losses of its
    seeds), α's 95% interval, and with ``predict_at`` the prediction L(N) at that size as
    (point, low, high), resampling seeds within sizes."""
    sizes = sorted(losses_by_size)
    runs = [np.asarray(losses_by_size[s], dtype=float) for s in sizes]
    law = fit_power_law(sizes, [r.mean() for r in runs])
    rng = np.random.default_rng(seed)
    exponents, predictions = [], []
    for _ in range(resamples):
        means = [r[rng.integers(0, len(r), len(r))].mean() for r in runs]
        refit = fit_power_law(sizes, means, start=law)
        exponents.append(refit.exponent)
        if predict_at is not None:
            predictions.append(refit.predict(predict_at))
    fit = ScalingFit(law, _interval(exponents), resamples)
    if predict_at is None:
        return fit, None
    return fit, (law.predict(predict_at), *_interval(predictions))


def _interval(values: list[float]) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)
