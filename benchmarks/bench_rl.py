"""RL throughput per preset: steps per second, rollout tokens per second, time split.

Run: .venv/bin/python benchmarks/bench_rl.py [--steps 10] [--presets micro small] [--threads N]

Each step is what ``regimes.rl.rl_step`` does on a non-logged step: take P prompts of the
task, sample n completions each with the shared sampler, verify them, then one GRPO
update (forward of the B = P*n prompt+completion sequences, loss, backward, AdamW).
The two phases are timed apart: sampling (rollouts + verification) and the gradient
step (advantages, batch building, forward, backward, optimizer). The organism is freshly
initialised, so completions mostly run to ``max_new_tokens`` (the worst case for both
phases); rollout tokens counts the generated tokens (EOS included). One warm-up step is
excluded from the timings.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from regimescope.organisms import PRESETS, build_organism, count_parameters
from regimescope.regimes.common import build_optimizer
from regimescope.regimes.curriculum import CurriculumConfig, step_examples
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig, sampling_config, update
from regimescope.regimes.rollout import collect
from regimescope.tasks import get_task


def rollout_tokens(rollouts) -> int:
    return sum(len(c.token_ids) + c.finished for row in rollouts.completions for c in row)


def bench_preset(name: str, cfg: RLConfig, steps: int) -> dict:
    model, tokenizer = build_organism(PRESETS[name](), seed=0)
    model.train()
    task = get_task(cfg.curriculum.tasks[0])
    optimizer = build_optimizer(model, cfg.lr, cfg.weight_decay, cfg.betas)
    sample_s = update_s = 0.0
    tokens = 0
    for step in range(steps + 1):
        start = time.perf_counter()
        examples = step_examples(task, step, cfg.prompts_per_step, cfg.seed)
        rollouts = collect(model, tokenizer, task, examples, sampling_config(cfg, step))
        middle = time.perf_counter()
        update(model, None, optimizer, tokenizer, rollouts, cfg, log=False)
        end = time.perf_counter()
        if step > 0:  # the first step warms up allocators and caches
            sample_s += middle - start
            update_s += end - middle
            tokens += rollout_tokens(rollouts)
    total = sample_s + update_s
    return {
        "preset": name,
        "params": count_parameters(model),
        "steps_per_s": steps / total,
        "rollout_tokens_per_s": tokens / total,
        "sampling_tokens_per_s": tokens / sample_s,
        "tokens_per_step": tokens / steps,
        "sampling_share": sample_s / total,
        "update_share": update_s / total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--presets", nargs="+", default=["micro", "small"])
    parser.add_argument("--task", default="countdown")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = RLConfig(
        curriculum=CurriculumConfig((args.task,)),
        prompts_per_step=args.prompts,
        samples_per_prompt=args.samples,
        max_new_tokens=args.max_new_tokens,
        recorder=RecorderConfig(kl=False),
    )
    cfg = replace(cfg, objective="grpo")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; task {args.task}, "
        f"P={args.prompts} x n={args.samples}, max_new_tokens={args.max_new_tokens}, "
        f"{args.steps} timed steps"
    )
    header = "preset     params  steps/s  rollout tok/s  sampling tok/s  tok/step  sampling  update"
    print(header)
    for name in args.presets:
        r = bench_preset(name, cfg, args.steps)
        cells = [f"{r['preset']:<7} {r['params']:>9,}", f"{r['steps_per_s']:7.2f}"]
        cells += [f"{r['rollout_tokens_per_s']:13.0f}", f"{r['sampling_tokens_per_s']:14.0f}"]
        cells += [f"{r['tokens_per_step']:8.0f}", f"{r['sampling_share']:8.0%}"]
        print("  ".join(cells + [f"{r['update_share']:6.0%}"]))


if __name__ == "__main__":
    main()
