"""Load any local Hugging Face causal-LM folder: our organisms and users' checkpoints alike.

Nothing is downloaded: ``local_files_only`` is always set. Weights must be safetensors;
pickle checkpoints (``pytorch_model.bin``) run code when loaded and are refused unless
``allow_pickle``.

One loader check (``check_model``) runs before transformers reads a weight, on every
command that loads a model (sample, eval, passk, sft, rl), so that a bad folder is one
complete line (``BadInput``: exit code 2 at the CLI) and never a traceback, a half-loaded
model or silently re-initialised weights. In order, each cheap:

1. the folder, its ``config.json`` (valid JSON, an architecture transformers knows);
2. its weight files: ``model.safetensors`` or a sharded index whose shards all exist;
3. every file's safetensors header (``instruments.checkpoint_io.parse_header``): length,
   JSON, dtypes, and offsets that end exactly at the end of the file, so a truncated or
   corrupt file is caught from its first kilobytes;
4. the tensors against the model the config describes (built on the meta device, no
   memory): a shape that differs (transformers would refuse with a pointer to a log, or
   re-initialise the tensor when asked to ignore it), a non-float tensor where the model
   has a float parameter (transformers casts int8 to float silently), a parameter the
   weights lack (transformers re-initialises it at random with a warning);
5. the tokenizer: present, and loadable.

After loading, transformers' own loading report is checked too (missing keys under key
names that step 4 could not match), so no weight is ever silently re-initialised.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from regimescope.errors import BadInput

SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZER_FILES = (  # any one of these lets AutoTokenizer build a tokenizer
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "spiece.model",
)
LONGEST = 400  # characters of a library's error message kept in our one line


def one_line(error: BaseException) -> str:
    """An exception's message on one line: lines joined, spaces squeezed, and, past
    ``LONGEST`` characters, cut after the last whole sentence (never mid-sentence)."""
    text = " ".join(str(error).split()) or type(error).__name__
    if len(text) <= LONGEST:
        return text
    cut = text[:LONGEST].rfind(". ")
    return text[: cut + 1] if cut > 0 else f"{type(error).__name__} (message too long to show)"


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


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a model folder: its index's shards (which must all exist and
    be named by a valid index), else ``model.safetensors``."""
    index = folder / "model.safetensors.index.json"
    if not index.is_file():
        return [folder / "model.safetensors"]
    try:
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BadInput(
            f"{str(index)!r} is not a valid shard index (need a JSON 'weight_map' of "
            "tensor name -> shard file)"
        ) from None
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
        raise BadInput(
            f"{str(index)!r} names shard files that are missing: {', '.join(missing[:3])}{more}"
        )
    return [folder / name for name in names]


def read_config(folder: Path):
    """The folder's transformers config, or BadInput naming what is wrong with it."""
    try:
        json.loads((folder / "config.json").read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise BadInput(f"{str(folder / 'config.json')!r} is not valid JSON: {error}") from None
    try:
        return AutoConfig.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BadInput(f"cannot read the config in {str(folder)!r}: {one_line(error)}") from None


def stored_tensors(folder: Path) -> dict:
    """name -> ``TensorInfo`` (shape, dtype code) of every tensor in the folder's weight
    files, each header fully validated (BadInput names a truncated or corrupt file)."""
    from regimescope.instruments.checkpoint_io import parse_header  # light: no weights read

    tensors = {}
    for file in weight_files(folder):
        tensors |= {name: info for name, (info, _) in parse_header(file).items()}
    return tensors


def expected_tensors(config) -> tuple[dict[str, tuple[tuple[int, ...], bool]], str]:
    """(name -> (shape, is floating) of every parameter and persistent buffer the config's
    model holds, tied copies once; the model's base prefix), from a model on the meta device."""
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    params = {n: (tuple(p.shape), p.is_floating_point()) for n, p in model.named_parameters()}
    buffers = {n: (tuple(b.shape), b.is_floating_point()) for n, b in model.named_buffers()}
    persistent = set(model.state_dict())
    return params | {n: v for n, v in buffers.items() if n in persistent}, model.base_model_prefix


def check_tensors(folder: Path, config) -> None:
    """BadInput when the stored tensors do not fit the model ``config`` describes: a shape
    that differs, an integer tensor for a float parameter, or parameters the weights lack."""
    stored = stored_tensors(folder)
    if getattr(config, "quantization_config", None) is not None:
        return  # packed shapes and integer codes are the quantizer's business
    expected, prefix = expected_tensors(config)
    matched = {}
    for name, info in stored.items():
        key = name if name in expected else f"{prefix}.{name}"
        if key in expected:
            matched[key] = info
    where = f"the weights in {str(folder)!r}"
    for key, info in matched.items():
        shape, floating = expected[key]
        if tuple(info.shape) != shape:
            raise BadInput(
                f"{where} do not fit config.json: {key!r} is {list(info.shape)} in the file "
                f"but the config makes it {list(shape)}; use the config saved with these weights"
            )
        if floating and not info.is_float:
            raise BadInput(
                f"{where} store {key!r} as {info.dtype}, an integer type, for a float "
                "parameter; a quantized checkpoint needs its quantization_config in config.json"
            )
    if len(matched) == len(stored):  # every name recognised, so what is absent is missing
        report_missing(folder, set(expected) - set(matched))


def report_missing(folder: Path, missing: set[str]) -> None:
    """BadInput naming parameters the weights lack (transformers would initialise them at
    random), if any."""
    if not missing:
        return
    names = sorted(missing)
    more = f" (+{len(names) - 3} more)" if len(names) > 3 else ""
    raise BadInput(
        f"the weights in {str(folder)!r} lack {len(names)} tensor(s) the config's model has "
        f"({', '.join(names[:3])}{more}); they would start random: use the matching config"
    )


def load_tokenizer(folder: Path):
    """The folder's tokenizer, or BadInput saying it is missing or cannot be loaded."""
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise BadInput(
            f"{str(folder)!r} holds no tokenizer (none of: {', '.join(TOKENIZER_FILES[:2])}, ...); "
            "save one there with tokenizer.save_pretrained(folder)"
        )
    try:
        return AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as error:  # noqa: BLE001 (a broken file fails in many library ways)
        raise BadInput(
            f"cannot load the tokenizer in {str(folder)!r}: {type(error).__name__}: "
            f"{one_line(error)}"
        ) from None


def check_model(path: str | Path, allow_pickle: bool = False):
    """The loader check without loading a weight: (folder, config); BadInput on any problem
    (see the module docstring). Pickle folders get the folder and config checks only."""
    folder = check_model_folder(path, allow_pickle)
    config = read_config(folder)
    if any((folder / name).is_file() for name in SAFE_WEIGHTS):
        check_tensors(folder, config)
    return folder, config


def parameter_count(path: str | Path) -> int:
    """Elements stored in a safetensors model folder's weight files (headers only), each
    tensor once: the model's size without loading it."""
    folder = check_model_folder(path)
    return sum(info.numel for info in stored_tensors(folder).values())


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
    """(model, tokenizer) from a local folder, model in eval mode on ``device``.

    The device, the dtype and the folder (``check_model``) are checked, and the tokenizer
    loaded, before any weight is read; every problem is one complete line (BadInput).
    """
    device = resolve_device(str(device))
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise BadInput(f"cannot load weights as {dtype}; choose float32, bfloat16 or float16")
    folder, _ = check_model(path, allow_pickle)
    tokenizer = load_tokenizer(folder)
    try:
        model, info = AutoModelForCausalLM.from_pretrained(
            folder,
            local_files_only=True,
            use_safetensors=not allow_pickle,
            dtype=dtype,
            output_loading_info=True,
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as error:
        raise BadInput(f"cannot load the model in {str(folder)!r}: {one_line(error)}") from None
    report_missing(folder, set(info.get("missing_keys", ())))
    return model.to(device).eval(), tokenizer


def save_model(model, tokenizer, folder: str | Path) -> Path:
    """Write a folder that plain ``from_pretrained`` loads: safetensors, config, tokenizer."""
    folder = Path(folder)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
