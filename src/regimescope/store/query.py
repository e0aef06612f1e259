"""Queries over the run store, returned as tidy pandas DataFrames."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from regimescope.store.rundir import RunDir, store_root


def iter_runs(root: str | Path | None = None) -> list[RunDir]:
    """Every run folder under the store root (those holding a config.json), sorted by path."""
    base = store_root(root)
    if not base.is_dir():
        return []
    return [RunDir(p.parent) for p in sorted(base.glob("*/*/config.json"))]


def runs_table(root: str | Path | None = None) -> pd.DataFrame:
    """One row per run: kind, name, path, complete, started, finished, last logged step."""
    rows = []
    for run in iter_runs(root):
        meta = run.meta
        metrics = run.read_metrics()
        rows.append(
            {
                "kind": meta.get("kind"),
                "name": run.path.name,
                "complete": run.is_complete(),
                "last_step": metrics[-1].get("step") if metrics else None,
                "started": meta.get("started"),
                "finished": meta.get("finished"),
                "path": str(run.path),
            }
        )
    columns = ["kind", "name", "complete", "last_step", "started", "finished", "path"]
    return pd.DataFrame(rows, columns=columns)


def metrics_frame(run: RunDir) -> pd.DataFrame:
    """A run's metrics, one row per logged step, with the run's name as a column."""
    frame = pd.DataFrame(run.read_metrics())
    frame.insert(0, "run", run.path.name)
    return frame


def read_json(path: str | Path) -> dict:
    """Read a JSON file written by the store."""
    return json.loads(Path(path).read_text())
