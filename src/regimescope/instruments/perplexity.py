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

import weakref
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


LOGITS_BUDGET = 1 << 26  # bytes of fp32 logits alive at once while scoring (64 MiB)
_HEAD_SPLITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> split or None


def _token_logp(model, rows: list[tuple[list[int], list[int]]]):
    """log P(next token) at every position [B, L-1] and the completion-target mask [B, L-1].

    Never holds the logits of the whole batch: log P(y_t) = z[y_t] - logsumexp(z) is taken
    a slice of positions at a time (``LOGITS_BUDGET``), from the model's last hidden states
    through its output head where that split reproduces the model (checked once per
    model), else from the full model a few rows at a time.
    """
    device = next(model.parameters()).device
    ids, mask, target = _batch(rows, device)
    split = _head_split(model, ids[:1], mask[:1])
    if split is not None:
        body, head = split
        hidden = body(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        return _picked_logp(head, hidden[:, :-1], ids[:, 1:]), target  # [B, L-1] each
    return _rows_logp(model, ids, mask), target


def _picked_logp(head, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """z[target] - logsumexp(z) per position [B, P], z = head(hidden) [B, P, V] made a slice
    of positions at a time. hidden: [B, P, H]; targets: [B, P] token ids."""
    vocab = head.weight.shape[0]
    width = max(1, LOGITS_BUDGET // (4 * vocab * max(1, hidden.shape[0])))  # positions a slice
    out = torch.empty(targets.shape, dtype=torch.float32, device=hidden.device)
    for start in range(0, hidden.shape[1], width):
        logits = head(hidden[:, start : start + width]).float()  # [B, w, V]
        picked = logits.gather(-1, targets[:, start : start + width, None]).squeeze(-1)
        out[:, start : start + width] = picked - torch.logsumexp(logits, dim=-1)  # [B, w]
    return out


def _rows_logp(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The fallback: the full model's logits, a few rows at a time (``LOGITS_BUDGET``)."""
    vocab = model.config.get_text_config().vocab_size
    rows = max(1, LOGITS_BUDGET // (4 * vocab * ids.shape[1]))
    out = torch.empty(ids[:, 1:].shape, dtype=torch.float32, device=ids.device)  # [B, L-1]
    for start in range(0, ids.shape[0], rows):
        part = slice(start, start + rows)
        logits = model(input_ids=ids[part], attention_mask=mask[part], use_cache=False).logits
        z = logits[:, :-1].float()  # [r, L-1, V] predicts ids[part, 1:]
        picked = z.gather(-1, ids[part, 1:, None]).squeeze(-1)
        out[part] = picked - torch.logsumexp(z, dim=-1)
    return out


def _head_split(model, ids: torch.Tensor, mask: torch.Tensor):
    """(body, head): the model's base model and output layer, when head(body(x)) gives the
    model's own logits on a probe row (models that scale or cap logits after the head do
    not split); None otherwise. Decided once per model."""
    if model in _HEAD_SPLITS:
        return _HEAD_SPLITS[model]
    body, head = getattr(model, "base_model", None), model.get_output_embeddings()
    split = None
    if body is not None and body is not model and isinstance(head, torch.nn.Linear):
        full = model(input_ids=ids, attention_mask=mask, use_cache=False).logits.float()
        hidden = body(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        if torch.allclose(head(hidden).float(), full, rtol=1e-4, atol=1e-4):
            split = (body, head)
    _HEAD_SPLITS[model] = split
    return split


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


class ClassPerplexity(dict):
    """``class_perplexity``'s result: class -> {"ppl", "tokens"}, and ``note``, which says
    why the result is empty when it is ("" otherwise)."""

    note: str = ""


def empty_classes_note(scored: int, labelled: int) -> str:
    """Why per-class perplexity is empty, from the completions scored and the tokens that
    carry a class ("" when some do)."""
    if labelled:
        return ""
    if not scored:
        return "no completion with tokens was scored, so no class has a perplexity"
    return (
        f"none of the {scored} scored completions follows the task's gold template "
        "(tasks.token_classes), so no token has a class: per-class perplexity applies to "
        "completions in the task's own format (the organisms'), not to free text"
    )


def class_perplexity(
    model,
    tokenizer,
    prompts: Sequence[str],
    completions: Sequence[Sequence[Sequence[int]]],
    classes: Sequence[Sequence[Sequence[str | None]]],
    batch_size: int = 64,
) -> ClassPerplexity:
    """Perplexity under ``model`` of the tokens of each class, pooled over all completions:

        PPL_m(class c) = exp( sum over tokens t of class c of -log P_m(y_t | x, y_<t)
                              / number of such tokens )

    unit: effective branching factor (1 = certain). ``classes`` gives one label (or None,
    not counted) per completion token, [prompt][sample][token]; the result maps each class
    seen to {"ppl", "tokens"}. Pooling by token, not by completion, weights every token
    once, so a class's figure does not depend on how its tokens spread over samples.
    Where the drift of a tuned model sits (plan, execution, answer tokens) shows as which
    class's PPL under the base rises (arXiv 2504.13837 measures only the whole sample).
    When no token carries a class (a real model's free text never follows the task's
    template), the result is empty and its ``note`` says so.
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
    found = ClassPerplexity(
        (cls, {"ppl": float(np.exp(np.mean(values))), "tokens": len(values)})
        for cls, values in sorted(totals.items())
    )
    found.note = empty_classes_note(len(rows), sum(len(v) for v in totals.values()))
    return found


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
