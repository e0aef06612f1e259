"""Perplexity of sampled completions under a model: how typical one model's outputs are
for another.

For a prompt x and completion y = y_1 .. y_T (EOS included when the sample ended with
it), the perplexity under model m is (Yue et al. 2025, arXiv 2504.13837, sec. 4):

    PPL_m(y | x) = exp( -(1/T) * sum_t log P_m(y_t | x, y_<t) )

unit: effective branching factor in tokens (1 = certain). PPL_base of a tuned model's
samples below the typical PPL_base of the base's own samples says the tuned model draws
from the part of the base distribution the base already finds likely. Completions must
be token ids of the scoring model's tokenizer (``same_tokenizer`` checks two).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from regimescope.tasks.encode import encode_prompt


def same_tokenizer(a, b) -> bool:
    """Whether two tokenizers map text to the same ids (vocabulary and special tokens)."""
    specials = ("bos_token_id", "eos_token_id", "pad_token_id")
    return a.get_vocab() == b.get_vocab() and all(
        getattr(a, s, None) == getattr(b, s, None) for s in specials
    )


def _batch(rows: list[tuple[list[int], list[int]]], device):
    """Right-padded ids [B, L], attention mask [B, L] and a target mask [B, L - 1].

    rows: (prompt ids, completion ids) pairs; the target mask marks the positions whose
    next token belongs to the completion.
    """
    longest = max(len(p) + len(c) for p, c in rows)
    ids = torch.zeros(len(rows), longest, dtype=torch.long)
    mask = torch.zeros(len(rows), longest, dtype=torch.long)
    target = torch.zeros(len(rows), longest - 1, dtype=torch.bool)
    for i, (prompt, completion) in enumerate(rows):
        seq = prompt + completion
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        target[i, len(prompt) - 1 : len(seq) - 1] = True
    return ids.to(device), mask.to(device), target.to(device)


def _token_logp(model, rows: list[tuple[list[int], list[int]]]):
    """log P(next token) at every position [B, L-1] and the completion-target mask [B, L-1]."""
    device = next(model.parameters()).device
    ids, mask, target = _batch(rows, device)
    logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits  # [B, L, V]
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # [B, L-1, V] predicts ids[:, 1:]
    return logp.gather(-1, ids[:, 1:, None]).squeeze(-1), target  # [B, L-1], [B, L-1]


def mean_nll(model, rows: list[tuple[list[int], list[int]]]) -> list[float]:
    """Mean negative log-likelihood (nats per token) of each completion given its prompt."""
    token_logp, target = _token_logp(model, rows)
    total = (token_logp * target).sum(dim=-1)  # [B]
    return (-total / target.sum(dim=-1).clamp(min=1)).tolist()


def token_nll(model, rows: list[tuple[list[int], list[int]]]) -> list[list[float]]:
    """Negative log-likelihood (nats) of each completion token given what precedes it."""
    token_logp, target = _token_logp(model, rows)
    return [(-row[keep]).tolist() for row, keep in zip(token_logp, target, strict=True)]


def perplexities(
    model,
    tokenizer,
    prompts: Sequence[str],
    completions: Sequence[Sequence[Sequence[int]]],
    batch_size: int = 64,
) -> list[list[float]]:
    """PPL under ``model`` of each completion (token ids) of each prompt: [prompt][sample].

    A completion of zero tokens has no perplexity (nan).
    """
    rows = [
        (encode_prompt(tokenizer, prompt), list(ids))
        for prompt, group in zip(prompts, completions, strict=True)
        for ids in group
    ]
    scored = [i for i, (_, c) in enumerate(rows) if c]
    values = [float("nan")] * len(rows)
    with torch.inference_mode():
        for start in range(0, len(scored), batch_size):
            chunk = scored[start : start + batch_size]
            for i, nll in zip(chunk, mean_nll(model, [rows[i] for i in chunk]), strict=True):
                values[i] = float(np.exp(nll))
    out, at = [], 0
    for group in completions:
        out.append(values[at : at + len(group)])
        at += len(group)
    return out


def class_perplexity(
    model,
    tokenizer,
    prompts: Sequence[str],
    completions: Sequence[Sequence[Sequence[int]]],
    classes: Sequence[Sequence[Sequence[str | None]]],
    batch_size: int = 64,
) -> dict[str, dict[str, float]]:
    """Perplexity under ``model`` of the tokens of each class, pooled over all completions:

        PPL_m(class c) = exp( sum over tokens t of class c of -log P_m(y_t | x, y_<t)
                              / number of such tokens )

    unit: effective branching factor (1 = certain). ``classes`` gives one label (or None,
    not counted) per completion token, [prompt][sample][token]; the result maps each class
    seen to {"ppl", "tokens"}. Pooling by token, not by completion, weights every token
    once, so a class's figure does not depend on how its tokens spread over samples.
    Where the drift of a tuned model sits (plan, execution, answer tokens) shows as which
    class's PPL under the base rises (arXiv 2504.13837 measures only the whole sample).
    """
    rows, labels = [], []
    for prompt, group, group_classes in zip(prompts, completions, classes, strict=True):
        for ids, row_classes in zip(group, group_classes, strict=True):
            if ids:
                rows.append((encode_prompt(tokenizer, prompt), list(ids)))
                labels.append(list(row_classes))
    totals: dict[str, list[float]] = {}
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            nlls = token_nll(model, rows[start : start + batch_size])
            for row_nll, row_classes in zip(nlls, labels[start : start + batch_size], strict=True):
                for nll, cls in zip(row_nll, row_classes, strict=True):
                    if cls is not None:
                        totals.setdefault(cls, []).append(nll)
    return {
        cls: {"ppl": float(np.exp(np.mean(values))), "tokens": len(values)}
        for cls, values in sorted(totals.items())
    }


def with_eos(token_ids: Sequence[int], finished: bool, eos_id: int | None) -> list[int]:
    """A completion's ids as the model produced them: EOS appended when it ended with EOS."""
    return [*token_ids, eos_id] if finished and eos_id is not None else list(token_ids)


def summary(values: Sequence[float], reference: float | None = None) -> dict[str, float]:
    """Median, quartiles and count of the finite perplexities, and, given a ``reference``
    (the median PPL of the base's own samples), the share of values below it."""
    data = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if data.size == 0:
        nan = float("nan")
        return {"median": nan, "q25": nan, "q75": nan, "count": 0, "share_below_base_median": nan}
    q25, median, q75 = np.percentile(data, [25, 50, 75])
    below = float(np.mean(data < reference)) if reference is not None else float("nan")
    return {
        "median": float(median),
        "q25": float(q25),
        "q75": float(q75),
        "count": int(data.size),
        "share_below_base_median": below,
    }
