"""The task interface: deterministic examples, a held-out split, a verifier, token classes.

A task makes example ``index`` of a ``split`` from ``(seed, index)`` alone, so any worker
can rebuild any example without shared state. Held-out splits are disjoint from training
by construction (each task says how: a hash bucket of the problem, or held-out rules).
A verifier scores any completion with a reward in [0, 1] and the answer it parsed.
Each gold target carries one class per character (``plan``, ``exec``, ``format``,
``answer``); ``token_classes`` aligns them with any tokenizer's tokens via offsets.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any, Protocol

from regimescope.errors import BadInput

TOKEN_CLASSES = ("plan", "exec", "format", "answer")


@dataclass(frozen=True)
class Example:
    task: str  # name of the task that made it (mixtures dispatch on it)
    split: str  # "train", "test", or a task-specific held-out split
    index: int  # position in the split's deterministic stream
    prompt: str  # text the model is conditioned on
    target: str  # gold completion, without EOS
    answer: str  # canonical answer the verifier compares against
    target_classes: tuple[str, ...]  # one TOKEN_CLASSES entry per character of target
    fmt: str | None = None  # format of the gold target; None for tasks without formats
    meta: dict[str, Any] = field(default_factory=dict)  # task-specific structure (rule, demos)


@dataclass(frozen=True)
class Score:
    reward: float  # in [0, 1]
    answer: str | None  # answer parsed from the completion; None if none could be parsed
    details: dict[str, Any] = field(default_factory=dict)  # task-specific checks (plan_ok, ...)


class Task(Protocol):
    name: str  # registry key
    version: str  # bump when generation or verification changes; goes into every result
    splits: tuple[str, ...]  # valid split names; "train" first, then held-out splits
    formats: tuple[str, ...]  # solution formats; () when the task has only one

    def example(self, index: int, split: str = "train", seed: int = 0) -> Example:
        """Example ``index`` of ``split``; a pure function of its arguments."""
        ...

    def verify(self, example: Example, completion: str) -> Score:
        """Score a completion (text after the prompt, EOS stripped) against the example."""
        ...

    def classify_format(self, completion: str) -> str | None:
        """The format a completion is written in, or None (also for tasks without formats)."""
        ...


def example_rng(task: str, split: str, seed: int, index: int, attempt: int = 0) -> random.Random:
    """A private random stream for one example: stable across processes and Python runs."""
    return random.Random(f"{task}|{split}|{seed}|{index}|{attempt}")


def stable_bucket(key: str, buckets: int = 1000) -> int:
    """A process-independent hash of ``key`` into ``range(buckets)`` (sha256, not hash())."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % buckets


def is_heldout(key: str, fraction: float) -> bool:
    """Whether the problem named by ``key`` belongs to the held-out split."""
    return stable_bucket(key) < int(round(fraction * 1000))


def compose(pieces: list[tuple[str, str]]) -> tuple[str, tuple[str, ...]]:
    """Join (text, class) pieces into a target and its per-character classes.

    >>> compose([("3+4", "exec"), ("=", "format"), ("7", "answer")])
    ('3+4=7', ('exec', 'exec', 'exec', 'format', 'answer'))
    """
    text = "".join(piece for piece, _ in pieces)
    classes: list[str] = []
    for piece, cls in pieces:
        if cls not in TOKEN_CLASSES:
            raise ValueError(
                f"unknown token class {cls!r}; choose from: {', '.join(TOKEN_CLASSES)}"
            )
        classes.extend([cls] * len(piece))
    return text, tuple(classes)


def token_classes(tokenizer, text: str, char_classes: tuple[str, ...]) -> list[str]:
    """One class per token of ``tokenizer(text)``: the class of the token's first character.

    Works with any fast tokenizer (offsets mapping); a token that covers characters of
    several classes takes the first one's. Tokens with empty spans (specials) are "format".
    """
    if len(char_classes) != len(text):
        raise ValueError(f"{len(char_classes)} classes for {len(text)} characters")
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    classes = []
    for start, end in encoding["offset_mapping"]:
        classes.append(char_classes[start] if end > start else "format")
    return classes


def examples(task: Task, n: int, split: str = "train", seed: int = 0, start: int = 0):
    """The list of examples ``start .. start + n - 1`` of a split."""
    return [task.example(i, split, seed) for i in range(start, start + n)]


SCAN_PER_PROBLEM = 100  # indices scanned per distinct problem asked for before giving up


def distinct_examples(task: Task, n: int, split: str = "test", seed: int = 0) -> list[Example]:
    """The first ``n`` examples of a split's stream with distinct prompts.

    A split's stream redraws until a key lands in it, so a small split repeats problems
    (countdown's 140 test keys: the first 100 examples hold 65 distinct ones). An
    evaluation scored on repeats counts one problem several times, and a bootstrap over
    its "problems" is then too narrow; evaluations draw distinct problems instead.
    BadInput when the split holds fewer than ``n`` distinct prompts within
    ``SCAN_PER_PROBLEM * n`` indices.
    """
    found: dict[str, Example] = {}
    for index in range(SCAN_PER_PROBLEM * n):
        if len(found) == n:
            break
        example = task.example(index, split, seed)
        found.setdefault(example.prompt, example)
    if len(found) < n:
        raise BadInput(
            f"split {split!r} of task {getattr(task, 'name', '?')!r} holds {len(found)} distinct "
            f"problems; ask for at most {len(found)}"
        )
    return list(found.values())
