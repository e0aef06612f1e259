"""Output-format shares and per-format accuracy of sampled completions.

A task with formats (``Task.formats``, e.g. ``code``, ``nl``, ``tagged``) classifies each
completion into one of them or none (``Task.classify_format``). Over N completions, n_f of
them in format f (``none`` for the unclassified):

    share_f = n_f / N,    acc_f = #{correct completions in format f} / n_f,

units: fractions in [0, 1]. Zhao et al. 2025 (Echo Chamber), arXiv 2504.07912: under RL
the shares collapse onto one pretraining format, usually (not always) the most accurate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from regimescope.tasks.base import Task


def shares(formats: Sequence[str | None], names: Iterable[str]) -> dict[str, float]:
    """share_f = n_f / N for each format in ``names`` and for ``none`` (format None).

    ``formats``: one format name (or None) per completion, N >= 1.

    >>> shares(["code", None, "code", "nl"], ["code", "nl", "tagged"])
    {'code': 0.5, 'nl': 0.25, 'tagged': 0.0, 'none': 0.25}
    """
    labels = [f or "none" for f in formats]
    counts = Counter(labels)
    return {f: counts[f] / len(labels) for f in (*names, "none")}


def format_shares(task: Task, completions: list[str]) -> dict[str, float]:
    """Share of completions classified into each of the task's formats (plus ``none``);
    ``{}`` for a task without formats or no completions."""
    if not task.formats or not completions:
        return {}
    return shares([task.classify_format(c) for c in completions], task.formats)


def format_stats(
    formats: Sequence[str | None],
    rewards: Sequence[float],
    names: Iterable[str],
    correct_above: float = 0.5,
) -> dict[str, float]:
    """Format shares and per-format accuracy of sampled completions.

    ``format_share/<f>`` = n_f / N over the task's formats plus ``none`` (no format);
    ``format_acc/<f>`` = share of correct completions (reward > ``correct_above``) among
    those in format f (only for formats that occur). ``{}`` without formats or samples.

    >>> format_stats(["code", "code", None], [1.0, 0.0, 0.0], ["code", "nl"])["format_acc/code"]
    0.5
    """
    names = list(names)
    if not names or not formats:
        return {}
    labels = [f or "none" for f in formats]
    counts = Counter(labels)
    correct = Counter(label for label, r in zip(labels, rewards, strict=True) if r > correct_above)
    stats = {f"format_share/{f}": share for f, share in shares(labels, names).items()}
    stats |= {f"format_acc/{f}": correct[f] / counts[f] for f in (*names, "none") if counts[f]}
    return stats
