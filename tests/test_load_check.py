"""The one loader check: every command that loads a model refuses a broken folder with one
complete line and exit code 2, before anything is written.

Each broken folder is a nano organism with one thing wrong; every case runs through every
command that loads a model (sample, eval, passk, sft, rl). One case runs on the real model.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from regimescope.cli import main
from regimescope.errors import BadInput
from regimescope.organisms import build_organism, preset, save_model
from regimescope.organisms.load import check_model, load_model, one_line


def edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | changes))


def truncate(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def garbage_header(folder: Path) -> None:
    (folder / "model.safetensors").write_bytes((40).to_bytes(8, "little") + b"{not json" * 20)


def shard_missing(folder: Path) -> None:
    """A sharded layout whose index names a second shard that is not there."""
    names = list(load_file(str(folder / "model.safetensors")))
    (folder / "model.safetensors").rename(folder / "model-00001-of-00002.safetensors")
    weight_map = {name: "model-00001-of-00002.safetensors" for name in names}
    weight_map[names[-1]] = "model-00002-of-00002.safetensors"
    index = {"metadata": {}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))


def no_tokenizer(folder: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()


def rewrite_weights(folder: Path, change: Callable[[dict], dict]) -> None:
    tensors = load_file(str(folder / "model.safetensors"))
    save_file(change(tensors), str(folder / "model.safetensors"), metadata={"format": "pt"})


def int8_weights(folder: Path) -> None:
    rewrite_weights(folder, lambda t: {k: v.to(torch.int8) for k, v in t.items()})


def renamed_tensor(folder: Path) -> None:
    """A tensor under a name the model does not know: caught by transformers' own report."""
    rewrite_weights(folder, lambda t: {("x." + k if "embed" in k else k): v for k, v in t.items()})


BROKEN = {  # case -> (how to break a good folder, words the error line must hold)
    "missing folder": (lambda f: shutil.rmtree(f), "no model folder at"),
    "missing config": (lambda f: (f / "config.json").unlink(), "holds no config.json"),
    "corrupt config": (lambda f: (f / "config.json").write_text("{oops"), "is not valid JSON"),
    "missing weights": (lambda f: (f / "model.safetensors").unlink(), "holds no weights"),
    "truncated weights": (truncate, "is truncated: its header describes"),
    "garbage header": (garbage_header, "corrupt safetensors header"),
    "missing shard": (shard_missing, "names shard files that are missing"),
    "missing tokenizer": (no_tokenizer, "holds no tokenizer"),
    "corrupt tokenizer": (
        lambda f: (f / "tokenizer.json").write_text("{oops"),
        "cannot load the tokenizer in",
    ),
    "integer weights": (int8_weights, "an integer type, for a float parameter"),
    "shape mismatch": (lambda f: edit_config(f, vocab_size=120), "do not fit config.json"),
    "missing layer": (lambda f: edit_config(f, num_hidden_layers=4), "they would start random"),
    "renamed tensor": (renamed_tensor, "they would start random"),
}


def argv(command: str, folder: Path) -> list[str]:
    model = str(folder)
    return {
        "sample": ["sample", model, "--task", "arithmetic", "--problems", "1", "--n", "1"],
        "eval": ["eval", model, "--task", "arithmetic", "--problems", "2"],
        "passk": ["passk", "--model", model, "--task", "arithmetic", "--n", "2", "--problems", "2"],
        "sft": ["sft", model, "--task", "arithmetic", "--steps", "1", "--batch-size", "2"],
        "rl": ["rl", model, "--task", "arithmetic", "--steps", "1", "--prompts", "2"],
    }[command]


COMMANDS = ("sample", "eval", "passk", "sft", "rl")


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> dict[str, Path]:
    """case -> a broken copy of a nano organism's folder."""
    root = tmp_path_factory.mktemp("broken")
    good = save_model(*build_organism(preset("nano"), seed=0), root / "good")
    folders = {}
    for case, (damage, _) in BROKEN.items():
        folder = root / case.replace(" ", "-")
        shutil.copytree(good, folder)
        damage(folder)
        folders[case] = folder
    return folders


def the_error_line(capsys) -> str:
    """The one stderr line of a refused command (no traceback, nothing else)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", list(BROKEN))
def test_every_command_refuses_every_broken_folder(case, command, broken, capsys, store):
    assert main(argv(command, broken[case])) == 2
    line = the_error_line(capsys)
    assert BROKEN[case][1] in line
    assert line.rstrip().endswith((".", ")", "]", "'")) or line.rstrip()[-1].isalnum(), line
    assert not store.exists()  # nothing half-written: no run folder, no store


def test_a_good_folder_passes_the_check_and_loads(broken):
    folder, config = check_model(broken["missing folder"].parent / "good")
    assert config.vocab_size == 100
    model, tokenizer = load_model(folder)
    assert model.config.num_hidden_layers == 3 and tokenizer.pad_token_id is not None


def test_a_float_dtype_is_required(broken):
    with pytest.raises(BadInput, match="choose float32, bfloat16 or float16"):
        load_model(broken["missing folder"].parent / "good", dtype=torch.int8)


def test_a_long_library_message_is_cut_after_a_whole_sentence():
    error = ValueError("First sentence.\n(1) a line\n" + "More words here. " * 40)
    text = one_line(ValueError(error))
    assert "\n" not in text and text.endswith(".") and len(text) <= 400
    assert one_line(OSError("Couldn't instantiate the backend tokenizer from one of:\n(1) x")) == (
        "Couldn't instantiate the backend tokenizer from one of: (1) x"
    )


@pytest.mark.parametrize("command", ["eval", "sft"])
def test_a_truncated_copy_of_the_real_model_is_one_line(command, real_model, tmp_path, capsys):
    folder = tmp_path / "real"
    folder.mkdir()
    for file in real_model.iterdir():
        if file.name != "model.safetensors":
            shutil.copy2(file, folder / file.name)
    with open(real_model / "model.safetensors", "rb") as src:  # the first 8 MB of 538 MB
        (folder / "model.safetensors").write_bytes(src.read(8 << 20))
    store = tmp_path / "runs"
    assert (
        main([*argv(command, folder), *(["--store", str(store)] if command == "sft" else [])]) == 2
    )
    line = the_error_line(capsys)
    assert "model.safetensors' is truncated: its header describes 538" in line
    assert "the file holds 83" in line and not store.exists()
