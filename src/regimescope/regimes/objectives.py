"""Policy-gradient objectives as pure functions: advantages, token weights, the loss.

The objective is the experimental variable of an RL run, so every piece of it lives here
as a function of tensors, with no model, sampler or optimizer in sight:

1. ``group_advantages(rewards, objective)``: one advantage per sample from the rewards of
   the n samples of each prompt, plus the mask of samples the objective trains on;
2. ``token_advantages(adv, plan_mask, alpha)``: spread over tokens (HICRA amplifies the
   planning tokens);
3. ``rl_loss(...)``: the clipped surrogate, the KL penalty to the reference (start) model
   and the entropy bonus, aggregated over the kept completion tokens.

Rewards are task rewards in [0, 1]; a sample is *correct* when its reward exceeds
``CORRECT`` (every task here rewards 0 or 1). Log-probabilities and entropies are in nats.
The token entropy and the k3 KL estimate are measurements too, written once in
``instruments.entropy`` and ``instruments.kl`` and used here.

Notation for shapes: P prompts, n samples per prompt, B = P * n sequences, T positions,
V vocabulary size.
"""

from __future__ import annotations

import torch

from regimescope.instruments.entropy import token_entropy
from regimescope.instruments.kl import kl_k3

OBJECTIVES = ("reinforce", "grpo", "dr_grpo", "psr", "nsr", "w_reinforce", "hicra")
LOSS_AGGREGATIONS = ("token_mean", "seq_mean", "constant")
CORRECT = 0.5  # reward above which a sample counts as correct (task rewards are 0 or 1)


# ---------------------------------------------------------------- advantages


def centered(rewards: torch.Tensor) -> torch.Tensor:
    """r - mean_group(r): the group-mean baseline (Dr. GRPO's advantage). (P, n) -> (P, n)."""
    return rewards - rewards.mean(dim=1, keepdim=True)


def group_normalised(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """(r - mean_group(r)) / (std_group(r) + eps): GRPO's advantage. (P, n) -> (P, n).

    Shao et al. 2024 (DeepSeekMath), arXiv 2402.03300, eq. for outcome supervision; the
    std is the unbiased sample std over the group and ``eps`` = 1e-4 as in TRL, so a group
    whose rewards are all equal gets advantage 0.

    >>> group_normalised(torch.tensor([[1.0, 0.0]])).round(decimals=3)
    tensor([[ 0.7070, -0.7070]])
    """
    std = rewards.std(dim=1, keepdim=True)  # (P, 1), unbiased
    return centered(rewards) / (std + eps)


def group_advantages(
    rewards: torch.Tensor,
    objective: str,
    *,
    baseline: bool = True,
    lam: float = 0.1,
    eps: float = 1e-4,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantage, keep) per sample, both (P, n), from rewards (P, n) grouped by prompt.

    ``keep`` is 1 for samples the objective trains on: PSR and NSR train on a subset of the
    batch (as in Zhu et al.'s code, the loss averages over the kept samples' tokens only);
    every other objective keeps all samples.

    - ``reinforce``: A = r - mean_group(r) with ``baseline``, else A = r (Williams 1992).
    - ``grpo`` and ``hicra``: A = (r - mean) / (std + eps) (Shao et al. 2024, arXiv 2402.03300).
    - ``dr_grpo``: A = r - mean, no std scaling (Liu et al. 2025, arXiv 2503.20783).
    - ``psr``: A = +1 on correct samples, which alone are kept (Zhu et al. 2025, arXiv 2506.01347).
    - ``nsr``: A = -1 on incorrect samples, which alone are kept (same paper).
    - ``w_reinforce``: A = +lam on correct, -1 on incorrect, lam = 0.1 by default (same paper).
    """
    correct = rewards > CORRECT  # (P, n) bool
    ones = torch.ones_like(rewards)
    if objective == "reinforce":
        return (centered(rewards) if baseline else rewards.clone()), ones
    if objective in ("grpo", "hicra"):
        return group_normalised(rewards, eps), ones
    if objective == "dr_grpo":
        return centered(rewards), ones
    if objective == "psr":
        return correct.float(), correct.float()
    if objective == "nsr":
        return -(~correct).float(), (~correct).float()
    if objective == "w_reinforce":
        return torch.where(correct, lam, -1.0).to(rewards.dtype), ones
    raise ValueError(f"unknown objective {objective!r}; choose from: {', '.join(OBJECTIVES)}")


def token_advantages(
    adv: torch.Tensor, plan_mask: torch.Tensor, alpha: float = 0.0
) -> torch.Tensor:
    """Per-token advantage (B, T) from per-sample ``adv`` (B,) and a planning mask (B, T).

    A_t = A + alpha * |A| * 1[t is a planning token] (HICRA, Wang et al. 2025, arXiv
    2509.03646, with alpha = 0.2 in the paper): planning tokens get (1 + alpha) * A when
    A > 0 and (1 - alpha) * A when A < 0. With ``alpha = 0`` every token gets A.

    >>> token_advantages(torch.tensor([2.0, -2.0]), torch.tensor([[1, 0], [1, 0]]), 0.5)
    tensor([[ 3.,  2.],
            [-1., -2.]])
    """
    adv = adv[:, None].expand(-1, plan_mask.shape[1])  # (B, T)
    return adv + alpha * adv.abs() * plan_mask.to(adv.dtype)


# ---------------------------------------------------------------- token quantities


def token_log_probs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log pi(token_t) at each position: logits (B, T, V), tokens (B, T) -> (B, T), nats."""
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    return logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def aggregate(
    x: torch.Tensor, mask: torch.Tensor, how: str = "token_mean", max_len: int = 1
) -> torch.Tensor:
    """Reduce per-token values (B, T) over the tokens where ``mask`` (B, T) is 1, to a scalar.

    - ``token_mean``: sum / number of kept tokens (DAPO, arXiv 2503.14476; TRL's default);
    - ``seq_mean``: mean over each sequence's tokens, then over kept sequences (GRPO paper);
    - ``constant``: sum / (kept sequences * ``max_len``), Dr. GRPO's length-unbiased form.
    A batch with no kept token reduces to 0 (and gives no gradient).
    """
    mask = mask.to(x.dtype)
    if how == "token_mean":
        return (x * mask).sum() / mask.sum().clamp(min=1.0)
    lengths = mask.sum(dim=1)  # (B,)
    kept = (lengths > 0).to(x.dtype)  # (B,)
    if how == "seq_mean":
        per_seq = (x * mask).sum(dim=1) / lengths.clamp(min=1.0)  # (B,)
        return (per_seq * kept).sum() / kept.sum().clamp(min=1.0)
    if how == "constant":
        return (x * mask).sum() / (kept.sum().clamp(min=1.0) * max_len)
    raise ValueError(
        f"unknown loss aggregation {how!r}; choose from: {', '.join(LOSS_AGGREGATIONS)}"
    )


# ---------------------------------------------------------------- the loss


def clipped_surrogate(
    logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, clip_eps: float
) -> torch.Tensor:
    """Per-token PPO surrogate to *minimise*: -min(rho * A, clip(rho, 1-eps, 1+eps) * A).

    rho = exp(log pi - log pi_old); all (B, T). Schulman et al. 2017, arXiv 1707.06347. On
    the first update of a batch ``old_logp`` equals ``logp.detach()``, rho = 1 and the
    gradient is the REINFORCE gradient -A * grad log pi; clipping bites only on later
    updates of the same batch.
    """
    ratio = torch.exp(logp - old_logp)
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return -torch.minimum(ratio * adv, clipped * adv)


def rl_loss(
    logits: torch.Tensor,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    adv: torch.Tensor,
    old_logp: torch.Tensor | None = None,
    ref_logp: torch.Tensor | None = None,
    *,
    clip_eps: float = 0.2,
    kl_coef: float = 0.0,
    entropy_coef: float = 0.0,
    how: str = "token_mean",
    max_len: int = 1,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The scalar loss and its parts, from next-token logits at the completion positions.

    loss = agg(surrogate) + kl_coef * agg(k3 KL to ref) - entropy_coef * agg(entropy).

    logits (B, T, V) predict ``tokens`` (B, T); ``mask`` (B, T) is 1 on completion tokens
    of kept samples; ``adv`` (B, T) from ``token_advantages``; ``old_logp`` (B, T) the
    behaviour policy's log-probs (None: on-policy, rho = 1); ``ref_logp`` (B, T) the start
    model's (needed when ``kl_coef`` > 0). The parts are detached: ``pg``, ``kl``,
    ``entropy`` (per-token means, nats), ``clip_frac`` (share of tokens whose ratio is
    outside [1 - eps, 1 + eps]), plus the per-token ``entropy_tokens`` (B, T).
    """
    logp = token_log_probs(logits, tokens)  # (B, T)
    old = logp.detach() if old_logp is None else old_logp
    pg = aggregate(clipped_surrogate(logp, old, adv, clip_eps), mask, how, max_len)
    entropy_tokens = token_entropy(logits)  # (B, T)
    entropy = aggregate(entropy_tokens, mask, how, max_len)
    loss = pg - entropy_coef * entropy if entropy_coef else pg
    kl = torch.zeros(())
    if ref_logp is not None:
        kl = aggregate(kl_k3(logp, ref_logp), mask, how, max_len)
        if kl_coef:
            loss = loss + kl_coef * kl
    elif kl_coef:
        raise ValueError("kl_coef > 0 needs the reference model's log-probs (ref_logp)")
    outside = ((logp.detach() - old).exp() - 1.0).abs() > clip_eps  # (B, T)
    parts = {
        "pg": pg.detach(),
        "kl": kl.detach(),
        "entropy": entropy.detach(),
        "clip_frac": aggregate(outside.float(), mask),
        "entropy_tokens": entropy_tokens.detach(),
    }
    return loss, parts
