"""Mixtures and sequences of tasks: one stream of examples drawn from several tasks.

``Mixture`` interleaves tasks with fixed proportions: example ``i`` picks its task from
``(seed, split, i)`` alone and is that task's own example ``i``, so a mixture example can
be rebuilt anywhere and equals the member's. ``Sequence`` is a curriculum: stages of
(task, number of examples); example ``i`` is example ``i`` (the global index, so a task
that recurs in a later stage never repeats an earlier example) of the stage covering
``i``. Both satisfy the Task protocol: ``verify`` dispatches on ``example.task`` to the
member that made the example; ``classify_format`` returns the first member's non-None
answer (members' format markers are disjoint). Members must be leaf tasks with distinct
names (a mixture of mixtures would not know its grandchildren's names).
"""

from __future__ import annotations

import bisect
import itertools

from regimescope.errors import choose
from regimescope.tasks.base import Example, Score, Task, example_rng


def members_by_name(tasks: list[Task]) -> dict[str, Task]:
    """Tasks keyed by name; a name used by two different tasks is an error."""
    by_name: dict[str, Task] = {}
    for task in tasks:
        if by_name.setdefault(task.name, task) is not task:
            raise ValueError(f"two different tasks are named {task.name!r}")
    return by_name


def common_splits(tasks: list[Task]) -> tuple[str, ...]:
    """The splits every task has, in the first task's order."""
    return tuple(s for s in tasks[0].splits if all(s in t.splits for t in tasks))


def union_formats(tasks: list[Task]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for t in tasks for f in t.formats))


def first_format(tasks: list[Task], completion: str) -> str | None:
    return next((f for t in tasks if (f := t.classify_format(completion)) is not None), None)


class Mixture:
    """Tasks in fixed proportions; example ``i`` comes from a task drawn from (seed, i)."""

    def __init__(self, name: str, members: list[tuple[Task, float]]):
        if not members or any(weight <= 0 for _, weight in members):
            raise ValueError("a mixture needs at least one task, each with a weight > 0")
        self.name = name
        self.tasks = [task for task, _ in members]
        self.weights = [float(weight) for _, weight in members]
        self.by_name = members_by_name(self.tasks)
        if len(self.by_name) != len(self.tasks):
            raise ValueError("a task appears twice in a mixture; merge its weights")
        self.version = "+".join(f"{t.name}@{t.version}*{w:g}" for t, w in members)
        self.splits = common_splits(self.tasks)
        self.formats = union_formats(self.tasks)

    def member(self, index: int, split: str = "train", seed: int = 0) -> Task:
        """The task that makes example ``index`` of ``split``."""
        rng = example_rng(self.name, split, seed, index)
        return rng.choices(self.tasks, weights=self.weights)[0]

    def example(self, index: int, split: str = "train", seed: int = 0) -> Example:
        choose("split", split, self.splits)
        return self.member(index, split, seed).example(index, split, seed)

    def verify(self, example: Example, completion: str) -> Score:
        choose("task", example.task, self.by_name)
        return self.by_name[example.task].verify(example, completion)

    def classify_format(self, completion: str) -> str | None:
        return first_format(self.tasks, completion)


class Sequence:
    """A curriculum: stages of (task, number of examples), run in order."""

    def __init__(self, name: str, stages: list[tuple[Task, int]]):
        if not stages or any(count <= 0 for _, count in stages):
            raise ValueError("a sequence needs at least one stage, each with a count > 0")
        self.name = name
        self.stages = list(stages)
        self.ends = list(itertools.accumulate(count for _, count in stages))
        tasks = [task for task, _ in stages]
        self.by_name = members_by_name(tasks)
        self.version = ">".join(f"{t.name}@{t.version}x{n}" for t, n in stages)
        self.splits = common_splits(tasks)
        self.formats = union_formats(list(self.by_name.values()))

    def __len__(self) -> int:
        return self.ends[-1]

    def stage(self, index: int) -> int:
        """The number of the stage that covers example ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(f"example {index} is outside the curriculum's 0..{len(self) - 1}")
        return bisect.bisect_right(self.ends, index)

    def example(self, index: int, split: str = "train", seed: int = 0) -> Example:
        choose("split", split, self.splits)
        task, _ = self.stages[self.stage(index)]
        return task.example(index, split, seed)

    def verify(self, example: Example, completion: str) -> Score:
        choose("task", example.task, self.by_name)
        return self.by_name[example.task].verify(example, completion)

    def classify_format(self, completion: str) -> str | None:
        return first_format(list(self.by_name.values()), completion)
