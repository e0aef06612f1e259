"""Checkpoint diff: what did fine-tuning change, tensor by tensor, under every precision view.

``diff_checkpoints(base, [tuned, ...])`` streams all checkpoints together, one chunk of
one tensor at a time. No model is ever held whole. Peak memory is the per-worker chunk
buffers, plus, when rank figures are on, the fp32 Δ of the tensor being measured (one per
tuned checkpoint). For each tensor and each tuned checkpoint it records:

- the precision panel (``precision.py``): changed in fp32, in bf16, beyond each |Δ|
  tolerance, the predicted bf16-invisible share, ‖Δ‖ and ‖W‖;
- for embedding matrices (input embeddings and LM heads), the rows whose Δ is exactly
  zero in fp32. These are tokens that got no gradient (never seen, no weight decay) and
  are reported apart, so they can be taken out of the sparsity figures;
- for 2-D tensors, the rank figures of Δ (``rank.py``): by default exact on matrices whose
  smaller side is at most 128 and skipped on larger ones (``--rank exact`` for all);
- ``changed_cast``: changes beyond casting the base to the tuned's stored dtype, which
  is what training changed when the two are stored in different dtypes;
- with several tuned checkpoints, the pairwise intersections of their changed-masks in
  the fp32 and bf16 views, for the overlap against chance (``overlap.py``).

Chunks run on a small thread pool. Reads and numpy release the GIL, and each worker owns
its buffers. The streaming needs numpy only; torch is imported for the SVDs (with its
usual thread count), pickle checkpoints and fp8 tensors. Aggregation by layer and module
kind, and the JSON and parquet forms, are in ``diff_summary.py``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from regimescope.errors import BadInput, choose
from regimescope.instruments.checkpoint_io import Checkpoint, check_agreement, open_checkpoint
from regimescope.instruments.overlap import overlap_figures
from regimescope.instruments.param_names import layer_index, module_kind
from regimescope.instruments.precision import PanelCounts, Workspace, prepare_base, tuned_panel
from regimescope.instruments.rank import (
    METHODS,
    RankConfig,
    RankFigures,
    planned_method,
    rank_figures,
)

Progress = Callable[[int, int, str], None]  # (elements done, elements total, tensor name)
Pair = tuple[int, int, int]  # (tuned i, tuned j, view: 0 = fp32, 1 = bf16), i < j


@dataclass(frozen=True)
class DiffConfig:
    tolerances: tuple[float, ...] = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3)  # τ in "changed: |Δ| > τ"
    rank: RankConfig = field(default_factory=RankConfig)  # rank figures of 2-D updates
    chunk_elements: int = 1 << 18  # elements per streamed chunk; ~30 bytes each per worker
    workers: int = 0  # threads streaming chunks; 0 = one per CPU, at most 4


@dataclass(frozen=True)
class TensorDiff:
    name: str  # parameter name as stored
    shape: tuple[int, ...]  # stored shape
    dtype: str  # stored dtype code, "BASE->TUNED" when they differ (compared as fp32)
    kind: str  # module kind, see param_names.KINDS
    layer: int | None  # block index; None outside the block stack
    counts: PanelCounts  # the precision panel (counts over all elements)
    rows: int  # rows of an embedding matrix (2-D, kind "embedding"), else 0
    frozen_rows: int  # of those, rows whose Δ is exactly zero in fp32
    rank: RankFigures | None  # rank figures of Δ (2-D tensors, rank method not "none")
    rank_skipped: bool = False  # a matrix that the "auto" rank method left out (too large)

    @property
    def stored_dtypes(self) -> tuple[str, str]:
        """(base, tuned) stored dtype codes."""
        base, _, tuned = self.dtype.partition("->")
        return base, tuned or base


@dataclass(frozen=True)
class RunDiff:
    tuned: str  # the tuned checkpoint's path
    tensors: tuple[TensorDiff, ...]  # in natural name order (layers.2 before layers.10)


@dataclass(frozen=True)
class DiffResult:
    base: str  # the base checkpoint's path
    config: DiffConfig  # the resolved configuration
    runs: tuple[RunDiff, ...]  # one per tuned checkpoint, in the order given
    overlap: tuple[dict, ...]  # per pair of tuned checkpoints and view; empty with one
    skipped: tuple[str, ...]  # non-floating tensors (ids, masks), not compared
    workers: int  # threads used

    def to_dict(self) -> dict:
        """JSON-ready form (see ``diff_summary.result_dict``)."""
        from regimescope.instruments.diff_summary import result_dict  # it imports this module

        return result_dict(self)

    def tensor_frame(self):
        """The per-tensor table as a pandas DataFrame (see ``diff_summary.tensor_frame``)."""
        from regimescope.instruments.diff_summary import tensor_frame

        return tensor_frame(self)


def validate(config: DiffConfig) -> None:
    """BadInput for a configuration that cannot run, naming the valid range."""
    if not config.tolerances or any(not tol > 0 for tol in config.tolerances):
        raise BadInput("tolerances must be a non-empty list of positive numbers, e.g. 1e-8,1e-5")
    choose("rank method", config.rank.method, METHODS)
    for name, value in (("rank sketch", config.rank.sketch), ("top-r", config.rank.top_r)):
        if value < 1:
            raise BadInput(f"{name} must be at least 1, got {value}")
    if config.rank.power_iters < 0 or config.rank.oversample < 0 or config.workers < 0:
        raise BadInput("power iterations, oversampling and workers must be >= 0")
    if config.rank.auto_max < 0 or config.rank.exact_max < 0:
        raise BadInput("the rank's exact-size limits must be >= 0")
    if config.chunk_elements < 1024:
        raise BadInput(f"chunk_elements must be at least 1024, got {config.chunk_elements}")


def diff_checkpoints(
    base: str | Path,
    tuned: str | Path | Sequence[str | Path],
    config: DiffConfig = DiffConfig(),
    *,
    allow_pickle: bool = False,
    on_progress: Progress | None = None,
) -> DiffResult:
    """Diff ``base`` against each of ``tuned`` (same tensor names and shapes), streaming.

    ``on_progress(done, total, name)`` is called after each tensor, in elements.
    """
    validate(config)
    tuned = [tuned] if isinstance(tuned, str | Path) else list(tuned)
    if not tuned:
        raise BadInput("give at least one tuned checkpoint to compare with the base")
    with contextlib.ExitStack() as stack:
        opened = []
        for path in (base, *tuned):
            opened.append(open_checkpoint(path, allow_pickle))
            stack.callback(opened[-1].close)
        check_agreement(opened[0], opened[1:])
        names = sorted((n for n, i in opened[0].tensors.items() if i.is_float), key=_natural_key)
        skipped = tuple(sorted(set(opened[0].tensors) - set(names), key=_natural_key))
        if not names:
            raise BadInput(f"{str(base)!r} holds no floating-point tensors to compare")
        streamer = stack.enter_context(_Streamer(opened, config, names))
        per_tensor, intersections = _stream_all(streamer, names, on_progress)
    runs = tuple(
        RunDiff(str(path), tuple(t[j] for t in per_tensor)) for j, path in enumerate(tuned)
    )
    overlap = _overlap_rows(runs, intersections)
    return DiffResult(str(base), config, runs, overlap, skipped, streamer.workers)


def _stream_all(streamer: _Streamer, names: list[str], on_progress: Progress | None):
    """Per tensor: one TensorDiff per tuned checkpoint, and the mask intersections."""
    total = sum(streamer.base.tensors[n].numel for n in names)
    done, per_tensor, intersections = 0, [], []
    for name in names:
        diffs, inter = streamer.tensor(name)
        per_tensor.append(diffs)
        intersections.append(inter)
        done += streamer.base.tensors[name].numel
        if on_progress is not None:
            on_progress(done, total, name)
    return per_tensor, intersections


@dataclass(frozen=True)
class _Chunk:
    counts: list[PanelCounts]  # per tuned checkpoint
    frozen: list[int]  # per tuned checkpoint: embedding rows with Δ = 0 (row-aligned chunks)
    intersections: list[int]  # per pair in _Streamer.pairs: |A ∩ B| within the chunk


class _Streamer:
    """Runs the chunks of one tensor at a time on a thread pool; a Workspace per worker."""

    def __init__(self, checkpoints: list[Checkpoint], config: DiffConfig, names: list[str]):
        self.base, self.tuned, self.config = checkpoints[0], checkpoints[1:], config
        self.workers = config.workers or max(1, min(4, os.cpu_count() or 1))
        widest_row = max((self._row_length(n) for n in names), default=0)
        size = max(config.chunk_elements, widest_row)
        self.spaces: queue.SimpleQueue[Workspace] = queue.SimpleQueue()
        for _ in range(self.workers):
            self.spaces.put(Workspace(size, len(self.tuned)))
        count = len(self.tuned)
        self.pairs: list[Pair] = [
            (i, j, view) for i in range(count) for j in range(i + 1, count) for view in (0, 1)
        ]

    def __enter__(self) -> _Streamer:
        torch = sys.modules.get("torch")  # loaded already for a pickle checkpoint, else None
        self.threads = torch.get_num_threads() if torch else 0
        # the pool is the parallelism: torch (if loaded) single-threaded in each worker, so
        # cores are not oversubscribed; the SVDs keep the caller's threads
        self.pool = ThreadPoolExecutor(self.workers, "diff", _one_torch_thread)
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.threads:  # the workers also set torch's global default
            sys.modules["torch"].set_num_threads(self.threads)

    def _row_length(self, name: str) -> int:
        """Elements per row when embedding rows are counted, else 0."""
        info = self.base.tensors[name]
        return info.shape[1] if len(info.shape) == 2 and module_kind(name) == "embedding" else 0

    def tensor(self, name: str) -> tuple[list[TensorDiff], dict[Pair, tuple[int, float]]]:
        """Stream one tensor through every tuned checkpoint."""
        info, row, chunk = (
            self.base.tensors[name],
            self._row_length(name),
            self.config.chunk_elements,
        )
        wants_rank = planned_method(info.shape, self.config.rank) in ("exact", "randomized")
        deltas = [np.empty(info.numel, np.float32) for _ in self.tuned] if wants_rank else None
        step = max(1, chunk // row) * row if row else chunk  # whole rows when rows are counted
        jobs = [
            self.pool.submit(self._chunk, name, s, min(s + step, info.numel), row, deltas)
            for s in range(0, info.numel, step)
        ]
        chunks = [job.result() for job in jobs]
        return self._assemble(name, chunks, deltas), self._intersections(chunks, info.numel)

    def _chunk(self, name: str, start: int, stop: int, row: int, deltas) -> _Chunk:
        """Counts, frozen rows and mask intersections of elements [start, stop)."""
        space, n = self.spaces.get(), stop - start
        try:
            self.base.read(name, start, stop, space.base)
            weight_sq = prepare_base(space, n)
            counts, frozen = [], []
            for j, checkpoint in enumerate(self.tuned):
                checkpoint.read(name, start, stop, space.tuned)
                delta = deltas[j][start:stop] if deltas is not None else space.delta[:n]
                masks = space.masks[j, :, :n]  # (2, n): changed in fp32, in bf16
                tolerances, stored = self.config.tolerances, checkpoint.tensors[name].dtype
                counts.append(tuned_panel(space, n, delta, tolerances, masks, weight_sq, stored))
                frozen.append(_unchanged_rows(masks[0], row) if row else 0)
            inter = [
                _both(space.masks[i, v, :n], space.masks[j, v, :n], space.flag[:n])
                for i, j, v in self.pairs
            ]
            return _Chunk(counts, frozen, inter)
        finally:
            self.spaces.put(space)

    def _assemble(self, name: str, chunks: list[_Chunk], deltas) -> list[TensorDiff]:
        """One TensorDiff per tuned checkpoint from the chunk results (and Δ for ranks)."""
        info, zero = self.base.tensors[name], PanelCounts.zero(len(self.config.tolerances))
        rows = info.shape[0] if self._row_length(name) else 0
        diffs = []
        skipped = planned_method(info.shape, self.config.rank) == "skipped"
        for j, checkpoint in enumerate(self.tuned):
            rank = None
            if deltas is not None:
                import torch  # the SVDs

                rank = rank_figures(torch.from_numpy(deltas[j]).view(info.shape), self.config.rank)
                deltas[j] = np.empty(0, np.float32)  # release Δ before the next one is measured
            other = checkpoint.tensors[name].dtype
            diffs.append(
                TensorDiff(
                    name=name,
                    shape=info.shape,
                    dtype=info.dtype if other == info.dtype else f"{info.dtype}->{other}",
                    kind=module_kind(name),
                    layer=layer_index(name),
                    counts=sum((c.counts[j] for c in chunks), zero),
                    rows=rows,
                    frozen_rows=sum(c.frozen[j] for c in chunks),
                    rank=rank,
                    rank_skipped=skipped,
                )
            )
        return diffs

    def _intersections(self, chunks: list[_Chunk], params: int) -> dict[Pair, tuple[int, float]]:
        """Per pair: (|A∩B| in this tensor, its chance expectation a·b/n)."""
        out = {}
        for k, (i, j, view) in enumerate(self.pairs):
            a = sum(_changed(c.counts[i], view) for c in chunks)
            b = sum(_changed(c.counts[j], view) for c in chunks)
            out[(i, j, view)] = (
                sum(c.intersections[k] for c in chunks),
                a * b / params if params else 0.0,
            )
        return out


def _one_torch_thread() -> None:
    """Pool initializer: torch, when loaded, runs single-threaded inside each worker."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _unchanged_rows(changed: np.ndarray, row: int) -> int:
    """Rows of ``row`` elements in which no element changed; ``changed`` is (rows · row,)."""
    return changed.size // row - int(changed.reshape(-1, row).any(axis=1).sum())  # (rows, row)


def _both(a: np.ndarray, b: np.ndarray, scratch: np.ndarray) -> int:
    """|A ∩ B| of two boolean masks."""
    return int(np.count_nonzero(np.logical_and(a, b, out=scratch)))


def _changed(counts: PanelCounts, view: int) -> int:
    """Changed elements in the fp32 (view 0) or bf16 (view 1) view."""
    return counts.changed_fp32 if view == 0 else counts.changed_bf16


def _overlap_rows(
    runs: tuple[RunDiff, ...], intersections: list[dict[Pair, tuple[int, float]]]
) -> tuple[dict, ...]:
    """One overlap record per pair of tuned checkpoints and view, summed over tensors."""
    if len(runs) < 2:
        return ()
    rows = []
    for i, j, view in intersections[0]:
        params = sum(t.counts.params for t in runs[i].tensors)
        a = sum(_changed(t.counts, view) for t in runs[i].tensors)
        b = sum(_changed(t.counts, view) for t in runs[j].tensors)
        inter = sum(per[(i, j, view)][0] for per in intersections)
        expected = sum(per[(i, j, view)][1] for per in intersections)
        figures = overlap_figures(params, a, b, inter, expected)
        rows.append(
            {"a": runs[i].tuned, "b": runs[j].tuned, "view": ("fp32", "bf16")[view], **figures}
        )
    return tuple(rows)


def _natural_key(name: str) -> list:
    """Sort key that orders numbers numerically: layers.2 before layers.10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
