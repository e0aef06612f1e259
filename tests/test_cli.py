import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from regimescope.cli import main
from regimescope.organisms import build_organism, preset, save_model


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture(scope="module")
def nano_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "nano"
    model, tok = build_organism(preset("nano"), seed=0)
    save_model(model, tok, folder)
    return folder


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["pretrain", "--task", "nope"], "unknown task 'nope'; choose from: "),
        (
            ["pretrain", "--preset", "huge"],
            "unknown preset 'huge'; choose from: micro, nano, small",
        ),
        (["pretrain", "--steps", "0"], "steps must be a positive integer, got 0"),
        (["pretrain", "--steps", "many"], "Invalid value for '--steps'"),
        (
            ["eval", "/no/such/folder", "--task", "arithmetic"],
            "no model folder at '/no/such/folder'",
        ),
        (["sample", "/no/such/folder", "--task", "arithmetic"], "no model folder"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_exit_2(argv, expected, capsys, store):
    assert main(argv) == 2
    assert expected in one_error_line(capsys)
    assert not store.exists()  # nothing half-written


def test_bad_split_and_counts_on_real_model(nano_folder, capsys):
    assert main(["eval", str(nano_folder), "--task", "arithmetic", "--split", "bogus"]) == 2
    assert "has no split 'bogus'; choose from: train, test" in one_error_line(capsys)
    assert main(["sample", str(nano_folder), "--task", "arithmetic", "--n", "0"]) == 2
    assert "must be positive" in one_error_line(capsys)
    assert main(["eval", str(nano_folder), "--task", "arithmetic", "--top-p", "1.5"]) == 2
    assert "0 < top-p <= 1" in one_error_line(capsys)


@pytest.mark.parametrize("command", ["eval", "sample", "passk"])
def test_bad_device_is_one_line_exit_2(command, nano_folder, capsys):
    model = ["--model", str(nano_folder)] if command == "passk" else [str(nano_folder)]
    assert main([command, *model, "--task", "arithmetic", "--device", "tpu"]) == 2
    assert "unknown device 'tpu'; choose from: cpu, cuda, cuda:N, mps" in one_error_line(capsys)


def test_folder_without_weights_and_pickle_only(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")
    assert main(["eval", str(tmp_path), "--task", "arithmetic"]) == 2
    assert "holds no weights" in one_error_line(capsys)


def test_console_script_exit_code_and_single_line():
    exe = Path(sys.executable).parent / "regimescope"
    out = subprocess.run([str(exe), "pretrain", "--task", "nope"], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: unknown task 'nope'")
    assert len(out.stderr.strip().splitlines()) == 1


def test_pretrain_eval_sample_runs_end_to_end(tmp_path, store, capsys):
    out = tmp_path / "model"
    argv = [
        "pretrain",
        "--task",
        "arithmetic",
        "--preset",
        "nano",
        "--steps",
        "4",
        "--batch-size",
        "4",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert (out / "model.safetensors").is_file()
    result = tmp_path / "eval.json"
    assert (
        main(
            [
                "eval",
                str(out),
                "--task",
                "arithmetic",
                "--problems",
                "5",
                "--max-tokens",
                "8",
                "--json",
                str(result),
            ]
        )
        == 0
    )
    report = json.loads(result.read_text())
    assert report["problems"] == 5 and 0.0 <= report["accuracy"] <= 1.0
    assert (
        main(
            [
                "sample",
                str(out),
                "--task",
                "arithmetic",
                "--problems",
                "1",
                "--n",
                "2",
                "--max-tokens",
                "8",
            ]
        )
        == 0
    )
    assert main(["runs"]) == 0
    assert "pretrain" in capsys.readouterr().out
    assert (
        main(
            [
                "pretrain",
                "--task",
                "arithmetic",
                "--preset",
                "nano",
                "--steps",
                "4",
                "--batch-size",
                "4",
                "--out",
                str(out),
            ]
        )
        == 2
    )  # --out not empty
    assert "exists and is not empty" in one_error_line(capsys)


@pytest.mark.parametrize(("raised", "code"), [(typer.Abort, 130), (RuntimeError, None)])
def test_an_abort_exits_130_and_a_bug_keeps_its_own_traceback(raised, code, monkeypatch):
    from regimescope import cli

    app = typer.Typer()

    @app.command()
    def boom() -> None:
        raise raised()

    @app.command()
    def other() -> None: ...

    monkeypatch.setattr(cli, "app", app)
    if code is None:
        with pytest.raises(raised):
            cli.main(["boom"])
    else:
        assert cli.main(["boom"]) == code
