from regimescope.tasks.base import distinct_examples, is_heldout
from regimescope.tasks.creative import (
    HELDOUT_FRACTION,
    NAME,
    CreativeTask,
    constraint_ok,
    novelty,
    spec_key,
)

TASK = CreativeTask()


def test_every_gold_line_meets_its_constraints():
    for split in ("train", "test"):
        for i in range(300):
            e = TASK.example(i, split)
            assert TASK.verify(e, e.target).reward == 1.0, (e.prompt, e.target)
            assert (
                e.prompt == spec_key(**{k: e.meta[k] for k in ("mode", "letter", "length")}) + "\n"
            )


def test_constraints_each_fail_on_their_own():
    assert constraint_ok("=", "c", 5, "acbda")
    assert not constraint_ok("=", "c", 5, "acbdb")  # first != last
    assert constraint_ok("+", "c", 5, "acbdb")
    assert not constraint_ok("+", "c", 5, "abbdb")  # no c
    assert not constraint_ok("+", "c", 5, "acbd")  # length
    assert not constraint_ok("+", "c", 5, "acbdz")  # off the alphabet


def test_copies_earn_half_and_distinct_valid_lines_earn_full_reward():
    e = next(TASK.example(i) for i in range(100) if TASK.example(i).meta["mode"] == "+")
    gold = e.target
    assert TASK.score_group(e, [gold, gold, gold]) == [0.5, 0.5, 0.5]
    assert TASK.score_group(e, [gold]) == [1.0]
    bad = "z" * e.meta["length"]
    assert TASK.score_group(e, [bad, gold])[0] == 0.0  # novelty is never paid on junk


def test_a_one_letter_perturbation_keeps_novelty_low():
    lines = ["abcdefgh", "abcdefga"]
    assert novelty(lines) == [1 / 7, 1 / 7]
    assert novelty(["abc", "abd", "efg"]) == [0.5, 0.5, 1.0]


def test_test_constraints_are_never_trained_on():
    def key(e):
        return f"{NAME}|{spec_key(e.meta['mode'], e.meta['letter'], e.meta['length'])}"

    train = {key(TASK.example(i)) for i in range(400)}
    test = {key(e) for e in distinct_examples(TASK, 28, "test")}
    assert not train & test
    assert all(is_heldout(k, HELDOUT_FRACTION) for k in test)
