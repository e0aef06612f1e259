"""What a rerun pays for samples already drawn: the sample cache against drawing again.

Run: .venv/bin/python benchmarks/bench_sample_cache.py [--preset small] [--prompts 200]
     [--n 64] [--max-new 48]

In one process: draw n completions for each of `--prompts` countdown test prompts from a
freshly built organism with no cache (the baseline), then the same call inside
`sample_cache.caching` twice: a miss (draw + key + write) and a hit (key + read +
decode). The figures are the miss's and the hit's wall times as ratios of the baseline's,
and the disk taken per completion.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from regimescope.organisms import build_organism, preset
from regimescope.sampler import cache as sample_cache
from regimescope.sampler.decode import SamplingConfig, sample
from regimescope.tasks import get_task


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--max-new", type=int, default=48)
    args = parser.parse_args()
    model, tokenizer = build_organism(preset(args.preset), seed=0)
    task = get_task("countdown")
    prompts = [task.example(i, "test").prompt for i in range(args.prompts)]
    config = SamplingConfig(n=args.n, max_new_tokens=args.max_new, seed=0)
    draw = lambda: sample(model, tokenizer, prompts, config)  # noqa: E731
    baseline, drawn = timed(draw)
    with tempfile.TemporaryDirectory() as root, sample_cache.caching(root):
        miss, _ = timed(draw)
        hit, again = timed(draw)
        disk = sum(p.stat().st_size for p in Path(root).rglob("*.npz"))
    assert again == drawn, "the cache returned different completions"
    rows = args.prompts * args.n
    print(f"{args.preset}: {args.prompts} prompts x n={args.n}, {torch.get_num_threads()} threads")
    print(f"draw, no cache: {baseline:.2f} s ({rows / baseline:,.0f} completions/s)")
    print(f"miss (draw + write): {miss:.2f} s = {miss / baseline:.3f} x baseline")
    print(f"hit (read back):    {hit:.2f} s = {hit / baseline:.3f} x baseline")
    print(f"disk: {disk / rows:.1f} bytes per completion ({disk / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
