"""Rollouts: sample n completions per prompt, score them, and turn them into token batches.

Shared by RL (on-policy rollouts) and self-SFT (rejection sampling). Sampling goes
through the shared sampler (``regimescope.sampler``), seeded per step, so rollouts are a
pure function of (model weights, config, step). Sampled tokens get their classes (plan,
exec, format, answer) from ``tasks.token_classes``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from regimescope.regimes.common import IGNORE, Batch, collate
from regimescope.sampler.decode import Completion, SamplingConfig, sample
from regimescope.tasks.base import TOKEN_CLASSES, Example, Task
from regimescope.tasks.encode import Encoded, encode_prompt
from regimescope.tasks.token_classes import token_class_ids


@dataclass(frozen=True)
class Rollouts:
    examples: list[Example]  # the P prompts' examples
    completions: list[list[Completion]]  # [P][n] sampled completions
    rewards: torch.Tensor  # (P, n) verifier rewards in [0, 1]
    formats: list[str | None]  # B = P * n formats of the completions, prompt-major


def step_seed(seed: int, step: int) -> int:
    """The sampling seed of a step: distinct per (run seed, step), stable across runs."""
    return (seed * 1_000_003 + step) % (1 << 62)


def collect(
    model, tokenizer, task: Task, examples: list[Example], sampling: SamplingConfig
) -> Rollouts:
    """Sample ``sampling.n`` completions of each example's prompt and score them."""
    completions = sample(model, tokenizer, [e.prompt for e in examples], sampling)
    rewards = [
        [task.verify(e, c.text).reward for c in row]
        for e, row in zip(examples, completions, strict=True)
    ]
    formats = [task.classify_format(c.text) for row in completions for c in row]
    return Rollouts(examples, completions, torch.tensor(rewards, dtype=torch.float32), formats)


# ---------------------------------------------------------------- token batches


def encode_sample(tokenizer, example: Example, completion: Completion) -> Encoded:
    """``[BOS] prompt completion [EOS if it finished]`` with its completion mask and classes."""
    prompt = encode_prompt(tokenizer, example.prompt)
    eos = (
        [tokenizer.eos_token_id]
        if completion.finished and tokenizer.eos_token_id is not None
        else []
    )
    generated = list(completion.token_ids) + eos
    classes = token_class_ids(tokenizer, example, completion) + [
        TOKEN_CLASSES.index("format")
    ] * len(eos)
    return Encoded(
        input_ids=prompt + generated,
        completion_mask=[0] * len(prompt) + [1] * len(generated),
        class_ids=[-1] * len(prompt) + classes,
    )


def rollout_batch(tokenizer, rollouts: Rollouts) -> Batch:
    """All B = P * n (prompt, completion) sequences as one right-padded batch, prompt-major."""
    encoded = [
        encode_sample(tokenizer, e, c)
        for e, row in zip(rollouts.examples, rollouts.completions, strict=True)
        for c in row
    ]
    return collate(encoded, tokenizer.pad_token_id, loss_on="completion")


def shifted(batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(tokens, mask, class_ids), each (B, T-1), aligned with ``logits[:, :-1]``.

    Position t of the logits predicts token t+1; ``mask`` is 1 where that token is a
    completion token (the loss positions), ``tokens`` has IGNORE replaced by 0.
    """
    labels = batch.labels[:, 1:]  # (B, T-1)
    mask = labels != IGNORE
    return labels.clamp(min=0), mask, batch.class_ids[:, 1:]
