"""Findings: the small outputs of finished studies, committed beside the code.

The run store stays on the machine that trained; a new machine starts with an empty one.
A finding is what outlives it: a finished study folder's verdict, tables, figures and
records (``study.json`` with the code fingerprint, ``verdict.json``, ``config.json``,
``meta.json`` with versions, machine and times, ``complete.json`` with the wall time), no
weights and no samples (a study folder holds none), copied to
``findings/<study>/<scale>/`` in the same layout, so the report reads a finding exactly as
it reads a store folder. ``regimescope publish NAME --scale S`` writes one; the report and
the demo read ``findings/`` beside the store and say which verdict came from where.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from regimescope.errors import BadInput
from regimescope.store import atomic_dir

FINDINGS = Path("findings")  # default folder, at the repository root
ROOT_ENV = "REGIMESCOPE_FINDINGS"  # overrides the default (the tests point it elsewhere)
RECORDS = ("study.json", "verdict.json", "config.json", "meta.json", "complete.json")
FOLDERS = ("tables", "figures")  # copied whole: CSV tables, PNG figures and their captions


def findings_root(root: str | Path | None = None) -> Path:
    """The findings folder: ``root``, else $REGIMESCOPE_FINDINGS, else ./findings."""
    return Path(root or os.environ.get(ROOT_ENV) or FINDINGS)


def finding_folders(root: str | Path = FINDINGS) -> list[Path]:
    """Every complete finding under ``root`` (``<study>/<scale>/complete.json``)."""
    return sorted(path.parent for path in Path(root).glob("*/*/complete.json"))


def publish(folder: str | Path, root: str | Path = FINDINGS) -> Path:
    """Copy the finished study ``folder``'s small outputs to ``root/<study>/<scale>/``,
    replacing what was there at once (``complete.json`` is written last); returns it."""
    folder = Path(folder)
    if not (folder / "complete.json").is_file():
        raise BadInput(f"{str(folder)!r} is not a finished study folder (no complete.json)")
    study = json.loads((folder / "study.json").read_text(encoding="utf-8"))
    target = Path(root) / study["name"] / study["scale"]
    with atomic_dir(target) as staging:
        for name in FOLDERS:
            if (folder / name).is_dir():
                shutil.copytree(folder / name, staging / name)
        for name in RECORDS:  # complete.json last: a reader never sees a half copy
            shutil.copy2(folder / name, staging / name)
    return target
