"""Accuracy on a task's split: greedy or sampled, with a bootstrap interval over problems.

accuracy = (1/P) * sum_p (1/n) * sum_j reward(p, j), unit: fraction of reward in [0, 1];
the 95% interval is the percentile bootstrap over problems (resampling problems, not
samples, since samples of one problem are correlated). Format shares (``formats.py``)
are computed on the sampled completions where the task has formats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from regimescope.errors import BadInput
from regimescope.instruments.formats import format_shares
from regimescope.sampler.decode import SamplingConfig, sample
from regimescope.tasks.base import Task, distinct_examples


@dataclass(frozen=True)
class AccuracyReport:
    task: str  # task name
    version: str  # task version (results are comparable only within one version)
    split: str  # split evaluated
    problems: int  # number of problems
    samples_per_problem: int  # completions per problem (1 for greedy)
    temperature: float  # 0 = greedy
    accuracy: float  # mean reward over problems and samples
    ci95: tuple[float, float]  # percentile bootstrap over problems
    per_problem: list[float] = field(repr=False)  # mean reward of each problem, in order
    format_shares: dict[str, float] = field(default_factory=dict)  # share of completions per format
    shown: list[dict] = field(
        default_factory=list, repr=False
    )  # the first 5 problems: prompt, first completion, its parsed answer, gold, reward


def bootstrap_mean_ci(values, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of ``values``.

    >>> bootstrap_mean_ci([1.0, 1.0, 1.0])
    (1.0, 1.0)
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, data.size, size=(resamples, data.size))  # (R, P) problem indices
    means = data[draws].mean(axis=1)  # (R,)
    low, high = np.percentile(means, [2.5, 97.5])
    return (float(low), float(high))


def evaluate(
    model,
    tokenizer,
    task: Task,
    split: str = "test",
    problems: int = 200,
    sampling: SamplingConfig | None = None,
    data_seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> AccuracyReport:
    """Accuracy of ``model`` on the first ``problems`` examples of ``split``."""
    if split not in task.splits:
        raise BadInput(
            f"task {task.name!r} has no split {split!r}; choose from: {', '.join(task.splits)}"
        )
    if problems <= 0:
        raise BadInput(f"problems must be a positive integer, got {problems}")
    sampling = sampling or SamplingConfig(temperature=0.0)
    items = distinct_examples(task, problems, split, data_seed)
    outputs = sample(model, tokenizer, [e.prompt for e in items], sampling, progress)
    scores = [
        [task.verify(e, c.text) for c in outs] for e, outs in zip(items, outputs, strict=True)
    ]
    per_problem = [float(np.mean([s.reward for s in row])) for row in scores]
    texts = [c.text for outs in outputs for c in outs]
    shown = [
        {"prompt": e.prompt, "completion": outs[0].text, "answer": row[0].answer}
        | {"gold": e.answer, "reward": row[0].reward}
        for e, outs, row in list(zip(items, outputs, scores, strict=True))[:5]
    ]
    return AccuracyReport(
        task=task.name,
        version=task.version,
        split=split,
        problems=problems,
        samples_per_problem=sampling.n,
        temperature=sampling.temperature,
        accuracy=float(np.mean(per_problem)),
        ci95=bootstrap_mean_ci(per_problem),
        per_problem=per_problem,
        format_shares=format_shares(task, texts),
        shown=shown,
    )
