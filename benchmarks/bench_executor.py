"""Study 3a (rl-weights), reduced from its full design: inline against Ray with 2 workers.

Run: .venv/bin/python benchmarks/bench_executor.py [--repeats 1] [--seeds 2]
     [--set lrs=1e-5,1e-4,1e-3 --set rl.steps=20 ...] [--one-thread]

Each arm runs the study as `regimescope study rl-weights --scale full --executor E` does,
in a fresh, empty store: the plan (the base, then every regime x rate x seed run) on the
executor, then the study in this process, which finds every run trained and only
analyses. Arms alternate (inline, ray, ray, inline, ...), so a machine that slows down
slows both (``--one-thread`` adds inline with one torch thread, to tell the gain of two
processes from the cost of two threads on tiny matrices). Reported per arm: wall time of
the plan and of the whole study, and CPU time (this process plus, for Ray, every process
Ray started, read before it shuts down).

The Ray arm then measures the executor's per-job cost: the whole plan sent again, every run
now complete (each job opens its run, finds it done and returns), and 50 no-op Ray tasks.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import psutil
import torch

from regimescope.executor import Executor, opened, study_plan, train_plan
from regimescope.studies import STUDIES, run_study, study_config

NAME = "rl-weights"
SETS = ["lrs=1e-5,1e-4,1e-3", "rl.steps=20", "rl.checkpoint_every=20", "base.steps=100"]
NOOPS = 50


def cpu_seconds(processes) -> float:
    """User + system CPU seconds of ``processes`` (those that ended are skipped)."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def noop_seconds(ray) -> float:
    """Mean wall seconds of one no-op Ray task, ``NOOPS`` sent at once."""
    noop = ray.remote(lambda: None)
    ray.get(noop.remote())  # a warm worker
    start = time.perf_counter()
    ray.get([noop.remote() for _ in range(NOOPS)])
    return (time.perf_counter() - start) / NOOPS


def arm(executor: Executor, seeds: int, sets: list[str]) -> dict[str, float]:
    """One run of the study on ``executor`` in a fresh store: its times (seconds)."""
    study = STUDIES[NAME]
    config = study_config(study, "full", seeds, sets)
    me = psutil.Process()
    cpu_before = time.process_time()
    found: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        with opened(executor, root) as pool:
            train_plan(study_plan(NAME, config), pool, lambda outcome: None)
            found["plan_s"] = time.perf_counter() - start
            found["cpu_s"] = 0.0
            if executor.name == "ray":  # Ray's processes are this one's children until shutdown
                found["cpu_s"] = cpu_seconds(me.children(recursive=True))
                found |= overheads(pool, config)
        analysis = time.perf_counter()
        run_study(study, "full", seeds, root, sets=sets)
        found["analysis_s"] = time.perf_counter() - analysis
        found["study_s"] = time.perf_counter() - start
    found["cpu_s"] += time.process_time() - cpu_before
    return found


def overheads(pool, config) -> dict[str, float]:
    """Per-job seconds of the plan sent again (every run complete) and of a no-op task."""
    plan = study_plan(NAME, config)
    jobs = len(plan.first) + len(plan.then({base: "" for base in plan.first}))
    start = time.perf_counter()
    train_plan(plan, pool, lambda outcome: None)
    reused = (time.perf_counter() - start) / jobs
    return {"reused_job_s": reused, "noop_task_s": noop_seconds(pool.ray)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--set", dest="sets", action="append", default=None)
    parser.add_argument("--one-thread", action="store_true", help="add inline with 1 thread")
    args = parser.parse_args()
    sets = args.sets or SETS
    cores = os.cpu_count() or 1
    names = ["inline", "ray"] + (["inline-1"] if args.one_thread else [])
    order = [name for i in range(args.repeats) for name in (names if i % 2 == 0 else names[::-1])]
    results = {name: [] for name in names}
    for name in order:
        torch.set_num_threads(1 if name == "inline-1" else cores)  # inline: every core
        executor = Executor("ray", cores) if name == "ray" else Executor("inline")
        results[name].append(arm(executor, args.seeds, sets))
        print(name, {k: round(v, 3) for k, v in results[name][-1].items()}, flush=True)
    report(results, cores, args.seeds, sets)


def report(results: dict, cores: int, seeds: int, sets: list[str]) -> None:
    """Means over repeats and the inline / ray ratios."""
    mean = {
        name: {key: sum(r[key] for r in runs) / len(runs) for key in runs[0]}
        for name, runs in results.items()
    }
    inline, ray = mean["inline"], mean["ray"]
    print(f"study {NAME} at full, {seeds} seeds, {' '.join(sets)}; {cores} cores")
    for key in ("plan_s", "analysis_s", "study_s", "cpu_s"):
        ratio = inline[key] / ray[key]
        print(f"{key}: inline {inline[key]:.1f}, ray {ray[key]:.1f}, inline / ray {ratio:.2f}")
    if "inline-1" in mean:
        one = mean["inline-1"]
        print(f"inline, 1 thread: plan {one['plan_s']:.1f}, study {one['study_s']:.1f}")
    print(f"per job, every run complete: {ray['reused_job_s'] * 1000:.0f} ms")
    print(f"per no-op Ray task ({NOOPS} at once): {ray['noop_task_s'] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
