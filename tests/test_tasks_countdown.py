"""Countdown: left-to-right plans, gold choice, held-out splits, plan vs execution checks."""

import pytest

from regimescope.errors import BadInput
from regimescope.tasks import (
    CountdownConfig,
    CountdownTask,
    Example,
    compose,
    get_task,
    is_heldout,
)
from regimescope.tasks.countdown import (
    key_split,
    parse_plan,
    run_plan,
    solutions,
    target_pieces,
)

TASK = CountdownTask()
SHORT = {"p": "plan", "e": "exec", "f": "format", "a": "answer"}
GOLD = "plan 3*5+7\n3*5=15\n15+7=22\nans 22"


def problem(numbers=(3, 5, 7), target=22):
    """A hand-made example: only meta (numbers, target) and answer matter to verify."""
    meta = {"numbers": numbers, "target": target}
    return Example("countdown", "train", 0, "", "", str(target), (), None, meta)


def test_plans_evaluate_left_to_right():
    assert run_plan(parse_plan("3+5*7")) == [3, 8, 56]  # (3+5)*7, not 3+35
    assert run_plan(parse_plan("9-2*3-1")) == [9, 7, 21, 20]
    assert parse_plan("3*5+7") == ((3, 5, 7), ("*", "+"))
    for bad in ("", "3*", "*3", "3 + 5", "3/5", "3**5", "(3+5)*7"):
        assert parse_plan(bad) is None


def test_gold_target_and_classes_by_hand():
    target, classes = compose(target_pieces(parse_plan("3*5+7")))
    assert target == GOLD
    expected = "fffff" + "ppppp" + "f" + "eeefeef" + "eeeefeef" + "ffff" + "aa"
    assert classes == tuple(SHORT[c] for c in expected)


def test_canonical_gold_is_the_first_solution_and_unique_per_problem():
    assert next(solutions((3, 5, 7), 22, 99)) == ((3, 5, 7), ("*", "+"))
    assert [p for p in solutions((7, 5, 3), 22, 99)][:2] == [
        ((3, 5, 7), ("*", "+")),
        ((5, 3, 7), ("*", "+")),
    ]
    gold_by_prompt = {}
    for example in (TASK.example(i) for i in range(2000)):
        assert gold_by_prompt.setdefault(example.prompt, example.target) == example.target


def test_sampled_gold_keeps_the_problems_and_varies_plans():
    sampled = CountdownTask(CountdownConfig(gold_plan="sampled"))
    plans_by_prompt = {}
    for i in range(2000):
        example = sampled.example(i)
        assert example.prompt == TASK.example(i).prompt
        assert sampled.verify(example, example.target).details["exec_ok"] is True
        plans_by_prompt.setdefault(example.prompt, set()).add(example.meta["plan"])
    assert any(len(plans) > 1 for plans in plans_by_prompt.values())


# Recorded from version 1.0 (splits train and test), before validation was carved out of
# the train keys: the test problems must not move, so verdicts stay comparable across versions.
TEST_V1_0 = {
    (): [
        "nums 4 4 9 -> 40\n",
        "nums 4 9 9 -> 72\n",
        "nums 5 6 9 -> 10\n",
        "nums 2 4 4 -> 10\n",
        "nums 1 6 6 -> 13\n",
    ],
    (("n_numbers", 4), ("max_number", 6), ("max_value", 40)): [
        "nums 2 5 5 6 -> 12\n",
        "nums 1 3 4 6 -> 2\n",
        "nums 1 1 2 3 -> 9\n",
        "nums 2 3 4 5 -> 8\n",
        "nums 4 4 5 5 -> 20\n",
    ],
}


@pytest.mark.parametrize("config", list(TEST_V1_0))
def test_test_problems_are_those_of_version_1_0(config):
    task = CountdownTask(CountdownConfig(**dict(config)))
    assert [task.example(i, "test").prompt for i in range(5)] == TEST_V1_0[config]


def test_train_validation_and_test_are_pairwise_disjoint():
    assert TASK.splits == ("train", "validation", "test")
    keys = {
        split: {TASK.example(i, split).meta["key"] for i in range(n)}
        for split, n in (("train", 3000), ("validation", 1500), ("test", 1500))
    }
    assert len(keys["train"]) > 800 and len(keys["validation"]) > 40 and len(keys["test"]) > 40
    assert not keys["train"] & keys["validation"]
    assert not keys["train"] & keys["test"]
    assert not keys["validation"] & keys["test"]
    assert all(is_heldout(key, 0.1) for key in keys["test"])
    assert all(is_heldout(key, 0.2) and not is_heldout(key, 0.1) for key in keys["validation"])
    assert all(key_split(key, TASK.config) == "train" for key in keys["train"])


def test_validation_and_test_examples_are_deterministic():
    for split in ("validation", "test"):
        first = [TASK.example(i, split) for i in range(50)]
        again = [CountdownTask().example(i, split) for i in range(50)]
        assert first == again
        assert all(example.split == split for example in first)
        assert len({example.prompt for example in first}) > 10


def test_problems_respect_the_config():
    four = CountdownTask(CountdownConfig(n_numbers=4, max_number=6, max_value=40))
    for example in (four.example(i, split) for i in range(500) for split in four.splits):
        numbers, target = example.meta["numbers"], example.meta["target"]
        assert len(numbers) == 4 and all(1 <= n <= 6 for n in numbers)
        assert 1 <= target <= 40 and target not in numbers
        assert example.prompt == f"nums {' '.join(map(str, numbers))} -> {target}\n"


CASES = [
    # completion, reward, plan_ok, exec_ok
    (GOLD, 1.0, True, True),
    (GOLD + "\nnums 1 2 3 -> 6\nplan 1+2+3", 1.0, True, True),  # trailing junk
    ("plan 5*3+7\n5*3=15\n15+7=22\nans 22", 1.0, True, True),  # another valid plan
    ("plan 5*5-3\n5*5=25\n25-3=22\nans 22", 0.0, False, True),  # uses 5 twice
    ("plan 2*11\n2*11=22\nans 22", 0.0, False, True),  # numbers not given
    ("plan 3*5+7\n3*5=16\n16+7=23\nans 22", 1.0, True, False),  # right plan, wrong arithmetic
    ("plan 3*5+7\n3*5=15\n15+7=22\nans 23", 0.0, True, True),  # wrong answer
    ("plan 3*5+7\n3*5=15\n15+5=20\nans 22", 1.0, True, False),  # steps do not follow the plan
    ("plan 3*5+7\n3*5=15\nans 22", 1.0, True, False),  # a step missing
    ("plan 3+5*7\n3+5=8\n8*7=56\nans 56", 0.0, False, True),  # misses the target
    ("plan 3*5+7\n3*5=15\n15+7=22", 0.0, True, True),  # no answer line
    ("ans 22", 0.0, False, False),  # no plan
    ("plan 3*5+\nans 22", 0.0, False, False),  # unparseable plan
    ("", 0.0, False, False),
]


@pytest.mark.parametrize(("completion", "reward", "plan_ok", "exec_ok"), CASES)
def test_verify_hand_written_completions(completion, reward, plan_ok, exec_ok):
    score = TASK.verify(problem(), completion)
    assert score.reward == reward
    assert (score.details["plan_ok"], score.details["exec_ok"]) == (plan_ok, exec_ok)


@pytest.mark.parametrize(("completion", "reward", "plan_ok", "exec_ok"), CASES)
def test_countdown_steps_rewards_only_when_the_steps_are_right_too(
    completion, reward, plan_ok, exec_ok
):
    score = get_task("countdown-steps").verify(problem(), completion)
    assert score.reward == float(reward == 1.0 and exec_ok)
    assert (score.details["plan_ok"], score.details["exec_ok"]) == (plan_ok, exec_ok)


def test_countdown_steps_poses_the_same_problems():
    plain, checked = get_task("countdown"), get_task("countdown-steps")
    for split in ("train", "validation", "test"):
        for index in range(20):
            a, b = plain.example(index, split), checked.example(index, split)
            assert (a.prompt, a.target, a.meta) == (b.prompt, b.target, b.meta)


def test_a_number_given_twice_may_be_used_twice():
    score = TASK.verify(problem((4, 4, 8), 16), "plan 4+4+8\n4+4=8\n8+8=16\nans 16")
    assert score.reward == 1.0 and score.answer == "16"
    score = TASK.verify(problem((4, 4, 8), 12), "plan 4+4+4\n4+4=8\n8+4=12\nans 12")
    assert score.reward == 0.0 and not score.details["plan_ok"]


def test_negative_intermediate_values_are_allowed_in_completions():
    completion = "plan 3-5+7\n3-5=-2\n-2+7=5\nans 5"
    score = TASK.verify(problem((3, 5, 7), 5), completion)
    assert score.reward == 1.0 and score.details["exec_ok"]


def test_bad_config_is_bad_input():
    with pytest.raises(BadInput, match="unknown gold_plan 'best'"):
        CountdownConfig(gold_plan="best")
    with pytest.raises(BadInput, match="n_numbers"):
        CountdownConfig(n_numbers=1)
    with pytest.raises(BadInput, match="validation_fraction"):
        CountdownConfig(validation_fraction=0.95)
