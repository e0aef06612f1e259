"""Stream tensors out of checkpoints a chunk at a time, converted to fp32.

Accepted: one ``.safetensors`` file, or a folder holding ``model.safetensors``, a sharded
``*.safetensors.index.json``, or other ``*.safetensors`` files (read as shards). Pickle
checkpoints (``.bin``, ``.pt``, ``.pth``, ``.ckpt``) run code when unpickled. They are
refused unless ``allow_pickle``, and even then are opened only with
``torch.load(weights_only=True)``, which rejects any object other than tensors and
plain containers before it is built.

Why positioned reads rather than ``safe_open``: ``safe_open`` maps the whole file, and
every page a tensor touches stays in the process's resident set until the file is
closed. Reading a checkpoint through it therefore grows memory to the file size. Here
the header is parsed once: 8 bytes of little-endian header length, a JSON header, then
raw little-endian data (format: github.com/huggingface/safetensors). A chunk's bytes are
then read straight into a caller's reusable buffer. Memory is the buffers, whatever the
checkpoint size.

Every file is validated when opened, before anything is computed: header length, JSON,
dtypes, shapes against byte sizes, and contiguous offsets that end exactly at the end
of the file. A truncated or corrupt file is a ``BadInput`` naming the file.

Safetensors are read and converted with numpy alone (BF16 by a 16-bit shift, F16 and F64
by numpy's IEEE casts), so a diff never imports torch unless it needs it: for pickle
checkpoints, fp8 tensors, or rank figures. Importing torch costs about 2 s and 220 MB.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from regimescope.errors import BadInput

# safetensors dtype code -> bytes per element; the floating ones are compared, the rest skipped
ITEMSIZE = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U64": 8,
    "U32": 4,
    "U16": 2,
    "U8": 1,
    "BOOL": 1,
}
DTYPES = ITEMSIZE  # the accepted codes (kept under its old name)
FLOAT_CODES = frozenset({"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"})


def torch_dtype(code: str):
    """The torch dtype of a safetensors code (imports torch: pickle and fp8 paths only)."""
    import torch

    return {
        "F64": torch.float64,
        "F32": torch.float32,
        "F16": torch.float16,
        "BF16": torch.bfloat16,
        "F8_E4M3": torch.float8_e4m3fn,
        "F8_E5M2": torch.float8_e5m2,
        "I64": torch.int64,
        "I32": torch.int32,
        "I16": torch.int16,
        "I8": torch.int8,
        "U64": torch.uint64,
        "U32": torch.uint32,
        "U16": torch.uint16,
        "U8": torch.uint8,
        "BOOL": torch.bool,
    }[code]


def code_of(dtype) -> str | None:
    """The safetensors code of a torch dtype, None if it has none."""
    return next((c for c in ITEMSIZE if torch_dtype(c) == dtype), None)


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
MAX_HEADER = 100_000_000  # bytes; the limit the safetensors library itself enforces


@dataclass(frozen=True)
class TensorInfo:
    name: str  # parameter name as stored
    shape: tuple[int, ...]  # stored shape
    dtype: str  # safetensors dtype code, e.g. "F32", "BF16"

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_CODES


class Checkpoint(Protocol):
    """An open checkpoint: tensor descriptions and ranged reads as fp32."""

    path: Path
    tensors: dict[str, TensorInfo]

    def read(self, name: str, start: int, stop: int, out: np.ndarray) -> None:
        """Elements [start, stop) of the flattened tensor, as fp32, into ``out[: stop - start]``."""

    def close(self) -> None: ...


def open_checkpoint(path: str | Path, allow_pickle: bool = False) -> Checkpoint:
    """Open a checkpoint file or folder for streaming; BadInput says what would be valid."""
    kind, files = weight_files(Path(path))
    if kind == "pickle":
        if not allow_pickle:
            raise BadInput(
                f"{str(path)!r} is a pickle checkpoint, and loading pickle runs code; convert it "
                "to safetensors, or pass --allow-pickle (then torch.load(weights_only=True))"
            )
        return PickleCheckpoint(Path(path), files)
    return SafetensorsCheckpoint(Path(path), files)


def weight_files(path: Path) -> tuple[str, list[Path]]:
    """("safetensors" | "pickle", files) for a weights file or a model folder."""
    if path.is_file():
        if path.suffix == ".safetensors":
            return "safetensors", [path]
        if path.suffix in PICKLE_SUFFIXES:
            return "pickle", [path]
        raise BadInput(
            f"{str(path)!r} is not a checkpoint; give a .safetensors file or a model folder"
        )
    if not path.is_dir():
        raise BadInput(
            f"no checkpoint at {str(path)!r}; give a .safetensors file or a model folder"
        )
    safe_indexes = sorted(path.glob("*.safetensors.index.json"))
    if safe_indexes:  # safetensors always wins when a folder holds both formats
        return "safetensors", _index_shards(safe_indexes[0])
    if (path / "model.safetensors").is_file():
        return "safetensors", [path / "model.safetensors"]
    shards = sorted(p for p in path.glob("*.safetensors") if p.is_file())
    if shards:
        return "safetensors", shards
    pickle_indexes = sorted(path.glob("*.bin.index.json"))
    if pickle_indexes:
        return "pickle", _index_shards(pickle_indexes[0])
    pickles = sorted(p for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES and p.is_file())
    if pickles:
        return "pickle", pickles
    raise BadInput(
        f"{str(path)!r} holds no weights; expected model.safetensors, "
        "model.safetensors.index.json or *.safetensors"
    )


def _index_shards(index: Path) -> list[Path]:
    """The shard files named by a sharded-checkpoint index (its ``weight_map`` values)."""
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
        names = sorted(set(weight_map.values()))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BadInput(
            f"{str(index)!r} is not a valid index (need a 'weight_map'): {error}"
        ) from None
    shards = [index.parent / name for name in names]
    missing = [p.name for p in shards if not p.is_file()]
    if missing:
        raise BadInput(
            f"index {str(index)!r} names shards that are missing: {', '.join(missing[:3])}"
        )
    return shards


# --- safetensors ---------------------------------------------------------------------------


def parse_header(file: Path) -> dict[str, tuple[TensorInfo, int]]:
    """{name: (info, absolute byte offset)} of a safetensors file, fully validated."""
    size = file.stat().st_size
    with open(file, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise BadInput(f"{str(file)!r} is truncated or not safetensors: shorter than 8 bytes")
        (length,) = struct.unpack("<Q", head)
        if length > min(size - 8, MAX_HEADER):
            raise BadInput(
                f"{str(file)!r} is truncated or not safetensors: header length {length} too large"
            )
        raw = handle.read(length)
    try:
        header = json.loads(raw)
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadInput(f"{str(file)!r} has a corrupt safetensors header: {error}") from None
    header.pop("__metadata__", None)
    return _check_entries(file, header, data_start=8 + length, data_size=size - 8 - length)


def _check_entries(file: Path, header: dict, data_start: int, data_size: int) -> dict:
    """Validate dtype, shape and offsets of every entry; offsets must tile the data exactly."""
    entries, spans = {}, []
    for name, entry in header.items():
        try:
            info = TensorInfo(name, tuple(int(s) for s in entry["shape"]), str(entry["dtype"]))
            begin, end = (int(x) for x in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise BadInput(f"{str(file)!r} has a corrupt header entry for {name!r}") from None
        if info.dtype not in DTYPES:
            raise BadInput(f"{str(file)!r}: tensor {name!r} has unsupported dtype {info.dtype}")
        nbytes = info.numel * ITEMSIZE[info.dtype]
        if min(info.shape, default=0) < 0 or not 0 <= begin <= end or end - begin != nbytes:
            raise BadInput(f"{str(file)!r}: entry {name!r} has offsets that do not match its shape")
        entries[name] = (info, data_start + begin)
        spans.append((begin, end))
    covered = 0
    for begin, end in sorted(spans):
        if begin != covered:
            raise BadInput(f"{str(file)!r} is corrupt: tensor data overlaps or leaves gaps")
        covered = end
    if covered != data_size:
        state = "truncated" if covered > data_size else "corrupt (trailing bytes)"
        raise BadInput(
            f"{str(file)!r} is {state}: its header describes {covered} data bytes, "
            f"the file holds {data_size}"
        )
    return entries


class SafetensorsCheckpoint:
    """Safetensors file(s) read with positioned reads into caller buffers (thread-safe)."""

    def __init__(self, path: Path, files: list[Path]):
        self.path, self.tensors = path, {}
        self._where: dict[str, tuple[int, int]] = {}  # name -> (index into _fds, byte offset)
        self._fds: list[int] = []
        self._scratch = threading.local()  # per-thread bytes for non-fp32 dtypes
        try:
            for file in files:
                entries = parse_header(file)
                self._fds.append(os.open(file, os.O_RDONLY | getattr(os, "O_BINARY", 0)))
                for name, (info, offset) in entries.items():
                    if name in self.tensors:
                        raise BadInput(f"tensor {name!r} appears in two shards of {str(path)!r}")
                    self.tensors[name], self._where[name] = info, (len(self._fds) - 1, offset)
            if not self.tensors:
                raise BadInput(f"{str(path)!r} holds no tensors")
        except BaseException:
            self.close()
            raise

    def read(self, name: str, start: int, stop: int, out: np.ndarray) -> None:
        info = self.tensors[name]
        file_index, offset = self._where[name]
        fd = self._fds[file_index]
        count, size = stop - start, ITEMSIZE[info.dtype]
        if info.dtype == "F32":  # straight into the caller's buffer: no copy
            _pread_into(fd, out[:count].view(np.uint8), offset + start * size)
            return
        raw = self._scratch_bytes(count * size)
        _pread_into(fd, raw, offset + start * size)
        to_fp32(raw, info.dtype, out[:count])

    def _scratch_bytes(self, nbytes: int) -> np.ndarray:
        buffer = getattr(self._scratch, "buffer", None)
        if buffer is None or buffer.size < nbytes:
            buffer = self._scratch.buffer = np.empty(nbytes, dtype=np.uint8)
        return buffer[:nbytes]

    def close(self) -> None:
        while self._fds:
            os.close(self._fds.pop())


def to_fp32(raw: np.ndarray, code: str, out: np.ndarray) -> None:
    """Little-endian stored values (bytes) of dtype ``code`` into fp32 ``out``; exact except
    F64, which is rounded to nearest even (overflow to inf), as torch's cast does."""
    if code == "BF16":  # bf16 is the top half of an fp32: shift its bits up
        np.left_shift(raw.view("<u2"), 16, out=out.view(np.uint32), dtype=np.uint32)
    elif code in ("F16", "F64"):
        with np.errstate(over="ignore"):  # F64 beyond the fp32 range becomes inf, as in torch
            np.copyto(out, raw.view("<f2" if code == "F16" else "<f8"), casting="same_kind")
    else:  # fp8: torch knows the formats
        import torch

        stored = torch.frombuffer(raw, dtype=torch_dtype(code), count=out.size)
        torch.from_numpy(out).copy_(stored)


_SEEK_LOCK = threading.Lock()


def _pread_into(fd: int, view: np.ndarray, offset: int) -> None:
    """Fill ``view`` (uint8) from ``fd`` at ``offset``; a short read means the file changed."""
    done, total = 0, view.size
    while done < total:
        if hasattr(os, "preadv"):
            got = os.preadv(fd, [memoryview(view[done:])], offset + done)
        else:  # platforms without positioned reads: serialise seek + read
            with _SEEK_LOCK:
                os.lseek(fd, offset + done, os.SEEK_SET)
                chunk = os.read(fd, total - done)
            view[done : done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            got = len(chunk)
        if got <= 0:
            raise BadInput(
                f"checkpoint file ended early at byte {offset + done}; was it truncated?"
            )
        done += got


# --- pickle (only on request) --------------------------------------------------------------


class PickleCheckpoint:
    """Pickle checkpoint(s) loaded with ``torch.load(weights_only=True, mmap=True)``."""

    def __init__(self, path: Path, files: list[Path]):
        self.path, self.tensors = path, {}
        self._data: dict = {}  # name -> torch tensor
        for file in files:
            for name, tensor in _flatten(_load_weights_only(file)).items():
                if name in self._data:
                    raise BadInput(f"tensor {name!r} appears in two files of {str(path)!r}")
                code = code_of(tensor.dtype)
                if code is None:
                    raise BadInput(
                        f"{str(file)!r}: tensor {name!r} has unsupported dtype {tensor.dtype}"
                    )
                self._data[name] = tensor.contiguous()
                self.tensors[name] = TensorInfo(name, tuple(tensor.shape), code)
        if not self.tensors:
            raise BadInput(f"{str(path)!r} holds no tensors")

    def read(self, name: str, start: int, stop: int, out: np.ndarray) -> None:
        import torch

        flat = self._data[name].reshape(-1)[start:stop]
        torch.from_numpy(out[: stop - start]).copy_(flat)

    def close(self) -> None:
        self._data.clear()


def _load_weights_only(file: Path):
    """``torch.load(weights_only=True)``, memory-mapped where the file format allows."""
    import torch

    try:
        try:
            return torch.load(file, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            return torch.load(file, map_location="cpu", weights_only=True)  # legacy format
    except pickle.UnpicklingError as error:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        what = f"it asks for {found.group(1)}" if found else "it holds objects other than tensors"
        raise BadInput(
            f"refused {str(file)!r}: {what}, which torch.load(weights_only=True) will not run; "
            "only plain tensor state dicts are accepted"
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BadInput(f"cannot read pickle checkpoint {str(file)!r}: {first}") from None


def _flatten(obj, prefix: str = "") -> dict:
    """Tensors of a (nested) state dict under dotted names; other leaves are ignored."""
    import torch

    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    if not isinstance(obj, dict):
        return {}
    found: dict = {}
    for key, value in obj.items():
        found.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return found


# --- agreement -----------------------------------------------------------------------------


def check_agreement(base: Checkpoint, tuned: list[Checkpoint]) -> None:
    """BadInput unless every tuned checkpoint has the base's tensor names and shapes."""
    for other in tuned:
        only_base = sorted(set(base.tensors) - set(other.tensors))
        only_other = sorted(set(other.tensors) - set(base.tensors))
        if only_base or only_other:
            raise BadInput(
                f"tensor names differ between {str(base.path)!r} and {str(other.path)!r}: "
                f"only in base: {_few(only_base)}; only in tuned: {_few(only_other)}"
            )
        shapes = [
            f"{name} {list(info.shape)} vs {list(other.tensors[name].shape)}"
            for name, info in sorted(base.tensors.items())
            if info.shape != other.tensors[name].shape
        ]
        if shapes:
            raise BadInput(f"tensor shapes differ in {str(other.path)!r}: {_few(shapes)}")


def _few(items: list[str], shown: int = 3) -> str:
    """The first ``shown`` items, then how many more."""
    if not items:
        return "none"
    more = f" (+{len(items) - shown} more)" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more
