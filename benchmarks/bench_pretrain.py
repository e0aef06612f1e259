"""Pretraining throughput per preset, as a fraction of this machine's fp32 matmul peak.

Run: .venv/bin/python benchmarks/bench_pretrain.py [--steps 30] [--batch-size 32]

The peak (best 1024x1024 fp32 matmul rate) is measured in the same process, interleaved
with the timed training steps, and both are best-of-N, so the fraction compares two
figures taken under the same machine state.
Training FLOPs per step = 6 * (matmul parameters) * (padded tokens)
                        + 12 * layers * width * sum over rows of T_row^2 (attention, fwd+bwd)
with the LM head counted (tied embeddings are a matmul on the output side).
"""

from __future__ import annotations

import argparse
import time

import torch

from regimescope.organisms import PRESETS, build_organism
from regimescope.regimes.common import build_optimizer
from regimescope.regimes.pretrain import PretrainConfig, make_batch, train_step
from regimescope.tasks import get_task


def matmul_peak(size: int = 1024, repeats: int = 20, trials: int = 5) -> float:
    """Best fp32 matmul FLOP/s over ``trials`` trials of ``repeats`` (size x size) products."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = 0.0
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - start))
    return best


def matmul_params(model) -> int:
    """Parameters that take part in matmuls: every 2-D weight (embedding lookup excluded,
    the LM head included, even when tied)."""
    head = model.get_output_embeddings().weight.numel()
    inner = sum(p.numel() for n, p in model.named_parameters() if p.dim() == 2 and "embed" not in n)
    return inner + head


def bench_preset(name: str, steps: int, batch_size: int) -> dict:
    """Best-of-``steps`` step time on one fixed batch, and the matmul peak right beside it.

    On a shared machine the fastest repeat is the least disturbed one, so both the step
    and the peak are taken as the best of several tries, interleaved in time.
    """
    cfg = PretrainConfig(organism=PRESETS[name](), batch_size=batch_size, steps=steps)
    model, tokenizer = build_organism(cfg.organism)
    model.train()
    optimizer = build_optimizer(model, cfg.lr, cfg.weight_decay, cfg.betas)
    batch = make_batch(cfg, get_task(cfg.task), tokenizer, 0)
    for _ in range(3):  # warm-up steps, not timed
        train_step(model, optimizer, batch, cfg.grad_clip)
    best_step, peak = float("inf"), 0.0
    for _ in range(steps):
        start = time.perf_counter()
        train_step(model, optimizer, batch, cfg.grad_clip)
        best_step = min(best_step, time.perf_counter() - start)
        peak = max(peak, matmul_peak(repeats=4, trials=1))
    real = int(batch.attention_mask.sum())
    padded = batch.input_ids.numel()
    rows, width = batch.input_ids.shape
    org = cfg.organism
    flops = 6 * matmul_params(model) * padded + 12 * org.depth * org.width * rows * width**2
    return {
        "preset": name,
        "tokens_per_s": real / best_step,
        "padded_tokens_per_s": padded / best_step,
        "flops_per_s": flops / best_step,
        "peak": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("| preset | tokens/s (real) | tokens/s (padded) | GFLOP/s | peak GFLOP/s | fraction |")
    print("|---|---|---|---|---|---|")
    for name in PRESETS:
        r = bench_preset(name, args.steps, args.batch_size)
        print(
            f"| {name} | {r['tokens_per_s']:,.0f} | {r['padded_tokens_per_s']:,.0f} "
            f"| {r['flops_per_s'] / 1e9:.1f} | {r['peak'] / 1e9:.1f} "
            f"| {r['flops_per_s'] / r['peak']:.2f} |"
        )


if __name__ == "__main__":
    main()
