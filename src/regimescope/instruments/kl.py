"""KL divergence of a policy from a reference policy, per token: exact and sampled (k3).

- Exact, over the whole vocabulary at each position (no sampling noise):
  KL_t(pi || ref) = sum_v pi_v (log pi_v - log ref_v), with pi = softmax(logits_t).
- k3, from the sampled token y_t alone (what a loss can afford): with
  d = log ref(y_t) - log pi(y_t), k3 = exp(d) - d - 1, unbiased for KL(pi || ref) when
  y_t ~ pi and never negative (Schulman 2020, "Approximating KL Divergence",
  joschu.net/blog/kl-approx.html; the estimator of GRPO, arXiv 2402.03300 eq. 4).

Unit: nats per token. A run's ``kl_start`` is the masked mean of the exact KL to its
starting model over the counted tokens. Shapes: B sequences, T positions, V vocabulary.
"""

from __future__ import annotations

import torch


def kl_exact(logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
    """KL(pi || pi_ref) = sum_v pi_v (log pi_v - log ref_v) per position, nats.

    logits, ref_logits (B, T, V) -> (B, T). Exact over the vocabulary (no sampling noise);
    computed in fp32, invariant to a shift of either logits.

    >>> kl_exact(torch.zeros(1, 1, 3), torch.ones(1, 1, 3))
    tensor([[0.]])
    """
    logp = torch.log_softmax(logits.float(), dim=-1)
    ref = torch.log_softmax(ref_logits.float(), dim=-1)
    return (logp.exp() * (logp - ref)).sum(dim=-1)


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(pi || pi_ref) on tokens sampled from pi: (B, T) -> (B, T).

    k3 = exp(d) - d - 1 with d = log pi_ref(y_t) - log pi(y_t); unbiased, always >= 0
    (Schulman 2020, "Approximating KL Divergence", joschu.net/blog/kl-approx.html; the
    estimator GRPO uses, arXiv 2402.03300 eq. 4). Unit: nats.

    >>> kl_k3(torch.tensor([0.0]), torch.tensor([0.0]))
    tensor([0.])
    """
    d = ref_logp - logp
    return torch.exp(d) - d - 1.0


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean of ``x`` (B, T) over positions where ``mask`` is 1 (nan when there are none);
    the unit is ``x``'s (nats per token for a KL).

    >>> masked_mean(torch.tensor([[1.0, 5.0]]), torch.tensor([[1, 0]]))
    1.0
    """
    keep = mask.bool()
    return x[keep].float().mean().item() if keep.any() else float("nan")
