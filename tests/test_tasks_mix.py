"""Mixtures and sequences: proportions, determinism, dispatch, stage boundaries."""

from collections import Counter

import pytest

from regimescope.errors import BadInput
from regimescope.tasks import (
    TASKS,
    ArithmeticConfig,
    ArithmeticTask,
    CountdownTask,
    Mixture,
    RulesTask,
    Sequence,
)

ARITHMETIC, COUNTDOWN, RULES = TASKS["arithmetic"], TASKS["countdown"], TASKS["rules"]


def test_mixture_proportions_are_close_to_the_weights():
    mix = Mixture("m", [(ARITHMETIC, 3.0), (COUNTDOWN, 1.0)])
    counts = Counter(mix.member(i).name for i in range(4000))
    assert abs(counts["arithmetic"] / 4000 - 0.75) < 0.03
    test_counts = Counter(mix.member(i, "test", seed=5).name for i in range(4000))
    assert abs(test_counts["countdown"] / 4000 - 0.25) < 0.03


def test_mixture_example_is_the_members_own_example():
    mix = TASKS["mix"]
    seen = set()
    for i in range(60):
        example = mix.example(i, "test", seed=2)
        assert example == TASKS[example.task].example(i, "test", seed=2)
        seen.add(example.task)
    assert seen == {"arithmetic", "countdown", "rules"}


def test_mixture_is_deterministic_across_instances():
    a = Mixture("m", [(ArithmeticTask(), 1.0), (RulesTask(), 2.0)])
    b = Mixture("m", [(ArithmeticTask(), 1.0), (RulesTask(), 2.0)])
    assert [a.example(i) for i in range(40)] == [b.example(i) for i in range(40)]


def test_mixture_verify_dispatches_to_the_task_that_made_the_example():
    mix = TASKS["mix"]
    by_task = {}
    for i in range(30):
        example = mix.example(i)
        by_task.setdefault(example.task, example)
    arithmetic, countdown, rules = by_task["arithmetic"], by_task["countdown"], by_task["rules"]
    assert mix.verify(rules, rules.target + "\njunk").reward == 1.0
    assert mix.verify(rules, "maybe").details == {"in_label_space": False, "in_vocab": False}
    assert mix.verify(countdown, countdown.target).details["plan_ok"] is True
    assert mix.verify(arithmetic, "The answer is 999.").reward == 0.0
    assert mix.verify(arithmetic, "The answer is 999.").answer == "999"
    # a countdown completion scored as arithmetic: its "ans" line is no arithmetic marker
    assert mix.verify(arithmetic, countdown.target).answer is None


def test_mixture_rejects_examples_of_other_tasks():
    mix = Mixture("m", [(ARITHMETIC, 1.0), (COUNTDOWN, 1.0)])
    with pytest.raises(BadInput, match="unknown task 'rules'"):
        mix.verify(RULES.example(0), "yes")


def test_mixture_splits_formats_version_and_format_classifier():
    mix = TASKS["mix"]
    assert mix.splits == ("train", "test")
    assert mix.formats == ("code", "nl", "tagged")
    assert mix.version == "arithmetic@1.0*1+countdown@1.1*1+rules@1.0*1"
    assert mix.classify_format("<s>1+2=3</s><a>3</a>") == "tagged"
    assert mix.classify_format("plan 3*5\nans 15") is None
    assert Mixture("r", [(RULES, 1.0)]).splits == RULES.splits


def test_mixture_rejects_bad_members():
    with pytest.raises(ValueError, match="weight > 0"):
        Mixture("m", [(ARITHMETIC, 0.0)])
    with pytest.raises(ValueError, match="appears twice"):
        Mixture("m", [(ARITHMETIC, 1.0), (ARITHMETIC, 1.0)])
    other = ArithmeticTask(ArithmeticConfig(max_operand=5))
    with pytest.raises(ValueError, match="two different tasks are named 'arithmetic'"):
        Mixture("m", [(ARITHMETIC, 1.0), (other, 1.0)])


def test_sequence_stages_cover_their_index_ranges():
    seq = Sequence("c", [(COUNTDOWN, 3), (RULES, 2), (COUNTDOWN, 4)])
    assert len(seq) == 9
    names = [seq.example(i).task for i in range(9)]
    assert names == ["countdown"] * 3 + ["rules"] * 2 + ["countdown"] * 4
    assert [seq.stage(i) for i in (0, 2, 3, 4, 5, 8)] == [0, 0, 1, 1, 2, 2]
    # a recurring task continues its stream: no repeat of the first stage's examples
    assert seq.example(5) == COUNTDOWN.example(5) != COUNTDOWN.example(0)
    with pytest.raises(IndexError, match="outside the curriculum's 0..8"):
        seq.example(9)
    with pytest.raises(IndexError):
        seq.example(-1)


def test_sequence_dispatch_splits_and_version():
    seq = Sequence("c", [(ARITHMETIC, 2), (RULES, 2)])
    assert seq.splits == ("train", "test")
    assert seq.version == "arithmetic@1.0x2>rules@1.0x2"
    assert seq.formats == ("code", "nl", "tagged")
    for i in range(4):
        example = seq.example(i, "test")
        assert seq.verify(example, example.target).reward == 1.0
        assert seq.verify(example, "zzz").reward == 0.0
    with pytest.raises(BadInput, match="unknown split 'heldout_novel'"):
        seq.example(0, "heldout_novel")
    with pytest.raises(ValueError, match="count > 0"):
        Sequence("c", [(ARITHMETIC, 0)])


def test_mixture_and_sequence_examples_have_task_interface_fields():
    for task in (TASKS["mix"], Sequence("c", [(CountdownTask(), 5)])):
        example = task.example(1)
        assert task.verify(example, example.target).reward == 1.0
        assert isinstance(task.name, str) and isinstance(task.formats, tuple)
