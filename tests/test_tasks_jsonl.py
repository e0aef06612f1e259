"""Bring-your-own problems: a JSONL file wherever a task name is accepted (tasks.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from regimescope.cli import main
from regimescope.errors import BadInput
from regimescope.organisms import build_organism, preset, save_model
from regimescope.tasks import get_task
from regimescope.tasks.base import distinct_examples

LINES = [
    {"prompt": "What is 2+3? Answer with a number.", "answer": 5, "id": "add"},
    {"prompt": "Capital of France?", "answer": "Paris"},
    {"prompt": "Name a prime above 10.", "answer": "1[1379]", "verifier": "regex"},
    {"prompt": "Expand (x+1)^2.", "answer": "x^2+2x+1", "verifier": "math", "level": 2},
]


def write(path: Path, lines) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    return err


@pytest.fixture
def problems(tmp_path) -> Path:
    return write(tmp_path / "problems.jsonl", LINES)


def test_jsonl_task_examples_verifiers_and_version(problems, tmp_path):
    task = get_task(str(problems))
    assert task.splits == ("test",) and task.size == 4 and task.version.startswith("jsonl-")
    items = distinct_examples(task, 4, "test")
    assert [e.meta["verifier"] for e in items] == ["numeric", "exact", "regex", "math"]
    assert items[0].meta["id"] == "add" and items[1].meta["id"] == "2"  # default: line number
    assert items[3].meta["level"] == 2 and items[0].target == ""  # no gold completion
    verdicts = [
        ("so 2 + 3 = 5", 1.0),
        ("The answer is Paris.", 1.0),
        ("Answer: 13", 1.0),
        ("The answer is \\boxed{(x+1)^2}", 1.0),
    ]
    for example, (completion, reward) in zip(items, verdicts, strict=True):
        assert task.verify(example, completion).reward == reward, completion
    assert task.verify(items[2], "Answer: 12").reward == 0.0
    assert task.verify(items[0], "Step #5: the answer is 4").reward == 0.0
    changed = write(tmp_path / "changed.jsonl", [*LINES[:3], {"prompt": "1+1?", "answer": 2}])
    assert get_task(str(changed)).version != task.version  # keyed by the problems
    with pytest.raises(BadInput, match="holds 4 problems; ask for at most 4"):
        distinct_examples(task, 5, "test")
    with pytest.raises(BadInput, match="has no split 'train'; choose from: test"):
        task.example(0, "train")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"prompt": "a", "answer": 1', "line 2: not valid JSON"),
        ({"prompt": "a"}, "line 2: missing 'answer'; need 'prompt' (text), 'answer'"),
        (
            {"prompt": "a", "answer": 1, "verifier": "fuzzy"},
            "line 2: unknown verifier 'fuzzy'; choose from: exact, numeric, regex, math",
        ),
        (
            {"prompt": "a", "answer": "(", "verifier": "regex"},
            "line 2: 'answer' is not a valid regex",
        ),
        (
            {"prompt": "What is 2+3? Answer with a number.", "answer": 5},
            "line 2: repeats the prompt of line 1",
        ),
        ({"prompt": "a", "answer": [1]}, "line 2: 'answer' must be text or a number"),
    ],
)
def test_malformed_jsonl_is_one_line_exit_2(tmp_path, capsys, line, expected):
    path = write(tmp_path / "bad.jsonl", [LINES[0], line])
    assert main(["eval", str(tmp_path / "no-model"), "--task", str(path)]) == 2
    assert expected in one_error_line(capsys)


def test_unknown_task_names_the_jsonl_choice(tmp_path, capsys):
    assert main(["eval", str(tmp_path), "--task", "nope"]) == 2
    assert "or the path of a .jsonl file of problems" in one_error_line(capsys)
    assert main(["passk", "--model", str(tmp_path), "--task", str(tmp_path / "x.jsonl")]) == 2
    assert "x.jsonl' does not exist; give an existing .jsonl file" in one_error_line(capsys)


@pytest.mark.parametrize("command", ["pretrain", "sft", "rl"])
def test_a_jsonl_file_does_not_train(command, problems, tmp_path, capsys, store):
    model = [] if command == "pretrain" else [str(tmp_path / "no-model")]
    assert main([command, *model, "--task", str(problems), "--steps", "1"]) == 2
    assert "has no train split, so it cannot train" in one_error_line(capsys)
    assert not store.exists()  # nothing half-written


def test_jsonl_on_an_organism_through_eval_sample_and_passk(problems, tmp_path, capsys):
    folder = tmp_path / "nano"
    save_model(*build_organism(preset("nano"), seed=0), folder)
    out = tmp_path / "eval.json"
    argv = ["eval", str(folder), "--task", str(problems), "--max-tokens", "4", "--json", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["problems"] == 4 and report["version"].startswith("jsonl-")  # all 4 by default
    assert [s["gold"] for s in report["shown"]] == ["5", "Paris", "1[1379]", "x^2+2x+1"]
    assert (
        main(["sample", str(folder), "--task", str(problems), "--n", "1", "--max-tokens", "4"]) == 0
    )
    assert "-> answer" in capsys.readouterr().out
    out = tmp_path / "passk.json"
    argv = ["passk", "--model", str(folder), "--task", str(problems), "--n", "2"]
    assert main([*argv, "--max-tokens", "4", "--ppl-samples", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert len(result["models"][0]["correct"]) == 4 and "answer" in result["shown"][0]
    capsys.readouterr()
    assert main([*argv, "--problems", "5"]) == 2
    assert "holds 4 problems; ask for at most 4" in one_error_line(capsys)
