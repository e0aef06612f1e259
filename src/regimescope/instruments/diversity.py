"""Diversity of sampled completions: distinct-n and expectation-adjusted distinct-n (EAD),
per input (over the k samples of one prompt) and across inputs (Kirk et al. 2024,
"Understanding the Effects of RLHF on LLM Generalisation and Diversity", arXiv 2310.06452,
code facebookresearch/rlfh-gen-div; EAD from Liu et al. 2022, arXiv 2202.13587).

For a set of token sequences with C n-grams in all, N of them distinct, over a vocabulary
of V tokens:

    distinct-n = N / C
    EAD-n      = N / (V · (1 − ((V − 1) / V)^C))

the denominator being the expected number of distinct n-grams if C were drawn uniformly
from V, so EAD does not fall just because a text is longer, as distinct-n does. Kirk et
al. average EAD over n = 1..5 with V = 50257 (GPT-2's vocabulary); here V is the scoring
tokenizer's size. Dimensionless. Per-input diversity is the mean over prompts of the
measure on each prompt's k samples; across-input diversity is the measure on one sample
per prompt (the first), so the two are not mixed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def ngrams(tokens: Sequence[int], n: int) -> list[tuple[int, ...]]:
    """The n-grams of one sequence, in order (none when it is shorter than n)."""
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(sequences: Sequence[Sequence[int]], n: int) -> float:
    """Distinct n-grams over all n-grams of ``sequences`` (nan when there are none)."""
    grams = [g for s in sequences for g in ngrams(s, n)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def ead_n(sequences: Sequence[Sequence[int]], n: int, vocab_size: int) -> float:
    """Expectation-adjusted distinct n-grams N / (V (1 − ((V − 1)/V)^C)) (nan when none).

    N: distinct n-grams, C: all n-grams, V: the vocabulary size for every n, as in Kirk et
    al.'s code (not V^n), so for n >= 2 the value can exceed 1 (more distinct n-grams than
    the expectation over single tokens allows); per-input and across-input values are only
    compared with each other at the same V, n and sample count."""
    grams = [g for s in sequences for g in ngrams(s, n)]
    if not grams:
        return float("nan")
    total = len(grams)
    expected = vocab_size * -math.expm1(total * math.log1p(-1 / vocab_size))  # V(1 − (1−1/V)^C)
    return len(set(grams)) / expected


def ead(sequences: Sequence[Sequence[int]], vocab_size: int, max_n: int = 5) -> float:
    """EAD averaged over n = 1..max_n (Kirk et al.), over the n that have any n-gram."""
    values = [ead_n(sequences, n, vocab_size) for n in range(1, max_n + 1)]
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else float("nan")


def per_input(samples: Sequence[Sequence[Sequence[int]]], vocab_size: int, max_n: int = 5):
    """Mean over prompts of the EAD of each prompt's samples ([prompt][sample] -> tokens)."""
    values = [ead(group, vocab_size, max_n) for group in samples]
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else float("nan")


def across_inputs(samples: Sequence[Sequence[Sequence[int]]], vocab_size: int, max_n: int = 5):
    """EAD of the first sample of every prompt, taken together."""
    return ead([group[0] for group in samples if group], vocab_size, max_n)
