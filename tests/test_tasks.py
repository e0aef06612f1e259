"""Invariants every registered task keeps: registry, determinism, gold verifies, encoding."""

import inspect
import json
import os
import string
import subprocess
import sys

import pytest

from regimescope.errors import BadInput
from regimescope.organisms import build_tokenizer
from regimescope.tasks import (
    TASKS,
    TOKEN_CLASSES,
    ArithmeticTask,
    CountdownTask,
    Example,
    RulesTask,
    compose,
    encode_example,
    get_task,
)

PRINTABLE = set(string.printable) - set("\t\r\x0b\x0c")


def fingerprint(task, n=30):
    """Prompt, target and answer of the first n examples of every split, as JSON."""
    rows = [
        [e.prompt, e.target, e.answer, e.fmt]
        for split in task.splits
        for e in (task.example(i, split, seed=3) for i in range(n))
    ]
    return json.dumps(rows)


def test_registry_names_and_unknown_name():
    assert {"arithmetic", "countdown", "rules", "mix"} <= set(TASKS)
    for name, task in TASKS.items():
        assert get_task(name) is task and task.name == name
        assert task.splits[0] == "train" and task.version
    with pytest.raises(BadInput, match="unknown task 'algebra'; choose from: arithmetic, "):
        get_task("algebra")


def test_unknown_split_is_bad_input():
    with pytest.raises(BadInput, match="unknown split 'valid'"):
        TASKS["arithmetic"].example(0, "valid")


@pytest.mark.parametrize("make", [ArithmeticTask, CountdownTask, RulesTask])
def test_fresh_instances_make_identical_examples(make):
    registered = TASKS[make().name]
    assert fingerprint(make()) == fingerprint(registered)
    assert make().example(7, seed=1) == registered.example(7, seed=1)


def test_examples_are_identical_in_another_process():
    """Nothing depends on Python's per-process string hashing (PYTHONHASHSEED)."""
    code = "import json\nfrom regimescope.tasks import TASKS\n" + inspect.getsource(fingerprint)
    code += "print(fingerprint(TASKS['mix']) + fingerprint(TASKS['rules']))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    here = fingerprint(TASKS["mix"]) + fingerprint(TASKS["rules"])
    assert out.stdout.strip() == here


@pytest.mark.parametrize("name", sorted(TASKS))
def test_seeds_and_indices_change_examples(name):
    task = TASKS[name]
    by_seed = {task.example(0, seed=s).prompt for s in range(10)}
    by_index = {task.example(i).prompt for i in range(10)}
    assert len(by_seed) > 5 and len(by_index) > 5


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_gold_target_verifies_in_every_split(name):
    task = TASKS[name]
    for split in task.splits:
        for i in range(150):
            example = task.example(i, split, seed=i % 3)
            score = task.verify(example, example.target)
            assert score.reward == 1.0, (split, i, example.target)
            assert score.answer == example.answer
            assert example.split == split and example.index == i


@pytest.mark.parametrize("name", sorted(TASKS))
def test_examples_fit_the_organism_alphabet_and_context(name):
    task = TASKS[name]
    for split in task.splits:
        for example in (task.example(i, split) for i in range(200)):
            text = example.prompt + example.target
            assert set(text) <= PRINTABLE
            assert len(text) <= 200
            assert len(example.target_classes) == len(example.target)
            assert set(example.target_classes) <= set(TOKEN_CLASSES)
            assert task.classify_format(example.target) == example.fmt


def test_token_classes_follow_the_tokenizer_tokens():
    tokenizer = build_tokenizer()
    target, classes = compose(
        [
            ("plan ", "format"),
            ("3*5", "plan"),
            ("\n", "format"),
            ("ans ", "format"),
            ("15", "answer"),
        ]
    )
    example = Example("hand", "train", 0, "nums 3 5 -> 15\n", target, "15", classes)
    encoded = encode_example(tokenizer, example)
    prompt_len = 1 + len(example.prompt)  # BOS + one token per character
    assert encoded.class_ids[:prompt_len] == [-1] * prompt_len
    assert encoded.completion_mask == [0] * prompt_len + [1] * (len(target) + 1)
    tokens = tokenizer.convert_ids_to_tokens(encoded.input_ids[prompt_len:])
    named = [TOKEN_CLASSES[c] for c in encoded.class_ids[prompt_len:]]
    assert list(zip(tokens, named, strict=True))[4:8] == [
        (" ", "format"),
        ("3", "plan"),
        ("*", "plan"),
        ("5", "plan"),
    ]
    assert named[-3:] == ["answer", "answer", "format"] and tokens[-1] == "<eos>"


@pytest.mark.parametrize("name", ["arithmetic", "countdown", "rules"])
def test_encoded_gold_classes_match_the_per_character_classes(name):
    tokenizer = build_tokenizer()
    for example in (TASKS[name].example(i) for i in range(20)):
        encoded = encode_example(tokenizer, example)
        completion = [c for c in encoded.class_ids if c >= 0]
        assert [TOKEN_CLASSES[c] for c in completion[:-1]] == list(example.target_classes)
        assert "answer" in example.target_classes


def test_distinct_examples_never_count_a_problem_twice():
    from regimescope.errors import BadInput
    from regimescope.tasks import distinct_examples, examples, get_task

    countdown = get_task("countdown")
    stream = examples(countdown, 100, "test")
    assert len({e.prompt for e in stream}) < 80  # a small split's stream repeats problems
    picked = distinct_examples(countdown, 100, "test")
    assert len({e.prompt for e in picked}) == 100
    assert picked[0] == stream[0] and [e.index for e in picked] == sorted(e.index for e in picked)
    with pytest.raises(BadInput, match="holds 140 distinct problems; ask for at most 140"):
        distinct_examples(countdown, 200, "test")
