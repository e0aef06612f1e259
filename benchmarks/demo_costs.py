"""What each study's plan costs, read from a store a demo (or study) run filled.

    .venv/bin/python benchmarks/demo_costs.py STORE [--scale quick]

For every registered study: its plan's runs (``executor.plans``), found in STORE by their
config (nothing is trained: a run not in the store is counted as missing), and the seconds
each took (meta.json ``started`` to ``finished``). A run two studies share is charged to
both in the per-study rows and once in the total. On a run with one torch thread per
worker and no more workers than cores, a run's seconds are its core-seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from regimescope.config import to_dict
from regimescope.executor.plans import study_plan
from regimescope.studies import STUDIES


def seconds(folder: Path) -> float:
    meta = json.loads((folder / "meta.json").read_text())
    if "finished" not in meta:
        return float("nan")
    span = dt.datetime.fromisoformat(meta["finished"]) - dt.datetime.fromisoformat(meta["started"])
    return span.total_seconds()


RESOLVED = ("model_sha256",)  # filled in by the regime before the config is stored


def unresolved(value):
    """``value`` with the RESOLVED fields dropped at every level."""
    if isinstance(value, dict):
        return {k: unresolved(v) for k, v in value.items() if k not in RESOLVED}
    return value


def canonical(config: dict) -> str:
    return json.dumps(unresolved(config), sort_keys=True)


def stored(store: Path) -> dict[str, Path]:
    """Canonical config JSON -> run folder, for every finished training run in ``store``
    (pass STORE as the demo was given it: a tuned run names its base's folder by it)."""
    found = {}
    for config in store.glob("*/*/config.json"):
        if config.parent.parent.name != "study" and (config.parent / "complete.json").exists():
            found[canonical(json.loads(config.read_text()))] = config.parent
    return found


def folder_of(config, runs: dict[str, Path]) -> Path | None:
    return runs.get(canonical(to_dict(config)))


def study_runs(name: str, scale: str, runs: dict[str, Path]) -> tuple[list[Path], int]:
    """(the plan's run folders found in the store, how many runs were not found), stage by
    stage; a stage whose earlier stages are not all found cannot be listed and is skipped."""
    plan = study_plan(name, STUDIES[name].scales[scale]())
    models: dict = {}
    found: list[Path] = []
    missing = 0
    for stage in plan.stages():
        folders = {config: folder_of(config, runs) for config in stage(models)}
        found += [f for f in folders.values() if f is not None]
        missing += sum(f is None for f in folders.values())
        if missing:
            break
        models |= {config: str(folder / "model") for config, folder in folders.items()}
    return found, missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--scale", default="quick")
    args = parser.parse_args()
    runs = stored(args.store)
    every: set[Path] = set()
    print("| study | runs | training (s) | missing runs |\n|---|---|---|---|")
    for name in STUDIES:
        found, missing = study_runs(name, args.scale, runs)
        every |= set(found)
        total = sum(seconds(f) for f in found)
        print(f"| {name} | {len(found)} | {total:.0f} | {missing} |")
    print(f"| **all, shared runs once** | {len(every)} | {sum(map(seconds, every)):.0f} | |")


if __name__ == "__main__":
    main()
