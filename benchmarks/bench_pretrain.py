"""Pretraining throughput per preset, as a fraction of this machine's fp32 matmul peak.

Run: .venv/bin/python benchmarks/bench_pretrain.py [--steps 30] [--batch-size 32]

The peak is measured in the same process just before (best of several 1024x1024 fp32
matmuls), so the fraction is a ratio of two figures taken on the same machine state.
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


def matmul_peak(size: int = 1024, repeats: int = 20) -> float:
    """Best fp32 matmul FLOP/s over a few trials of ``repeats`` (size x size) products."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = 0.0
    for _ in range(5):
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
    cfg = PretrainConfig(organism=PRESETS[name](), batch_size=batch_size, steps=steps)
    model, tokenizer = build_organism(cfg.organism)
    model.train()
    optimizer = build_optimizer(model, cfg.lr, cfg.weight_decay, cfg.betas)
    task = get_task(cfg.task)
    batches = [make_batch(cfg, task, tokenizer, s) for s in range(steps + 3)]
    for batch in batches[:3]:  # warm-up steps, not timed
        train_step(model, optimizer, batch, cfg.grad_clip)
    start = time.perf_counter()
    for batch in batches[3:]:
        train_step(model, optimizer, batch, cfg.grad_clip)
    seconds = time.perf_counter() - start
    timed = batches[3:]
    real = sum(int(b.attention_mask.sum()) for b in timed)
    padded = sum(b.input_ids.numel() for b in timed)
    lengths_sq = sum(b.input_ids.shape[0] * b.input_ids.shape[1] ** 2 for b in timed)
    org = cfg.organism
    flops = 6 * matmul_params(model) * padded + 12 * org.depth * org.width * lengths_sq
    return {
        "preset": name,
        "tokens_per_s": real / seconds,
        "padded_tokens_per_s": padded / seconds,
        "flops_per_s": flops / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    peak = matmul_peak()
    print(f"fp32 matmul peak (1024^3): {peak / 1e9:.1f} GFLOP/s")
    print("| preset | tokens/s (real) | tokens/s (padded) | GFLOP/s | fraction of matmul peak |")
    print("|---|---|---|---|---|")
    for name in PRESETS:
        r = bench_preset(name, args.steps, args.batch_size)
        print(
            f"| {name} | {r['tokens_per_s']:,.0f} | {r['padded_tokens_per_s']:,.0f} "
            f"| {r['flops_per_s'] / 1e9:.1f} | {r['flops_per_s'] / peak:.2f} |"
        )


if __name__ == "__main__":
    main()
