"""Load any local Hugging Face causal-LM folder: our organisms and users' checkpoints alike.

Nothing is downloaded: ``local_files_only`` is always set, and a folder is checked for
weights before transformers sees it. Weights must be safetensors; pickle checkpoints
(``pytorch_model.bin``) run code when loaded and are refused unless ``allow_pickle``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from regimescope.errors import BadInput

SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")


def check_model_folder(path: str | Path, allow_pickle: bool = False) -> Path:
    """The folder as a Path if it holds a config and safetensors weights, else BadInput."""
    folder = Path(path)
    if not folder.is_dir():
        raise BadInput(f"no model folder at {str(folder)!r}; give a folder made by save_pretrained")
    if not (folder / "config.json").is_file():
        raise BadInput(
            f"{str(folder)!r} holds no config.json; it is not a Hugging Face model folder"
        )
    if any((folder / name).is_file() for name in SAFE_WEIGHTS):
        return folder
    if any((folder / name).is_file() for name in PICKLE_WEIGHTS):
        if allow_pickle:
            return folder
        raise BadInput(
            f"{str(folder)!r} holds only pickle weights (loading them runs code); "
            "convert to safetensors or pass --allow-pickle"
        )
    raise BadInput(f"{str(folder)!r} holds no weights; expected one of: {', '.join(SAFE_WEIGHTS)}")


DEVICES = "cpu, cuda, cuda:N, mps"  # the device names --device accepts


def resolve_device(name: str) -> torch.device:
    """The torch device called ``name`` if this machine has it, else BadInput naming the
    valid choices (so a CPU-only machine asked for cuda fails in one line, before loading)."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise BadInput(f"unknown device {name!r}; choose from: {DEVICES}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BadInput(f"device {name!r} asked for, but torch sees no CUDA GPU here; use cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise BadInput(f"no {name!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise BadInput(f"device {name!r} asked for, but torch sees no MPS device here; use cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise BadInput(f"unsupported device {name!r}; choose from: {DEVICES}")
    return device


def load_model(
    path: str | Path,
    allow_pickle: bool = False,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
):
    """(model, tokenizer) from a local folder, model in eval mode on ``device`` (checked
    with ``resolve_device`` before any weights are read)."""
    device = resolve_device(str(device))
    folder = check_model_folder(path, allow_pickle)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            folder, local_files_only=True, use_safetensors=not allow_pickle, dtype=dtype
        )
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        first_line = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        raise BadInput(f"cannot load model from {str(folder)!r}: {first_line}") from error
    return model.to(device).eval(), tokenizer


def save_model(model, tokenizer, folder: str | Path) -> Path:
    """Write a folder that plain ``from_pretrained`` loads: safetensors, config, tokenizer."""
    folder = Path(folder)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
