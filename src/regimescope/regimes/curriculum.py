"""Curricula for SFT and RL: tasks trained in sequence (one stage each) or jointly (a mixture).

A curriculum is a Task (``tasks.mix.Sequence`` or ``tasks.mix.Mixture``), so a regime
sees one stream of examples either way: step ``s`` trains on examples
``s*B .. s*B+B-1`` of the stream (B examples, or prompts, per step). For a sequence, the
regime's steps are split into one stage per task, in the given order, in proportion to
``weights`` (equal by default), so stage boundaries fall on step boundaries. A mixture
draws each example's task from ``weights`` (Omni-Thinker's "joint training" baseline,
arXiv 2507.14783). One task is a sequence of one stage: the task itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from regimescope.errors import BadInput, choose
from regimescope.tasks import Mixture, Sequence, Task, check_trainable, get_task
from regimescope.tasks.base import Example

ORDERS = ("sequence", "mixture")


@dataclass(frozen=True)
class CurriculumConfig:
    tasks: tuple[str, ...] = (
        "arithmetic",
    )  # registered task names; for a sequence, in training order
    order: str = "sequence"  # "sequence": one stage per task in order; "mixture": all tasks jointly
    weights: tuple[float, ...] = ()  # stage lengths (sequence) or proportions (mixture); () = equal


def validate_curriculum(cfg: CurriculumConfig, steps: int) -> None:
    """BadInput for curricula that cannot run (before anything is written)."""
    choose("curriculum order", cfg.order, ORDERS)
    if not cfg.tasks:
        raise BadInput("a curriculum needs at least one task")
    tasks = [get_task(name) for name in cfg.tasks]
    for task in tasks:
        check_trainable(task)
    if len(set(cfg.tasks)) != len(cfg.tasks):
        raise BadInput(f"a task appears twice in the curriculum {cfg.tasks}; give each task once")
    if cfg.weights and len(cfg.weights) != len(cfg.tasks):
        raise BadInput(
            f"{len(cfg.weights)} weights for {len(cfg.tasks)} tasks; give one per task or none"
        )
    if any(w <= 0 for w in cfg.weights):
        raise BadInput(f"curriculum weights must be positive, got {cfg.weights}")
    if len(tasks) > 1 and any(isinstance(t, Mixture | Sequence) for t in tasks):
        raise BadInput("a curriculum of several tasks takes plain tasks, not mixtures")
    if cfg.order == "sequence" and steps < len(cfg.tasks):
        raise BadInput(
            f"a sequence of {len(cfg.tasks)} stages needs at least as many steps, got {steps}"
        )


def stage_steps(steps: int, weights: tuple[float, ...]) -> list[int]:
    """Split ``steps`` into stages proportional to ``weights``, each >= 1 (largest remainder).

    >>> stage_steps(10, (1.0, 1.0, 1.0))
    [4, 3, 3]
    """
    spare = steps - len(weights)  # every stage gets one step, the rest by weight
    exact = [spare * w / sum(weights) for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: spare - sum(counts)]:
        counts[i] += 1
    return [c + 1 for c in counts]


def build_curriculum(cfg: CurriculumConfig, steps: int, per_step: int) -> Task:
    """The curriculum's example stream as one Task (see the module docstring)."""
    tasks = [get_task(name) for name in cfg.tasks]
    if len(tasks) == 1:
        return tasks[0]
    weights = cfg.weights or tuple(1.0 for _ in tasks)
    name = curriculum_name(cfg)
    if cfg.order == "mixture":
        return Mixture(name, list(zip(tasks, weights, strict=True)))
    stages = [(t, n * per_step) for t, n in zip(tasks, stage_steps(steps, weights), strict=True)]
    return Sequence(name, stages)


def curriculum_name(cfg: CurriculumConfig) -> str:
    """``arithmetic`` for one task, ``a>b`` for a sequence, ``a+b`` for a mixture."""
    return (">" if cfg.order == "sequence" else "+").join(cfg.tasks)


def step_examples(
    task: Task, step: int, per_step: int, seed: int, split: str = "train"
) -> list[Example]:
    """The examples of training step ``step``: ``step*B .. step*B+B-1`` of the stream."""
    start = step * per_step
    return [task.example(i, split, seed) for i in range(start, start + per_step)]


def leaf_tasks(task: Task) -> dict[str, Task]:
    """The plain tasks a curriculum draws from, by name (the task itself if it is one)."""
    if isinstance(task, Mixture | Sequence):
        return dict(task.by_name)
    return {task.name: task}
