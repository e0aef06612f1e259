"""A content-addressed cache of sampled completions, so a study killed midway resumes
without re-drawing what it already drew.

A study's samples are the costly half of its measurements (study 2 at full scale draws
256k completions per seed), and they are a pure function of the weights, the prompts, the
sampling config and the sampler's code: the sampler's randomness is counter-based, keyed
by (seed, prompt, sample, step), and independent of the batch size. So the key is

    sha256(weights bytes, model config, prompt ids, EOS id, config without batch_size,
           source of decode.py, tokens.py and prefix_attention.py,
           torch version)

and the value is the completions' token ids and EOS flags, one ``.npz`` per call under
``<store>/samples/<key[:2]>/<key>.npz``. Text is decoded again on load, so the tokenizer
never needs to be part of the key beyond the prompt ids it produced.

Caching is off unless a caller turns it on with ``caching(root)``: ``run_study`` does,
around a study. Training loops call ``paused()``, so RL rollouts and the recorder's
greedy probes (new weights every step) never touch the disk. Thread count is not in the
key: on the measured studies one and two torch threads gave identical verdicts and
effects, and the cache assumes that. Delete the folder to reclaim its disk.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from regimescope.store import write_bytes_atomic

FORMAT = 1  # bump when the stored layout changes; old entries then miss
_ROOT: contextvars.ContextVar[Path | None] = contextvars.ContextVar("sample_cache", default=None)


@contextlib.contextmanager
def caching(root: str | Path) -> Iterator[Path]:
    """Within this block, ``sampling.sample`` reads and writes the cache under ``root``."""
    token = _ROOT.set(Path(root))
    try:
        yield Path(root)
    finally:
        _ROOT.reset(token)


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Within this block, sampling bypasses the cache (used by training loops)."""
    token = _ROOT.set(None)
    try:
        yield
    finally:
        _ROOT.reset(token)


def active() -> Path | None:
    """The cache root in force here, or None when caching is off."""
    return _ROOT.get()


@functools.cache
def _sampler_source() -> bytes:
    package = Path(__file__).resolve().parent
    files = ("decode.py", "tokens.py", "prefix_attention.py")
    return b"".join((package / f).read_bytes() for f in files)


def weights_digest(model) -> str:
    """sha256 over the model's config and every tensor of its state dict, by name."""
    digest = hashlib.sha256(model.config.to_json_string().encode())
    for name, tensor in model.state_dict().items():
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(name.encode() + b"\0" + str(flat.dtype).encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def key(model, prompt_ids: Sequence[Sequence[int]], eos_id, config) -> str:
    """The cache key of one ``sample`` call (see the module docstring)."""
    settings = {**asdict(config), "batch_size": None, "eos": eos_id, "format": FORMAT}
    digest = hashlib.sha256(weights_digest(model).encode())
    digest.update(repr(sorted(settings.items())).encode())
    digest.update(repr([list(ids) for ids in prompt_ids]).encode())
    digest.update(_sampler_source() + torch.__version__.encode())
    return digest.hexdigest()


def _path(root: Path, entry: str) -> Path:
    return root / entry[:2] / f"{entry}.npz"


def save(root: Path, entry: str, results) -> Path:
    """Store completions [prompt][n] (token ids and EOS flags) under ``entry``."""
    rows = [c for per_prompt in results for c in per_prompt]
    lengths = np.array([len(c.token_ids) for c in rows], dtype=np.int64)
    flat = [t for c in rows for t in c.token_ids]
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        tokens=np.array(flat, dtype=np.int64),  # all rows' ids, concatenated
        lengths=lengths,  # ids per row, rows prompt-major
        finished=np.array([c.finished for c in rows], dtype=bool),
        per_prompt=np.array([len(p) for p in results], dtype=np.int64),
    )
    return write_bytes_atomic(_path(root, entry), buffer.getvalue())


def load(root: Path, entry: str, tokenizer, completion_type):
    """Completions [prompt][n] stored under ``entry``, or None if it is not there or
    cannot be read (a damaged entry is then drawn and written again)."""
    path = _path(root, entry)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            tokens, lengths = stored["tokens"], stored["lengths"]
            finished, per_prompt = stored["finished"], stored["per_prompt"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    ends = np.cumsum(lengths)
    ids = [tuple(tokens[end - n : end].tolist()) for end, n in zip(ends, lengths, strict=True)]
    texts = tokenizer.batch_decode([list(r) for r in ids], skip_special_tokens=True)
    rows = [completion_type(t, r, bool(f)) for t, r, f in zip(texts, ids, finished, strict=True)]
    starts = np.concatenate([[0], np.cumsum(per_prompt)])
    return [rows[a:b] for a, b in zip(starts[:-1], starts[1:], strict=True)]
