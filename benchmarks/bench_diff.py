"""Checkpoint diff against the common approach, on a generated pair of ~1 GB fp32 checkpoints.

Run: .venv/bin/python benchmarks/bench_diff.py [--layers 4] [--repeats 3] [--dir DIR] [--rank]

The pair is Llama-shaped (hidden 2048, MLP 5632, vocab 32000, tied embeddings; 4 layers
give 271M parameters, 1.08 GB per file). Tuned = base + N(0, 1e-5²) updates on half the
elements, and 20% of the embedding rows left untouched (tokens never seen).

Contenders, each in a fresh subprocess, in turn, ``--repeats`` times (the naive rows, whose
margin is wide and which take long, ``--naive-repeats`` times):

- ``naive``: the common approach, as in the sparsity_in_rl scripts. Load both files whole
  (``safetensors.torch.load_file``), then per tensor: Δ, Δ ≠ 0, bf16 casts compared, and
  ``torch.isclose(Δ, 0, atol=τ, rtol=0)`` for each τ, plus the norms.
- ``naive-1t``: the same with one torch thread. On a shared machine, torch's default
  OpenMP threads spin against other processes' work and slow ``naive`` far more than a
  thread pool; this row bounds that effect.
- ``ours``: ``diff_checkpoints(..., rank none)``, the same figures plus the bf16-invisible
  prediction, frozen embedding rows, and per-layer and per-kind groups.
- ``floor``: read every byte of both files, in 8 MiB reads into one reused buffer.
- with ``--rank``, once: ``ours+rank``, ``diff_checkpoints`` with randomized rank figures
  (top 256 singular values, 2 power iterations). This is extra work that ``naive`` does
  not do, so it is not part of the comparison.

Time is the child's own work time, after imports, and is the figure compared. Startup
(Python + torch import) is reported apart. Peak memory is the child's maximum resident
set, from ``os.wait4``. Page caches cannot be dropped here, so both files are read once
before every child: all contenders run warm, the same way. The children's totals are
checked against each other, so a fast but wrong contender fails the run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOLERANCES = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3)
CONTENDERS = ("naive", "naive-1t", "ours", "floor")


def shapes(layers: int, hidden: int = 2048, mlp: int = 5632, vocab: int = 32000) -> dict:
    """Tensor name -> shape of a Llama-style model with tied embeddings."""
    out = {"model.embed_tokens.weight": (vocab, hidden), "model.norm.weight": (hidden,)}
    for i in range(layers):
        p = f"model.layers.{i}."
        out |= {
            p + "input_layernorm.weight": (hidden,),
            p + "post_attention_layernorm.weight": (hidden,),
        }
        out |= {
            p + f"self_attn.{m}.weight": (hidden, hidden)
            for m in ("q_proj", "k_proj", "v_proj", "o_proj")
        }
        out |= {p + f"mlp.{m}.weight": (mlp, hidden) for m in ("gate_proj", "up_proj")}
        out[p + "mlp.down_proj.weight"] = (hidden, mlp)
    return out


def generate(folder: Path, layers: int) -> tuple[Path, Path]:
    """Write base.safetensors and tuned.safetensors (seeded)."""
    import torch
    from safetensors.torch import save_file

    base_path, tuned_path = folder / "base.safetensors", folder / "tuned.safetensors"
    gen = torch.Generator().manual_seed(0)
    tensors = {}
    for name, shape in shapes(layers).items():
        tensors[name] = (
            torch.ones(shape) if len(shape) == 1 else torch.randn(shape, generator=gen) * 0.02
        )
    save_file(tensors, base_path)
    for name, weight in tensors.items():
        touched = torch.rand(weight.shape, generator=gen) < 0.5
        update = torch.randn(weight.shape, generator=gen) * 1e-5 * touched
        if "embed_tokens" in name:
            update[-weight.shape[0] // 5 :] = 0  # tokens never seen: rows left untouched
        weight.add_(update)
    save_file(tensors, tuned_path)
    return base_path, tuned_path


# --- contenders (run in a child process) ----------------------------------------------------


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> dict:
    """Wall and CPU seconds (all threads of this process) since ``start``."""
    return {"seconds": time.perf_counter() - start[0], "cpu": time.process_time() - start[1]}


def run_naive(base: str, tuned: str, threads: int = 0) -> dict:
    import torch
    from safetensors.torch import load_file

    if threads:
        torch.set_num_threads(threads)
    start = clock()
    a, b = load_file(base), load_file(tuned)
    totals = {"params": 0, "changed_fp32": 0, "changed_bf16": 0, "atol": [0] * len(TOLERANCES)}
    totals["delta_sq"] = 0.0
    for name in a:
        w, w2 = a[name].float(), b[name].float()
        delta = w2 - w
        totals["params"] += delta.numel()
        totals["changed_fp32"] += int((delta != 0).sum())
        totals["changed_bf16"] += int((w.bfloat16() != w2.bfloat16()).sum())
        for k, tol in enumerate(TOLERANCES):
            same = torch.isclose(delta, torch.zeros_like(delta), atol=tol, rtol=0)
            totals["atol"][k] += int((~same).sum())
        totals["delta_sq"] += float((delta * delta).sum())
    return since(start) | {"totals": totals}


def run_ours(base: str, tuned: str, rank: str) -> dict:
    from regimescope.instruments.diff import DiffConfig, diff_checkpoints
    from regimescope.instruments.precision import PanelCounts
    from regimescope.instruments.rank import RankConfig

    start = clock()
    config = DiffConfig(tolerances=TOLERANCES, rank=RankConfig(method=rank))
    result = diff_checkpoints(base, [tuned], config)
    spent = since(start)
    c = sum((t.counts for t in result.runs[0].tensors), PanelCounts.zero(len(TOLERANCES)))
    totals = {
        "params": c.params,
        "changed_fp32": c.changed_fp32,
        "changed_bf16": c.changed_bf16,
        "atol": list(c.changed_atol),
        "delta_sq": c.delta_sq,
        "frozen_rows": sum(t.frozen_rows for t in result.runs[0].tensors),
    }
    return spent | {"totals": totals, "workers": result.workers}


def run_floor(base: str, tuned: str) -> dict:
    import numpy as np

    start = clock()
    buffer, total = np.empty(8 << 20, dtype=np.uint8), 0
    for path in (base, tuned):
        with open(path, "rb", buffering=0) as handle:
            while got := handle.readinto(buffer):
                total += got
    return since(start) | {"totals": {"bytes": total}}


def child(name: str, base: str, tuned: str) -> None:
    if name == "generate":
        generate(Path(base), int(tuned))
        return
    import torch  # noqa: F401  (every contender pays the same import before its clock starts)

    runners = {
        "naive": lambda: run_naive(base, tuned),
        "naive-1t": lambda: run_naive(base, tuned, threads=1),
        "ours": lambda: run_ours(base, tuned, "none"),
        "ours+rank": lambda: run_ours(base, tuned, "randomized"),
        "floor": lambda: run_floor(base, tuned),
    }
    print(json.dumps(runners[name]()))


# --- parent ---------------------------------------------------------------------------------


def warm(*paths: Path) -> None:
    """Read files once so every contender starts from the same (warm) page cache."""
    for path in paths:
        with open(path, "rb", buffering=0) as handle:
            while handle.read(64 << 20):
                pass


def measure(name: str, base: Path, tuned: Path) -> dict:
    """Run one contender in a fresh process: its report, wall time and peak RSS (MiB)."""
    warm(base, tuned)
    start = time.perf_counter()
    cmd = [sys.executable, __file__, "--child", name, str(base), str(tuned)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{name} failed with exit code {proc.returncode}")
    report = json.loads(out.strip().splitlines()[-1])
    return report | {"wall": time.perf_counter() - start, "rss_mib": usage.ru_maxrss / 1024}


def check_agreement(results: dict) -> None:
    """The contenders must agree on every count they share."""
    if "naive" not in results:
        return
    ref = results["naive"][0]["totals"]
    for name in ("naive-1t", "ours", "ours+rank"):
        if name not in results:
            continue
        got = results[name][0]["totals"]
        for key in ("params", "changed_fp32", "changed_bf16", "atol"):
            if got[key] != ref[key]:
                raise SystemExit(f"{name} disagrees with naive on {key}: {got[key]} vs {ref[key]}")
        if abs(got["delta_sq"] - ref["delta_sq"]) > 1e-4 * ref["delta_sq"]:
            raise SystemExit(f"{name} disagrees with naive on ||delta||^2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours and floor")
    parser.add_argument("--naive-repeats", type=int, default=1, help="runs of the naive rows")
    parser.add_argument("--dir", type=Path, help="keep the pair here (reused if present)")
    parser.add_argument("--rank", action="store_true", help="also time ours with rank figures")
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(CONTENDERS))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        base, tuned = folder / "base.safetensors", folder / "tuned.safetensors"
        if not (base.is_file() and tuned.is_file()):
            start = time.perf_counter()
            # generated in a child, so this process stays small: a child's peak RSS from
            # wait4 includes the parent's RSS at fork time
            subprocess.run(
                [sys.executable, __file__, "--child", "generate", str(folder), str(args.layers)],
                check=True,
            )
            print(f"generated the pair in {time.perf_counter() - start:.0f} s")
        size = base.stat().st_size / 2**30
        print(f"2 x {size:.2f} GiB; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f} before")
        chosen = args.only.split(",") if args.only else list(CONTENDERS)
        results = {name: [] for name in chosen}
        for round_ in range(args.repeats):  # interleaved: drifts in machine load hit all alike
            for name in chosen:
                if not name.startswith("naive") or round_ < args.naive_repeats:
                    results[name].append(measure(name, base, tuned))
        if args.rank:
            results["ours+rank"] = [measure("ours+rank", base, tuned)]
        check_agreement(results)
    print(f"load {os.getloadavg()[0]:.1f} after")
    report(results)


def report(results: dict) -> None:
    """Markdown table of medians, with ratios to naive and to the read floor."""
    med = {
        name: {
            key: statistics.median(run[key] for run in runs)
            for key in ("seconds", "cpu", "wall", "rss_mib")
        }
        for name, runs in results.items()
    }
    nan = {"seconds": math.nan, "cpu": math.nan, "rss_mib": math.nan}
    naive, floor = med.get("naive", nan), med.get("floor", nan)
    print(
        "| contender | work s (min) | CPU s | + startup s | peak RSS MiB | time / naive "
        "| RSS / naive | time / floor | CPU / floor CPU |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, m in med.items():
        fastest = min(run["seconds"] for run in results[name])
        label = f"{name} ({len(results[name])})"
        print(
            f"| {label} | {m['seconds']:.2f} ({fastest:.2f}) | {m['cpu']:.2f} "
            f"| {m['wall'] - m['seconds']:.2f} | {m['rss_mib']:.0f} "
            f"| {m['seconds'] / naive['seconds']:.3f} | {m['rss_mib'] / naive['rss_mib']:.2f} "
            f"| {m['seconds'] / floor['seconds']:.1f} | {m['cpu'] / floor['cpu']:.1f} |"
        )
    workers = results["ours"][0]["workers"] if "ours" in results else "-"
    print(f"medians of (n) interleaved runs, fastest in brackets; ours: {workers} workers")


if __name__ == "__main__":
    main()
