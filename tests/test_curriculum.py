"""Curricula: sequences switch task at stage ends, mixtures interleave (regimes/curriculum.py)."""

import pytest

from regimescope.errors import BadInput
from regimescope.regimes.curriculum import (
    CurriculumConfig,
    build_curriculum,
    leaf_tasks,
    stage_steps,
    step_examples,
    validate_curriculum,
)
from regimescope.tasks import get_task


def test_stage_steps_split_by_weight_and_cover_every_step():
    assert stage_steps(10, (1.0, 1.0, 1.0)) == [4, 3, 3]
    assert stage_steps(10, (3.0, 1.0)) == [7, 3]
    assert stage_steps(2, (100.0, 1.0)) == [1, 1]  # every stage gets at least one step
    assert all(sum(stage_steps(n, (1.0, 2.0, 5.0))) == n for n in range(3, 40))


def test_a_sequence_trains_each_task_in_order_for_its_steps():
    cfg = CurriculumConfig(("countdown", "arithmetic"), order="sequence", weights=(3.0, 1.0))
    task = build_curriculum(cfg, steps=8, per_step=4)
    names = [{e.task for e in step_examples(task, s, 4, 0)} for s in range(8)]
    assert names == [{"countdown"}] * 6 + [{"arithmetic"}] * 2
    # a stage's examples are its task's own (the sequence adds no randomness)
    assert step_examples(task, 6, 4, 0)[0] == get_task("arithmetic").example(24, "train", 0)


def test_a_mixture_interleaves_tasks_in_every_stretch():
    cfg = CurriculumConfig(("countdown", "rules"), order="mixture")
    task = build_curriculum(cfg, steps=10, per_step=16)
    assert set(leaf_tasks(task)) == {"countdown", "rules"}
    for step in range(3):
        assert {e.task for e in step_examples(task, step, 16, 0)} == {"countdown", "rules"}


def test_one_task_is_the_task_itself():
    task = build_curriculum(CurriculumConfig(("countdown",)), steps=5, per_step=2)
    assert task is get_task("countdown") and leaf_tasks(task) == {"countdown": task}


@pytest.mark.parametrize(("cfg", "steps", "message"), [
    (CurriculumConfig(("countdown",), order="random"), 5, "unknown curriculum order 'random'"),
    (CurriculumConfig(()), 5, "at least one task"),
    (CurriculumConfig(("countdown", "countdown")), 5, "appears twice"),
    (CurriculumConfig(("countdown", "rules"), weights=(1.0, 0.0)), 5, "must be positive"),
    (CurriculumConfig(("mix", "rules")), 5, "not mixtures"),
    (CurriculumConfig(("countdown", "rules", "arithmetic")), 2, "needs at least as many steps"),
])  # fmt: skip
def test_bad_curricula(cfg, steps, message):
    with pytest.raises(BadInput, match=message):
        validate_curriculum(cfg, steps)
