"""Premises shared by the studies: what must have happened for a part to be decided.

A premise is a gate (``verdict.gate``): when it fails, the parts resting on it are
``inconclusive``. The one every RL study shares (``rl_premises``): RL did what RL is for
on its own terms. The training reward rose (mean of the last tenth of steps minus the
first tenth, interval above 0), and held-out pass@1 did not fall below the base's (the
gain's interval is not wholly below 0). An RL run that failed either way says nothing
about what RL does, so it cannot contradict a claim about RL.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from regimescope.studies.verdict import Effect, Premise, fmt

REWARD_ROSE = "training reward rose"
NOT_WORSE = "held-out pass@1 not below the base's"


def window(steps: int) -> int:
    """Steps in a tenth of a run of ``steps`` steps (at least one)."""
    return max(1, steps // 10)


def reward_rise(rewards: Sequence[Sequence[float]], resamples: int = 2000, seed: int = 0) -> Effect:
    """Mean over seeds of (last tenth − first tenth) of each seed's per-step training reward,
    with a 95% interval that resamples seeds, then steps within each seed's two windows
    (the steps of one run are not shared with another, so this level is nested)."""
    runs = [np.asarray(r, dtype=float) for r in rewards]
    windows = [(r[: window(r.size)], r[-window(r.size) :]) for r in runs]  # (first, last)
    rng = np.random.default_rng(seed)
    draws = np.empty(resamples)
    for i in range(resamples):
        picked = rng.integers(0, len(windows), size=len(windows))
        rises = [
            rng.choice(windows[s][1], windows[s][1].size).mean()
            - rng.choice(windows[s][0], windows[s][0].size).mean()
            for s in picked
        ]
        draws[i] = np.mean(rises)
    estimate = float(np.mean([last.mean() - first.mean() for first, last in windows]))
    low, high = np.percentile(draws, [2.5, 97.5])
    interval = (float(low), float(high))
    return Effect("training reward, last tenth - first tenth", estimate, interval, "reward")


def rl_premises(rise: Effect, pass1_gain: Effect) -> dict[str, Premise]:
    """The shared RL premises from the reward rise and the held-out pass@1 gain (RL − base)."""
    return {
        REWARD_ROSE: Premise(bool(rise.ci95[0] > 0), f"{rise.name} {fmt(rise)}"),
        NOT_WORSE: Premise(bool(pass1_gain.ci95[1] >= 0), f"{pass1_gain.name} {fmt(pass1_gain)}"),
    }
