"""Token entropy of a model's next-token distribution, overall and per token class.

For next-token logits z_t over a vocabulary of V tokens, pi = softmax(z_t) and

    H_t = -sum_v pi_v log pi_v,

unit: nats (0 = certain, log V = uniform). A token's class (``plan``, ``exec``,
``format``, ``answer``; ``tasks.base.TOKEN_CLASSES``) is the role of the target it
predicts, so entropy by class separates where a policy is still choosing (plans) from
where it carries a choice out (execution): Wang et al. 2025 (HICRA), arXiv 2509.03646,
whose execution-token entropy falls first under RL. Shapes: B sequences, T positions,
V vocabulary size.
"""

from __future__ import annotations

import torch

from regimescope.tasks.base import TOKEN_CLASSES


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """H_t = -sum_v pi_v log pi_v of the next-token distribution: (B, T, V) -> (B, T), nats.

    Computed in fp32 from ``log_softmax``, so a logit shift changes nothing.

    >>> token_entropy(torch.zeros(1, 1, 4)).item() == torch.tensor(4.0).log().item()
    True
    """
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    return -(logp.exp() * logp).sum(dim=-1)


def entropy_by_class(
    entropy: torch.Tensor, mask: torch.Tensor, class_ids: torch.Tensor
) -> dict[str, float]:
    """Mean token entropy overall and per token class, nats.

    entropy (B, T) per-token entropies; mask (B, T) 1 on the tokens to count; class_ids
    (B, T) index into TOKEN_CLASSES (-1: unlabelled, counted only in the overall mean).
    Keys ``entropy`` = mean of H_t over counted tokens and ``entropy/<class>`` = the same
    over the counted tokens of that class (a class with no token is left out; no counted
    token at all gives ``{}``).

    >>> h, keep, cls = torch.tensor([[1.0, 3.0]]), torch.tensor([[1, 1]]), torch.tensor([[0, -1]])
    >>> entropy_by_class(h, keep, cls)
    {'entropy': 2.0, 'entropy/plan': 1.0}
    """
    keep = mask.bool()
    if not keep.any():
        return {}
    stats = {"entropy": entropy[keep].float().mean().item()}
    for index, name in enumerate(TOKEN_CLASSES):
        chosen = keep & (class_ids == index)
        if chosen.any():
            stats[f"entropy/{name}"] = entropy[chosen].float().mean().item()
    return stats
