"""Arithmetic word problems: formats, held-out split, verifier, token classes."""

from collections import Counter

import pytest

from regimescope.errors import BadInput
from regimescope.tasks import ArithmeticConfig, ArithmeticTask, Example, compose, is_heldout
from regimescope.tasks.arithmetic import RENDERERS, Problem, classify_format

TASK = ArithmeticTask()
SHORT = {"p": "plan", "e": "exec", "f": "format", "a": "answer"}
PROBLEM = Problem((7, 5, 3), ("+", "-"), "Ann has 7 pens. She gets 5 more and gives away 3.")


def example_with(fmt="code", answer="9", target=""):
    """A hand-made example of the problem 7+5-3 (only answer and fmt matter to verify)."""
    return Example("arithmetic", "train", 0, PROBLEM.text, target, answer, (), fmt)


@pytest.mark.parametrize(
    ("fmt", "target", "classes"),
    [
        ("code", "a=7;b=5;c=3;r=a+b-c;print(r)#9",
         "ffef" * 3 + "ff" + "ppppp" + "f" * 10 + "a"),
        ("nl", "7 plus 5 is 12. 12 minus 3 is 9. The answer is 9.",
         "efppppfeffffeeffeefpppppfeffffeff" + "f" * 14 + "af"),
        ("tagged", "<s>7+5=12</s><s>12-3=9</s><a>9</a>",
         "fffepefeeffff" + "fffeepefeffff" + "fffaffff"),
    ],
)  # fmt: skip
def test_gold_targets_and_their_classes_by_hand(fmt, target, classes):
    text, char_classes = compose(RENDERERS[fmt](PROBLEM))
    assert text == target
    assert char_classes == tuple(SHORT[c] for c in classes)


@pytest.mark.parametrize(
    ("completion", "reward", "answer"),
    [
        ("a=7;b=5;c=3;r=a+b-c;print(r)#9", 1.0, "9"),
        ("7 plus 5 is 12. 12 minus 3 is 9. The answer is 9.", 1.0, "9"),
        ("<s>7+5=12</s><s>12-3=9</s><a>9</a>", 1.0, "9"),
        ("<s>7+5=12</s><s>12-3=9</s><a>9</a>Bob has 4 cups. How", 1.0, "9"),  # trailing junk
        ("7 plus 5 is 12. The answer is 9.\nThe answer is 12.", 1.0, "9"),  # first marker counts
        ("a=7;b=5;c=3;r=a+b-c;print(r)#10", 0.0, "10"),  # wrong answer
        ("<s>7+5=12</s><s>12-3=9</s>", 0.0, None),  # no final answer
        ("7 plus 5 is 12. 12 minus 3 is 9.", 0.0, None),  # last integer is not an answer
        ("", 0.0, None),
        ("<a>09</a>", 1.0, "9"),  # answers compare as integers
    ],
)
def test_verify_hand_written_completions(completion, reward, answer):
    score = TASK.verify(example_with(), completion)
    assert (score.reward, score.answer) == (reward, answer)


def test_verify_reports_format_but_does_not_reward_it():
    score = TASK.verify(example_with(fmt="code"), "<s>7+5=12</s><s>12-3=9</s><a>9</a>")
    assert score.reward == 1.0
    assert score.details == {"format": "tagged", "gold_format": "code"}


@pytest.mark.parametrize(
    ("completion", "fmt"),
    [
        ("a=7;b=5;r=a+b;print(r)#12", "code"),
        ("x=3", "code"),
        ("7 plus 5 is 12. The answer is 12.", "nl"),
        ("The answer is 4.", "nl"),
        ("<s>7+5=12</s><a>12</a>", "tagged"),
        ("<a>12</a>", "tagged"),
        ("<s>7+5=12</s> 12 minus 3 is 9. a=1", "tagged"),  # earliest marker wins
        ("7 minus 5 <a>2</a>", "nl"),
        ("12", None),
        ("Ann has 7 pens.", None),
        ("", None),
    ],
)
def test_classify_format_hand_written(completion, fmt):
    assert classify_format(completion) == fmt
    assert TASK.classify_format(completion) == fmt


def test_train_and_test_problems_never_overlap():
    train = {TASK.example(i).meta["expression"] for i in range(3000)}
    test = {TASK.example(i, "test").meta["expression"] for i in range(1500)}
    assert len(train) > 800 and len(test) > 150
    assert not train & test
    assert all(is_heldout(key, 0.1) for key in test)
    assert not any(is_heldout(key, 0.1) for key in train)


def test_problems_stay_small_and_non_negative():
    for example in (TASK.example(i, split) for i in range(1000) for split in TASK.splits):
        numbers, ops = example.meta["numbers"], example.meta["ops"]
        assert 1 <= len(ops) <= 2 and len(numbers) == len(ops) + 1
        assert all(1 <= n <= 9 for n in numbers) and ops.count("*") <= 1
        assert 0 <= int(example.answer) <= 5 * 5 + 9


def test_default_formats_are_equally_likely():
    counts = Counter(TASK.example(i).fmt for i in range(3000))
    assert set(counts) == {"code", "nl", "tagged"}
    assert all(abs(n / 3000 - 1 / 3) < 0.03 for n in counts.values())


def test_format_weights_change_formats_but_not_problems():
    skewed = ArithmeticTask(ArithmeticConfig(format_weights=(0.0, 3.0, 1.0)))
    counts = Counter(skewed.example(i).fmt for i in range(2000))
    assert counts["code"] == 0 and abs(counts["nl"] / 2000 - 0.75) < 0.03
    for i in range(50):
        assert skewed.example(i).prompt == TASK.example(i).prompt


def test_fmt_argument_renders_the_same_problem_in_each_format():
    rendered = [TASK.example(4, "test", seed=1, fmt=f) for f in ("code", "nl", "tagged")]
    assert len({e.prompt for e in rendered}) == 1 and len({e.answer for e in rendered}) == 1
    assert [e.fmt for e in rendered] == ["code", "nl", "tagged"]
    assert [classify_format(e.target) for e in rendered] == ["code", "nl", "tagged"]
    with pytest.raises(BadInput, match="unknown format 'latex'"):
        TASK.example(0, fmt="latex")


def test_bad_config_is_bad_input():
    with pytest.raises(BadInput, match="format_weights"):
        ArithmeticConfig(format_weights=(1.0, 1.0))
    with pytest.raises(BadInput, match="positive weight"):
        ArithmeticConfig(format_weights=(0.0, 0.0, 0.0))
    with pytest.raises(BadInput, match="heldout_fraction"):
        ArithmeticConfig(heldout_fraction=1.0)
