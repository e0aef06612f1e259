"""The sampler on a CUDA GPU against the CPU, in one process: agreement and speed.

Run (on a machine with a CUDA GPU):
    python benchmarks/bench_device.py --model FOLDER [--task countdown] [--problems 64]
        [--n 256] [--max-new-tokens 48] [--threads 16] [--batches 1024 16384] [--repeats 3]
        [--json OUT]

One trained model is loaded twice, on the CPU (``--threads`` torch threads) and on
``cuda``, and samples the same prompts (the first ``--problems`` of the task's test split)
with the same ``SamplingConfig`` (n, temperature 1, seed 0, automatic batch). Randomness is
counter-based (``sampler.tokens``), so the two devices draw the same uniforms; they can
differ only where float rounding moves a token across an inverse-CDF boundary. Reported:

- agreement: the share of completions whose token ids are identical on both devices, and
  the share of (problem, sample) rewards that agree;
- pass@k for k = 1, 4, 16, 64, n on each device and the largest difference (the unbiased
  estimator over the same P x n reward matrix the pass@k instrument reads);
- speed: generated tokens per wall second on each device (median of ``--repeats`` calls
  after one untimed call of the same size), and the ratio to the CPU; the GPU is
  synchronised around each call. Each of ``--batches`` (rows decoded together) is timed on
  the GPU beside the automatic batch (``sampling.auto_rows``: 1024 rows on a CPU, up to
  16384 on a GPU).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace

import numpy as np
import torch

from regimescope.instruments.passk import pass_at_k_table
from regimescope.organisms import load_model
from regimescope.sampler.decode import SamplingConfig, sample
from regimescope.tasks import examples, get_task


def timed_sample(model, tokenizer, prompts, cfg, repeats: int) -> tuple[list, float]:
    """(completions, median wall seconds of ``repeats`` calls) after one untimed call of the
    same size (it warms the allocator and kernels); the GPU is synchronised around each."""
    timings = []
    for _ in range(repeats + 1):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        outs = sample(model, tokenizer, prompts, cfg)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        timings.append(time.perf_counter() - start)
    return outs, statistics.median(timings[1:])


def rewards(task, items, outs) -> np.ndarray:
    """(P, n) verifier rewards."""
    return np.array(
        [[task.verify(e, c.text).reward for c in row] for e, row in zip(items, outs, strict=True)]
    )


def tokens(outs) -> int:
    return sum(len(c.token_ids) + c.finished for row in outs for c in row)


def identical(a, b) -> float:
    """Share of completions with identical token ids."""
    pairs = [
        (x.token_ids, y.token_ids)
        for ra, rb in zip(a, b, strict=True)
        for x, y in zip(ra, rb, strict=True)
    ]
    return float(np.mean([x == y for x, y in pairs]))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained model folder")
    parser.add_argument("--task", default="countdown")
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=16, help="torch threads on the CPU")
    parser.add_argument(
        "--batches", type=int, nargs="*", default=[1024, 16384], help="rows per GPU batch"
    )
    parser.add_argument("--device", default="cuda", help="compared with cpu (cpu: a dry run)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per setting")
    parser.add_argument("--json", default=None, help="write the figures here")
    return parser.parse_args()


def figures(runs: dict, n: int) -> dict:
    """Speed, agreement and pass@k of every setting against the first (the CPU)."""
    ks = [k for k in (1, 4, 16, 64, n) if k <= n]
    passk = {  # label -> [len(ks)] pass@k averaged over problems
        label: pass_at_k_table(r.sum(axis=1), n, ks).mean(axis=0)
        for label, (_, _, r) in runs.items()
    }
    cpu_outs, cpu_seconds, cpu_rewards = runs["cpu"]
    cpu_rate = tokens(cpu_outs) / cpu_seconds
    per_setting = {}
    for label, (outs, seconds, rewards_) in runs.items():
        per_setting[label] = {
            "tokens": tokens(outs),
            "seconds": seconds,
            "tokens_per_s": tokens(outs) / seconds,
            "speed_ratio_vs_cpu": tokens(outs) / seconds / cpu_rate,
            "identical_completions": identical(cpu_outs, outs),
            "identical_rewards": float((rewards_ == cpu_rewards).mean()),
            "passk": dict(zip(ks, map(float, passk[label]), strict=True)),
            "max_passk_difference_vs_cpu": float(np.abs(passk[label] - passk["cpu"]).max()),
        }
    return per_setting


def main() -> None:
    args = parse_args()
    if args.device != "cpu" and not torch.cuda.is_available():
        sys.exit(f"error: --device {args.device} asked for, but torch sees no CUDA GPU here")
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    items = examples(task, args.problems, "test")
    prompts = [e.prompt for e in items]
    cfg = SamplingConfig(n=args.n, max_new_tokens=args.max_new_tokens, seed=0)
    settings = [("cpu", "cpu", 0), (f"{args.device} (auto batch)", args.device, 0)]
    settings += [(f"{args.device} ({rows} rows)", args.device, rows) for rows in args.batches]
    runs = {}  # label -> (completions, seconds, (P, n) rewards)
    for label, device, batch in settings:
        model, tokenizer = load_model(args.model, device=device)
        outs, seconds = timed_sample(
            model, tokenizer, prompts, replace(cfg, batch_size=batch), args.repeats
        )
        runs[label] = (outs, seconds, rewards(task, items, outs))
        print(f"{label}: {tokens(outs):,} tokens in {seconds:.2f} s", flush=True)
    report = {
        **{k: getattr(args, k) for k in ("model", "task", "problems", "n", "threads")},
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "settings": figures(runs, args.n),
    }
    print(json.dumps(report, indent=1))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=1)


if __name__ == "__main__":
    main()
