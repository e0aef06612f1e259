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


def load_model(path: str | Path, allow_pickle: bool = False, dtype: torch.dtype = torch.float32):
    """(model, tokenizer) from a local folder, model in eval mode on CPU."""
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
    return model.eval(), tokenizer


def save_model(model, tokenizer, folder: str | Path) -> Path:
    """Write a folder that plain ``from_pretrained`` loads: safetensors, config, tokenizer."""
    folder = Path(folder)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
