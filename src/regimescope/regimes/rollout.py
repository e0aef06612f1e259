"""Rollouts: sample n completions per prompt, score them, and turn them into token batches.

Shared by RL (on-policy rollouts) and self-SFT (rejection sampling). Sampling goes
through the shared sampler (``regimescope.sampling``), seeded per step, so rollouts are a
pure function of (model weights, config, step).

Token classes of *sampled* completions. A task labels each character of its gold target
(``plan``, ``exec``, ``format``, ``answer``); a sample has no labels of its own. They are
carried over by aligning the sample with the gold target's template: ``format`` runs of
the gold are literal anchors, every other run is a wildcard (digits for a numeric run,
else any text on one line), so ``plan 2*7+3\\n...`` inherits ``plan`` on ``2*7+3`` from a
gold ``plan 3*5+7\\n...``. A sample that does not follow the gold's template (another
format, a malformed line) stays unlabelled (class -1): it counts in overall statistics
but in no class, and HICRA does not amplify any of its tokens.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import torch

from regimescope.regimes.common import IGNORE, Batch, collate
from regimescope.sampling import Completion, SamplingConfig, sample
from regimescope.tasks.base import TOKEN_CLASSES, Example, Task
from regimescope.tasks.encode import Encoded, encode_prompt


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


# ---------------------------------------------------------------- token classes of samples


def template(example: Example) -> re.Pattern:
    """A regex matching completions that follow the gold target's template (see module doc)."""
    pairs = zip(example.target, example.target_classes, strict=True)
    runs = [
        ("".join(ch for ch, _ in group), cls)
        for cls, group in itertools.groupby(pairs, key=lambda x: x[1])
    ]
    parts = []
    for i, (text, cls) in enumerate(runs):
        if cls == "format":
            parts.append(re.escape(text))
        elif text.lstrip("-").isdigit():
            parts.append(r"(-?\d+)")
        else:
            parts.append(r"([^\n]+)" if i == len(runs) - 1 else r"([^\n]+?)")
    return re.compile("".join(parts))


def completion_classes(example: Example, completion: str) -> list[str | None]:
    """One class per character of ``completion`` by template alignment; None = unlabelled."""
    classes: list[str | None] = [None] * len(completion)
    match = template(example).match(completion)
    if match is None:
        return classes
    labelled = [cls for cls, _ in itertools.groupby(example.target_classes)]
    group = 0
    for cls in labelled:
        if cls == "format":
            continue
        group += 1
        for i in range(match.start(group), match.end(group)):
            classes[i] = cls
    for i in range(match.end()):
        classes[i] = classes[i] or "format"
    return classes


def token_class_ids(tokenizer, example: Example, completion: Completion) -> list[int]:
    """TOKEN_CLASSES index per generated token (-1 unlabelled), from ``completion_classes``.

    A token takes the class of its first character. Tokens are aligned with characters by
    re-tokenizing the text; when that does not give back the sampled ids (a non-canonical
    tokenization), every token is unlabelled.
    """
    n = len(completion.token_ids)
    chars = completion_classes(example, completion.text)
    if n == 0 or all(c is None for c in chars):
        return [-1] * n
    encoding = tokenizer(completion.text, add_special_tokens=False, return_offsets_mapping=True)
    if list(encoding["input_ids"]) != list(completion.token_ids):
        return [-1] * n
    ids = []
    for start, end in encoding["offset_mapping"]:
        cls = chars[start] if end > start else "format"
        ids.append(-1 if cls is None else TOKEN_CLASSES.index(cls))
    return ids


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
