"""String-function compositions: the functions, the chain target, held-out split, verifier."""

import pytest

from regimescope.errors import BadInput
from regimescope.tasks import TASKS, Example, compose, is_heldout
from regimescope.tasks.strings import (
    FAMILIES,
    FAMILY_OF,
    FUNCTIONS,
    Problem,
    StringsConfig,
    StringsTask,
    read_completion,
    target_pieces,
)

SHORT = {"p": "plan", "e": "exec", "f": "format", "a": "answer"}


def test_every_function_by_hand():
    expected = {
        "K": "dcba", "L": "bcda", "M": "bcde", "N": "badc",
        "P": "dabc", "Q": "habc", "R": "dbca", "S": "cdab",
        "U": "acbd", "V": "defg", "W": "adcb", "X": "bacd",
    }  # fmt: skip
    assert {name: fn("abcd") for name, fn in FUNCTIONS.items()} == expected
    assert FUNCTIONS["N"]("abcde") == "badce" and FUNCTIONS["S"]("abcde") == "cdeab"
    assert FUNCTIONS["M"]("gh") == "ha" and FUNCTIONS["V"]("fgh") == "abc"  # shifts wrap


def test_families_are_disjoint_and_functions_distinct_on_a_string():
    assert sorted(FAMILIES) == ["A", "B", "C"] and all(len(f) == 4 for f in FAMILIES.values())
    assert len(FAMILY_OF) == 12
    outputs = [fn("abcd") for fn in FUNCTIONS.values()]
    assert len(set(outputs)) == len(outputs)  # no two functions agree on a generic input


def test_chain_target_and_classes_by_hand():
    problem = Problem(("K", "M"), "cfab")  # M(K(cfab)): reverse, then shift +1
    assert problem.expression == "M(K(cfab))"
    target, classes = compose(target_pieces(problem))
    assert target == "K bafc\nM cbgd\nans cbgd"
    expected = "pfeeeef" + "pfeeeef" + "ffff" + "aaaa"
    assert classes == tuple(SHORT[c] for c in expected)


def test_examples_follow_the_config():
    task = StringsTask(StringsConfig(families=("B",), depths=(3,), min_len=3, max_len=5))
    lengths = set()
    for example in (task.example(i, split) for i in range(300) for split in task.splits):
        functions = example.meta["functions"]
        assert len(functions) == 3 and all(FAMILY_OF[f] == "B" for f in functions)
        assert all(a != b for a, b in zip(functions, functions[1:], strict=False))
        assert example.prompt == example.meta["key"] + "\n"
        lengths.add(len(example.meta["input"]))
    assert lengths == {3, 4, 5}


def test_train_and_test_problems_never_overlap():
    task = TASKS["strings-depth2-a"]
    train = {task.example(i).meta["key"] for i in range(3000)}
    test = {task.example(i, "test").meta["key"] for i in range(600)}
    assert len(test) > 500 and not train & test
    assert all(is_heldout(key, 0.1) for key in test)


def test_pretraining_holds_compositions_of_family_a_only():
    task = TASKS["strings-pretrain"]
    seen = {(e.meta["family"], e.meta["depth"]) for e in (task.example(i) for i in range(400))}
    assert seen == {("A", 1), ("B", 1), ("A", 2)}
    deep = sum(task.example(i).meta["depth"] == 2 for i in range(1000))
    assert 150 < deep < 250  # the 20% composition share


CASES = [
    # completion, reward, plan_ok, steps_ok
    ("K bafc\nM cbgd\nans cbgd", 1.0, True, True),
    ("K bafc\nM cbgd\nans cbgd\nK(abcd)\nK dcba", 1.0, True, True),  # junk after the answer
    ("M dgbc\nK cbgd\nans cbgd", 1.0, False, False),  # right answer, wrong chain: visible
    ("K bafc\nM cbga\nans cbga", 0.0, True, False),  # a wrong step
    ("K bafc\nM cbgd", 0.0, True, True),  # no answer line
    ("ans cbg", 0.0, False, False),
    ("", 0.0, False, False),
]


@pytest.mark.parametrize(("completion", "reward", "plan_ok", "steps_ok"), CASES)
def test_verifier(completion, reward, plan_ok, steps_ok):
    example = Example(
        "strings",
        "test",
        0,
        "M(K(cfab))\n",
        "",
        "cbgd",
        (),
        None,
        {"functions": ("K", "M"), "values": ("bafc", "cbgd")},
    )
    score = StringsTask().verify(example, completion)
    assert score.reward == reward
    assert score.details == {"plan_ok": plan_ok, "steps_ok": steps_ok}


def test_read_completion_takes_the_first_answer_line():
    assert read_completion("K ab\nans ba\nans cc") == ([("K", "ab")], "ba")
    assert read_completion("K ab") == ([("K", "ab")], None)


def test_registered_variants():
    names = {n for n in TASKS if n.startswith("strings")}
    expected = {f"strings-depth{d}-{f}" for d in (2, 3, 4) for f in "abc"}
    expected |= {"strings-atomic", "strings-pretrain", "strings-pretrain-sparse"}
    expected |= {f"strings-atomic-{f}" for f in "abc"}
    assert names == expected
    for name, share in (("strings-pretrain", 0.2), ("strings-pretrain-sparse", 0.03)):
        drawn = [TASKS[name].example(i).meta["depth"] for i in range(4000)]
        assert abs(drawn.count(2) / len(drawn) - share) < 0.02  # compositions of A, at share
    for family in "abc":
        example = TASKS[f"strings-depth3-{family}"].example(5, "test")
        assert example.meta["depth"] == 3 and example.meta["family"] == family.upper()
    atomic = {TASKS["strings-atomic"].example(i).meta["family"] for i in range(100)}
    assert atomic == {"A", "B"}  # family C's atomic skills are never taught


@pytest.mark.parametrize(
    "kwargs",
    [
        {"families": ("D",)},
        {"depths": (0,)},
        {"min_len": 5, "max_len": 4},
        {"heldout_fraction": 1.0},
    ],
)
def test_bad_configs(kwargs):
    with pytest.raises(BadInput):
        StringsConfig(**kwargs)
