"""Peak memory of passk's perplexity pass and of a short SFT run, on the real 135M model.

Run: .venv/bin/python benchmarks/bench_real_memory.py --what passk|sft [--repeats 2]
     [--baseline REF]

The model is the test fixture SmolLM2-135M-Instruct (fp32 safetensors, 538 MB, 134.5M
parameters, vocabulary 49152; ``tests/real_model.py``). Every contender is the
``regimescope`` command line in a fresh subprocess, run in turn, ``--repeats`` times
interleaved, with either this working tree's code (``after``) or the same tree with the
files this change touched put back as they are at git ``REF`` (``before``, default HEAD:
``BASELINE_FILES``, the perplexity pass for passk, the fine-tuning loops for sft), so
other edits in the tree do not move the comparison. Each tree is copied to a temporary
folder and put first on PYTHONPATH. Peak memory is the child's maximum resident set from
``os.wait4``; CPU time is the child's user + system time, beside wall time; the median
over repeats is reported (times also as the minimum, in brackets: the run least disturbed
by other load on a shared machine), and ratios are taken within one run.

- ``--what passk``: ``passk --model M --task arithmetic --n 8 --problems 16
  --max-tokens 32`` (defaults otherwise: the perplexity pass scores 16 samples per problem,
  here all 8, 64 rows a batch), with and without the pass (``--ppl-samples 0``).
  The figure is the peak with the pass over the peak without it.
- ``--what sft``: ``sft M --task arithmetic --steps 2 --batch-size 2`` (defaults
  otherwise: KL to the start recorded, changed fractions, a 32-prompt probe), plus, for
  the working tree, the same run with ``--set recorder.kl=false`` (no reference copy) and
  a child that only loads the model (the floor: Python, torch and the weights). Reported:
  peak bytes per parameter and the run folder's size on disk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


BASELINE_FILES = {  # what --what measures -> the files put back to the baseline
    "passk": ("src/regimescope/instruments/perplexity.py",),
    "sft": tuple(
        f"src/regimescope/{name}"
        for name in (
            "regimes/sft.py",
            "regimes/rl.py",
            "regimes/common.py",
            "regimes/finetune.py",
            "store/rundir.py",
            "commands/train.py",
        )
    ),
}


def baseline_tree(ref: str, files: tuple[str, ...], into: Path) -> Path:
    """A copy of this tree's ``src`` with ``files`` as they are at git ``ref``."""
    shutil.copytree(ROOT / "src", into / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for name in files:
        old = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{ref}:{name}"], capture_output=True, check=True
        ).stdout
        (into / name).write_bytes(old)
    return into / "src"


def measure(argv: list[str], src: Path) -> tuple[float, float, float]:
    """(peak RSS in bytes, wall s, CPU s) of ``python argv`` with ``src`` first on the path."""
    env = os.environ | {"PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, *argv], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed: {child.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss * 1024, wall, usage.ru_utime + usage.ru_stime


def disk_bytes(path: Path) -> int:
    """Bytes of the files under ``path``, a hard-linked file once."""
    sizes = {p.stat().st_ino: p.stat().st_size for p in path.rglob("*") if p.is_file()}
    return sum(sizes.values())


def contenders(what: str, model: Path, before: Path, after: Path, scratch: Path) -> dict:
    """name -> (argv after the interpreter, src folder, store folder or None)."""
    cli = ["-m", "regimescope.cli"]
    if what == "passk":
        run = [*cli, "passk", "--model", str(model), "--task", "arithmetic", "--n", "8"]
        run += ["--problems", "16", "--max-tokens", "32"]
        off = [*run, "--ppl-samples", "0"]
        return {
            "before, no ppl": (off, before, None),
            "before, ppl": (run, before, None),
            "after, no ppl": (off, after, None),
            "after, ppl": (run, after, None),
        }
    run = [*cli, "sft", str(model), "--task", "arithmetic", "--steps", "2", "--batch-size", "2"]
    load = ["-c", f"from regimescope.organisms import load_model; load_model({str(model)!r})"]
    return {
        "load only": (load, after, None),
        "before": (run, before, scratch / "store-before"),
        "after": (run, after, scratch / "store-after"),
        "after, kl off": ([*run, "--set", "recorder.kl=false"], after, scratch / "store-nokl"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=("passk", "sft"), required=True)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--baseline", default="HEAD", help="git ref of the 'before' code")
    args = parser.parse_args()
    from tests.real_model import real_model_dir

    model = real_model_dir()
    params = 134_515_008
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        before = baseline_tree(args.baseline, BASELINE_FILES[args.what], scratch / "before")
        after = shutil.copytree(ROOT / "src", scratch / "after" / "src")
        runs = contenders(args.what, model, before, after, scratch)
        found: dict[str, list[tuple[float, float, float]]] = {name: [] for name in runs}
        folder: dict[str, int] = {}
        for _ in range(args.repeats):
            for name, (argv, src, store) in runs.items():
                extra = ["--store", str(store)] if store is not None else []
                found[name].append(measure([*argv, *extra], src))
                if store is not None:
                    folder[name] = disk_bytes(store)
                    subprocess.run(["rm", "-rf", str(store)], check=True)
                print(name, found[name][-1], flush=True)
    report(args.what, found, folder, params)


def report(what: str, found: dict, folder: dict, params: int) -> None:
    """One line per contender (medians), then the ratios."""
    peak = {n: statistics.median(r[0] for r in rows) for n, rows in found.items()}
    print("\n| contender | peak RSS (GB) | bytes/param | wall (s) | CPU (s) | run folder (GB) |")
    print("|---|---|---|---|---|---|")
    for name, rows in found.items():
        wall = f"{statistics.median(r[1] for r in rows):.1f} ({min(r[1] for r in rows):.1f})"
        cpu = f"{statistics.median(r[2] for r in rows):.1f} ({min(r[2] for r in rows):.1f})"
        size = f"{folder[name] / 1e9:.2f}" if name in folder else "-"
        print(
            f"| {name} | {peak[name] / 1e9:.2f} | {peak[name] / params:.1f} | {wall} | {cpu} "
            f"| {size} |"
        )
    if what == "passk":
        for code in ("before", "after"):
            ratio = peak[f"{code}, ppl"] / peak[f"{code}, no ppl"]
            added = (peak[f"{code}, ppl"] - peak[f"{code}, no ppl"]) / 1e9
            print(
                f"{code}: peak with the perplexity pass / without = {ratio:.2f} (+{added:.2f} GB)"
            )
    else:
        print(f"after / before peak: {peak['after'] / peak['before']:.2f}")
        print(f"after / before run folder: {folder['after'] / folder['before']:.2f}")


if __name__ == "__main__":
    main()
