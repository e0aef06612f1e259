"""Synthetic tasks: deterministic examples, held-out splits, verifiers, token classes.

``TASKS`` maps a name to a task instance:

- ``arithmetic``: word problems, gold solutions in code / nl / tagged format (equal weights);
- ``arithmetic-code``, ``arithmetic-nl``, ``arithmetic-tagged``: the same problems, one format;
- ``arithmetic-code-heavy`` (code 0.6, nl 0.3, tagged 0.1) and ``arithmetic-tagged-heavy``
  (swapped: 0.1, 0.3, 0.6): the same problems with skewed format proportions;
- ``countdown``: reach a target from 3 numbers (plan line, then step lines);
- ``countdown-4``: the same with 4 numbers (a harder planning variant);
- ``countdown-steps``: the same problems as ``countdown``, rewarded only when the step
  lines are right too (the default reward checks the plan and the answer);
- ``rules``: rule classification with instructions, two held-out rule splits;
- ``mix``: arithmetic, countdown and rules in equal proportions (splits train, test).

``get_task`` also takes the path of a ``.jsonl`` file of problems (``tasks.jsonl``), and
``tasks.chat`` wraps any task so its prompts go through a model's chat template.
"""

from pathlib import Path

from regimescope.errors import BadInput
from regimescope.tasks.arithmetic import FORMATS, ArithmeticConfig, ArithmeticTask
from regimescope.tasks.base import (
    TOKEN_CLASSES,
    Example,
    Score,
    Task,
    compose,
    distinct_examples,
    example_rng,
    examples,
    is_heldout,
    stable_bucket,
    token_classes,
)
from regimescope.tasks.countdown import CountdownConfig, CountdownTask
from regimescope.tasks.encode import Encoded, encode_example, encode_prompt
from regimescope.tasks.mix import Mixture, Sequence
from regimescope.tasks.rules import MODES, RulesConfig, RulesTask, random_baseline, render_prompt
from regimescope.tasks.strings import string_tasks


def _weighted(name: str, weights: tuple[float, float, float]) -> ArithmeticTask:
    return ArithmeticTask(ArithmeticConfig(format_weights=weights), name=name)


def _single_format(fmt: str) -> ArithmeticTask:
    weights = tuple(float(f == fmt) for f in FORMATS)
    return ArithmeticTask(ArithmeticConfig(format_weights=weights), name=f"arithmetic-{fmt}")


_arithmetic = ArithmeticTask()
_countdown = CountdownTask()
_rules = RulesTask()

TASKS: dict[str, Task] = {
    "arithmetic": _arithmetic,
    "arithmetic-code": _single_format("code"),
    "arithmetic-nl": _single_format("nl"),
    "arithmetic-tagged": _single_format("tagged"),
    "arithmetic-code-heavy": _weighted("arithmetic-code-heavy", (0.6, 0.3, 0.1)),
    "arithmetic-tagged-heavy": _weighted("arithmetic-tagged-heavy", (0.1, 0.3, 0.6)),
    "countdown": _countdown,
    "countdown-4": CountdownTask(CountdownConfig(n_numbers=4), name="countdown-4"),
    "countdown-steps": CountdownTask(CountdownConfig(check_steps=True), name="countdown-steps"),
    "rules": _rules,
    "mix": Mixture("mix", [(_arithmetic, 1.0), (_countdown, 1.0), (_rules, 1.0)]),
    **string_tasks(),
}


def get_task(name: str) -> Task:
    """The registered task called ``name``, or the problems of an existing ``.jsonl`` file;
    BadInput lists the valid names otherwise."""
    if name in TASKS:
        return TASKS[name]
    if name.endswith(".jsonl") and Path(name).is_file():
        from regimescope.tasks.jsonl import JsonlTask

        return JsonlTask(name)
    names = ", ".join(sorted(TASKS))
    if name.endswith(".jsonl"):
        raise BadInput(
            f"task file {name!r} does not exist; give an existing .jsonl file of "
            f"problems, or a task name: {names}"
        )
    raise BadInput(
        f"unknown task {name!r}; choose from: {names}, or the path of a .jsonl file of problems"
    )


def check_trainable(task: Task) -> None:
    """BadInput unless ``task`` has a ``train`` split (a JSONL file of problems has none)."""
    if "train" not in task.splits:
        raise BadInput(
            f"task {task.name!r} has no train split, so it cannot train; a .jsonl file of "
            f"problems serves eval, passk and sample; train on a task name: {', '.join(TASKS)}"
        )


__all__ = [
    "FORMATS",
    "MODES",
    "TASKS",
    "TOKEN_CLASSES",
    "ArithmeticConfig",
    "ArithmeticTask",
    "CountdownConfig",
    "CountdownTask",
    "Encoded",
    "Example",
    "Mixture",
    "RulesConfig",
    "RulesTask",
    "Score",
    "Sequence",
    "Task",
    "compose",
    "check_trainable",
    "encode_example",
    "encode_prompt",
    "example_rng",
    "distinct_examples",
    "examples",
    "get_task",
    "is_heldout",
    "random_baseline",
    "render_prompt",
    "stable_bucket",
    "token_classes",
]
