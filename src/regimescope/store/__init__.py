"""The run store: folders keyed by a hash of the resolved config, atomic writes, resume."""

from regimescope.store.atomic import (
    atomic_dir,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)
from regimescope.store.query import iter_runs, metrics_frame, runs_table
from regimescope.store.rundir import (
    RunDir,
    RunHeld,
    checkpoint_name,
    open_run,
    run_path,
    skip_held,
    store_root,
)

__all__ = [
    "RunDir",
    "RunHeld",
    "atomic_dir",
    "checkpoint_name",
    "iter_runs",
    "metrics_frame",
    "open_run",
    "run_path",
    "runs_table",
    "skip_held",
    "store_root",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]
