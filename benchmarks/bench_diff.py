"""Checkpoint diff against loading both files whole, and against reading them, in one run.

Run: .venv/bin/python benchmarks/bench_diff.py [--repeats 3] [--dir DIR] [--real DIR]

Pair 1 (the issue's): 60 fp32 matrices of 2048 x 2048 (1.0 GB per file); the tuned file
adds N(0, 1e-4^2) to a random 20% of the entries. Pair 2 and 3, with ``--real`` (a model
folder, e.g. the tests' real model): that model against a copy with ~20% of entries moved
the same way, and against its own bf16 cast.

Variants, each in a fresh subprocess (a clean peak RSS), interleaved round by round:

- ``cli``: ``regimescope diff BASE TUNED`` at its defaults, as a user runs it.
- ``cli-rank-none``: the same with ``--rank none``.
- ``lib``: ``diff_checkpoints`` at its defaults, timed after imports (the work alone).
- ``naive``: ``safetensors.torch.load_file`` both whole, then per tensor the fp32 and bf16
  changed counts, ``(a != b).sum()`` and ``(a.bfloat16() != b.bfloat16()).sum()``.
- ``naive-1t``: the same on one torch thread. On a busy machine torch's OpenMP threads
  spin against other processes (inflating even its CPU time); this row bounds that, and
  is the stronger baseline whenever it is faster.
- ``floor``: read every byte of both files into one reused 8 MiB buffer.

Per run: whole-process wall time, whole-process CPU time (user + sys of the child, from
``os.wait4``; it depends far less on other load than wall time does), peak RSS (max RSS
from ``os.wait4``), and for ``lib``, ``naive`` and ``floor`` the work after imports (wall
and CPU). Both files are read once before every child, so every variant starts from the
same warm page cache (caches cannot be dropped here). The counts of ``lib`` and ``naive``
are checked equal, so a fast but wrong variant fails the run. /proc/loadavg is printed
before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = ("cli", "cli-rank-none", "lib", "naive", "naive-1t", "floor")


# --- pairs (generated in a child, so the parent stays small) --------------------------------


def generate_synthetic(folder: Path) -> None:
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(0)
    names = [f"model.layers.{i // 6}.mlp.m{i % 6}.weight" for i in range(60)]
    base = {n: torch.randn(2048, 2048, generator=gen) * 0.02 for n in names}
    save_file(base, folder / "base.safetensors")
    for weight in base.values():
        touched = torch.rand(weight.shape, generator=gen) < 0.2
        weight.add_(torch.randn(weight.shape, generator=gen) * 1e-4 * touched)
    save_file(base, folder / "tuned.safetensors")


def generate_real(model: Path, folder: Path) -> None:
    """folder/tuned (20% of entries moved) and folder/bf16 (a bf16 cast) of ``model``."""
    import torch
    from safetensors.torch import load_file, save_file

    weights = load_file(model / "model.safetensors")
    for sub in ("tuned", "bf16"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    cast = {k: v.bfloat16() for k, v in weights.items()}
    save_file(cast, folder / "bf16" / "model.safetensors", metadata={"format": "pt"})
    gen = torch.Generator().manual_seed(0)
    for weight in weights.values():
        touched = torch.rand(weight.shape, generator=gen) < 0.2
        weight.add_(torch.randn(weight.shape, generator=gen) * 1e-4 * touched)
    save_file(weights, folder / "tuned" / "model.safetensors", metadata={"format": "pt"})


# --- variants (run in a child) --------------------------------------------------------------


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> dict:
    return {"work": time.perf_counter() - start[0], "work_cpu": time.process_time() - start[1]}


def files_of(path: str) -> list[str]:
    p = Path(path)
    return [str(p / "model.safetensors")] if p.is_dir() else [str(p)]


def run_naive(base: str, tuned: str, threads: int = 0) -> dict:
    import torch  # before the clock: the import is timed apart
    from safetensors.torch import load_file

    if threads:
        torch.set_num_threads(threads)
    start = clock()
    a, b = load_file(files_of(base)[0]), load_file(files_of(tuned)[0])
    fp32 = bf16 = params = 0
    for name, w in a.items():
        if not w.is_floating_point():
            continue
        w2 = b[name]
        params += w.numel()
        fp32 += int((w.float() != w2.float()).sum())
        bf16 += int((w.bfloat16() != w2.bfloat16()).sum())
    return since(start) | {"totals": [params, fp32, bf16]}


def run_lib(base: str, tuned: str) -> dict:
    from regimescope.instruments.diff import diff_checkpoints

    start = clock()
    result = diff_checkpoints(base, tuned)
    spent = since(start)
    tensors = result.runs[0].tensors
    totals = [sum(getattr(t.counts, k) for t in tensors) for k in ("params", "changed_fp32")]
    totals.append(sum(t.counts.changed_bf16 for t in tensors))
    return spent | {"totals": totals, "imported_torch": "torch" in sys.modules}


def run_floor(base: str, tuned: str) -> dict:
    import numpy as np

    start = clock()
    buffer, total = np.empty(8 << 20, dtype=np.uint8), 0
    for path in files_of(base) + files_of(tuned):
        with open(path, "rb", buffering=0) as handle:
            while got := handle.readinto(buffer):
                total += got
    return since(start) | {"totals": [total]}


def child(name: str, base: str, tuned: str) -> None:
    runners = {
        "naive": run_naive,
        "naive-1t": lambda a, b: run_naive(a, b, threads=1),
        "lib": run_lib,
        "floor": run_floor,
    }
    print(json.dumps(runners[name](base, tuned)))


# --- parent ---------------------------------------------------------------------------------


def warm(base: str, tuned: str) -> None:
    """Read both files so every variant starts from the same warm page cache."""
    for path in files_of(base) + files_of(tuned):
        with open(path, "rb", buffering=0) as handle:
            while handle.read(64 << 20):
                pass


def command(name: str, base: str, tuned: str) -> list[str]:
    if name.startswith("cli"):
        extra = ["--rank", "none"] if name == "cli-rank-none" else []
        return [sys.executable, "-m", "regimescope.cli", "diff", base, tuned, *extra]
    return [sys.executable, __file__, "--child", name, base, tuned]


def measure(name: str, base: str, tuned: str) -> dict:
    """One variant in a fresh process: wall, CPU (user + sys) and peak RSS of the process."""
    warm(base, tuned)
    start = time.perf_counter()
    out = subprocess.PIPE if not name.startswith("cli") else subprocess.DEVNULL
    proc = subprocess.Popen(command(name, base, tuned), stdout=out, text=True)
    text = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{name} failed with exit code {os.waitstatus_to_exitcode(status)}")
    report = json.loads(text.strip().splitlines()[-1]) if text.strip() else {}
    cpu = usage.ru_utime + usage.ru_stime
    return report | {"wall": wall, "cpu": cpu, "rss_mib": usage.ru_maxrss / 1024}


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def bench(label: str, base: str, tuned: str, variants: list[str], repeats: int) -> None:
    print(f"\n### {label}\nload before: {loadavg()}")
    results: dict[str, list[dict]] = {name: [] for name in variants}
    for _ in range(repeats):  # interleaved: drifts in machine load hit all alike
        for name in variants:
            results[name].append(measure(name, base, tuned))
    print(f"load after: {loadavg()}")
    counted = [results[n][0]["totals"] for n in ("lib", "naive", "naive-1t") if n in results]
    if any(c != counted[0] for c in counted):
        raise SystemExit(f"lib and naive disagree on (params, fp32, bf16): {counted}")
    if len(counted) > 1:
        print(f"counts agree (params, changed fp32, changed bf16): {counted[0]}")
    report(results)


def report(results: dict[str, list[dict]]) -> None:
    """Markdown table of medians (n runs) with ratios to naive."""

    def med(name: str, key: str) -> float:
        values = [r[key] for r in results[name] if key in r]
        return statistics.median(values) if values else float("nan")

    print(
        "| variant | wall s | CPU s | peak RSS MiB | work s | work CPU s "
        "| wall / naive | CPU / naive | RSS / naive | work / naive work | wall / naive-1t |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    naive = {k: med("naive", k) for k in ("wall", "cpu", "rss_mib", "work")}
    one_thread = med("naive-1t", "wall") if "naive-1t" in results else float("nan")
    for name in results:
        m = {k: med(name, k) for k in ("wall", "cpu", "rss_mib", "work", "work_cpu")}
        print(
            f"| {name} ({len(results[name])}) | {m['wall']:.2f} | {m['cpu']:.2f} "
            f"| {m['rss_mib']:.0f} | {m['work']:.2f} | {m['work_cpu']:.2f} "
            f"| {m['wall'] / naive['wall']:.2f} | {m['cpu'] / naive['cpu']:.2f} "
            f"| {m['rss_mib'] / naive['rss_mib']:.2f} | {m['work'] / naive['work']:.2f} "
            f"| {m['wall'] / one_thread:.2f} |"
        )
    torch_in = [r.get("imported_torch") for r in results.get("lib", [])]
    print(f"medians of (n) interleaved runs; lib imported torch: {torch_in[:1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="keep the generated pairs here (reused)")
    parser.add_argument("--real", type=Path, help="a model folder: also diff it (see above)")
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(VARIANTS))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, a, b = args.child
        if name == "generate":
            return generate_synthetic(Path(a)) if b == "-" else generate_real(Path(b), Path(a))
        return child(name, a, b)
    variants = args.only.split(",") if args.only else list(VARIANTS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        base, tuned = folder / "base.safetensors", folder / "tuned.safetensors"
        if not (base.is_file() and tuned.is_file()):
            subprocess.run(command("generate", str(folder), "-"), check=True)
        print(f"{os.cpu_count()} CPUs; pair 1: 2 x {base.stat().st_size / 1e9:.2f} GB")
        bench("60 x 2048 x 2048 fp32, 20% changed", str(base), str(tuned), variants, args.repeats)
        if args.real:
            real = folder / "real"
            if not (real / "bf16" / "model.safetensors").is_file():
                subprocess.run(command("generate", str(real), str(args.real)), check=True)
            for sub, label in (("tuned", "20% changed"), ("bf16", "its bf16 cast")):
                rows = [v for v in variants if v != "cli-rank-none"]
                bench(f"real model vs {label}", str(args.real), str(real / sub), rows, args.repeats)


if __name__ == "__main__":
    main()
