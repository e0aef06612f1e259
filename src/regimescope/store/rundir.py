"""Run folders: one per resolved config, reused when complete, resumed when killed.

Layout of ``<root>/<kind>/<name>-<hash>/``::

    config.json        resolved config (the hash is taken over it)
    meta.json          versions, git commit, device, start time (end time once complete)
    metrics.jsonl      one JSON line per logged step
    checkpoints/step_000100/   a model folder (+ optimizer and trainer state to resume)
    model/             the final model folder, loadable by plain transformers
    complete.json      written last: the summary; its presence marks the run complete
    .lock              held (flock) by the process training the run

Only the latest checkpoint keeps its optimizer and trainer state (``RESUME_FILES``): a
resume needs nothing older, and AdamW's two moments are twice the model in fp32. When a
run completes, that state goes too unless the user keeps it (``--keep-optimizer``): a
complete run is reused, never resumed. The checkpoints' model folders stay (the studies
read them).

Every file is written atomically (``store.atomic``). Metrics are appended line by line;
on resume, lines after the resumed checkpoint and any torn last line are dropped, so a
killed-and-resumed run ends with the same metrics as an uninterrupted one. Two processes
sharing a store (two studies in parallel, jobs on a cluster) never train the same run at
once: the regimes train under ``RunDir.exclusive()``, so the second waits for the lock, then
finds the run complete and reuses it. A worker of the executor (``regimescope.executor``)
runs its job under ``skip_held()`` instead: a run held by another process raises
``RunHeld`` at once, and the worker moves on to its next job.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX (Windows): runs are not locked, one process per store
    fcntl = None

from regimescope.config import config_hash, to_dict
from regimescope.store.atomic import write_json_atomic, write_text_atomic
from regimescope.store.meta import collect_meta, now_iso

DEFAULT_ROOT = "runs"
RESUME_FILES = ("optimizer.safetensors", "trainer_state.json")  # in a checkpoint, resume-only
ROOT_ENV = "REGIMESCOPE_STORE"
WAIT_FOR_HELD = contextvars.ContextVar("wait_for_held", default=True)  # see skip_held


class RunHeld(RuntimeError):
    """Another process holds the run's lock (raised under ``skip_held`` instead of waiting)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"run {path} is held by another process")
        self.path = path


@contextlib.contextmanager
def skip_held() -> Iterator[None]:
    """Within the block, ``RunDir.exclusive`` raises ``RunHeld`` for a run another process
    holds, instead of waiting for it (nothing is written to that run)."""
    token = WAIT_FOR_HELD.set(False)
    try:
        yield
    finally:
        WAIT_FOR_HELD.reset(token)


def store_root(root: str | Path | None = None) -> Path:
    """The store's root: ``root``, else $REGIMESCOPE_STORE, else ./runs."""
    return Path(root or os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def checkpoint_name(step: int) -> str:
    """``step_000100`` for step 100."""
    return f"step_{step:06d}"


@dataclass(frozen=True)
class RunDir:
    path: Path  # the run's folder (a str is converted)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def config(self) -> dict[str, Any]:
        return json.loads((self.path / "config.json").read_text())

    @property
    def meta(self) -> dict[str, Any]:
        return json.loads((self.path / "meta.json").read_text())

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    def is_complete(self) -> bool:
        return (self.path / "complete.json").is_file()

    def summary(self) -> dict[str, Any]:
        return json.loads((self.path / "complete.json").read_text())

    def mark_complete(self, summary: dict[str, Any]) -> None:
        """Record the end time, then write the completion marker (last)."""
        write_json_atomic(self.path / "meta.json", {**self.meta, "finished": now_iso()})
        write_json_atomic(self.path / "complete.json", summary)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the run's lock (an advisory ``flock`` on ``.lock``, released by the kernel if
        the process dies) for as long as the block runs; blocks while another process holds it
        (under ``skip_held``: raises ``RunHeld`` instead).
        """
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".lock", "a") as handle:
            if fcntl is not None:
                lock(handle, self.path, wait=WAIT_FOR_HELD.get())
            yield  # closing the file releases the lock

    def checkpoint_dir(self, step: int) -> Path:
        return self.path / "checkpoints" / checkpoint_name(step)

    def checkpoint_steps(self) -> list[int]:
        """Steps of the whole checkpoints present (temp folders are ignored)."""
        folder = self.path / "checkpoints"
        if not folder.is_dir():
            return []
        names = (p.name for p in folder.iterdir() if p.is_dir())
        return sorted(int(n[5:]) for n in names if n.startswith("step_") and n[5:].isdigit())

    def drop_resume_state(self, keep: int | None = None) -> int:
        """Delete the resume-only files (``RESUME_FILES``) of every checkpoint but step
        ``keep`` (all of them when None); the bytes freed."""
        freed = 0
        for step in self.checkpoint_steps():
            if step == keep:
                continue
            for name in RESUME_FILES:
                path = self.checkpoint_dir(step) / name
                if path.is_file():
                    freed += path.stat().st_size
                    path.unlink()
        return freed

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one metrics line (flushed and fsynced, so a kill loses at most this line)."""
        with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read_metrics(self) -> list[dict[str, Any]]:
        """All complete metrics lines (a torn last line is skipped)."""
        path = self.path / "metrics.jsonl"
        if not path.is_file():
            return []
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return records

    def truncate_metrics(self, last_step: int) -> None:
        """Keep only metrics lines with ``step <= last_step`` (used when resuming)."""
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= last_step]
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept)
        write_text_atomic(self.path / "metrics.jsonl", text)


def lock(handle, path: Path, wait: bool) -> None:
    """flock ``handle`` exclusively: waiting for it, or raising ``RunHeld`` if held."""
    if wait:
        fcntl.flock(handle, fcntl.LOCK_EX)
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RunHeld(path) from None


def run_path(kind: str, name: str, config: Any, root=None, key: dict | None = None) -> Path:
    """``<root>/<kind>/<name>-<hash>``: the hash covers the resolved config and ``key``.

    ``key`` holds what the config names but does not contain: the versions of the tasks it
    trains on, a fingerprint of the code that analyses it. Change either and the run is new.
    """
    digest = config_hash(config)
    if key:
        canonical = json.dumps({"config": digest, "key": key}, sort_keys=True)
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return store_root(root) / kind / f"{name}-{digest}"


def open_run(kind: str, name: str, config: Any, root=None, key: dict | None = None) -> RunDir:
    """The run folder of ``config`` (a frozen dataclass), created with config and meta if new.

    Asking again for the same config (and key) returns the same folder, complete (reuse
    it) or not (resume it). The key is recorded in meta.json.
    """
    path = run_path(kind, name, config, root, key)
    run = RunDir(path)
    if not (path / "config.json").is_file():
        path.mkdir(parents=True, exist_ok=True)
        meta = {**collect_meta(), "kind": kind, "name": name, "key": key or {}}
        write_json_atomic(path / "meta.json", meta)
        write_json_atomic(path / "config.json", to_dict(config))
    return run
