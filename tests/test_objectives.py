"""The policy-gradient objectives against hand computation (regimes/objectives.py)."""

import math

import pytest
import torch
from torch.testing import assert_close

from regimescope.regimes.objectives import (
    OBJECTIVES,
    aggregate,
    clipped_surrogate,
    group_advantages,
    rl_loss,
    token_advantages,
)

# Three prompts, four samples each: mixed, all correct, one correct.
REWARDS = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]])


def softmax_step(objective: str, reward: float, logits: torch.Tensor, token: int) -> torch.Tensor:
    """-grad of the objective's loss w.r.t. the logits of one sampled token (a softmax toy).

    The toy policy is softmax(z) over V tokens; one sample ``token`` with ``reward`` forms a
    group of one. Returns the ascent direction -dL/dz (V,).
    """
    z = logits.clone().requires_grad_(True)  # (V,)
    adv, keep = group_advantages(torch.tensor([[reward]]), objective)  # (1, 1)
    loss, _ = rl_loss(
        z[None, None, :],  # (B=1, T=1, V)
        torch.tensor([[token]]),
        keep.bool(),
        token_advantages(adv.flatten(), torch.zeros(1, 1)),
    )
    loss.backward()
    return -z.grad


def test_psr_raises_the_sampled_logit_and_lowers_the_others():
    z = torch.tensor([0.5, -1.0, 2.0, 0.0])
    pi = torch.softmax(z, dim=0)
    ascent = softmax_step("psr", 1.0, z, token=1)
    assert ascent[1] > 0 and (ascent[[0, 2, 3]] < 0).all()
    # d log pi_y / dz_v = 1[v=y] - pi_v, with advantage +1
    assert_close(ascent, torch.eye(4)[1] - pi)


def test_nsr_lowers_the_sampled_logit_and_raises_others_in_proportion_to_probability():
    z = torch.tensor([0.5, -1.0, 2.0, 0.0])
    pi = torch.softmax(z, dim=0)
    ascent = softmax_step("nsr", 0.0, z, token=2)
    assert ascent[2] < 0 and (ascent[[0, 1, 3]] > 0).all()
    assert_close(ascent[2], -(1 - pi[2]))  # pushed down by (1 - pi_y)
    others = torch.tensor([0, 1, 3])
    assert_close(ascent[others] / pi[others], torch.ones(3))  # each rises by exactly pi_v


def test_psr_ignores_incorrect_and_nsr_ignores_correct_samples():
    z = torch.tensor([0.5, -1.0, 2.0, 0.0])
    assert torch.equal(softmax_step("psr", 0.0, z, token=1), torch.zeros(4))
    assert torch.equal(softmax_step("nsr", 1.0, z, token=1), torch.zeros(4))


def test_group_normalised_advantages_on_a_hand_made_batch():
    adv, keep = group_advantages(REWARDS, "grpo")
    std0 = math.sqrt(4 * 0.25 / 3)  # unbiased std of [1, 0, 0, 1]
    std2 = math.sqrt((3 * 0.0625 + 0.5625) / 3)  # of [0, 0, 0, 1]
    expected = torch.tensor([
        [0.5 / (std0 + 1e-4), -0.5 / (std0 + 1e-4), -0.5 / (std0 + 1e-4), 0.5 / (std0 + 1e-4)],
        [0.0, 0.0, 0.0, 0.0],  # all correct: no signal
        [-0.25 / (std2 + 1e-4)] * 3 + [0.75 / (std2 + 1e-4)],
    ])  # fmt: skip
    assert_close(adv, expected)
    assert torch.equal(keep, torch.ones_like(REWARDS))
    assert_close(group_advantages(REWARDS, "hicra")[0], expected)


def test_advantages_of_every_other_objective():
    centered = REWARDS - REWARDS.mean(dim=1, keepdim=True)
    assert_close(group_advantages(REWARDS, "dr_grpo")[0], centered)
    assert_close(group_advantages(REWARDS, "reinforce")[0], centered)
    assert_close(group_advantages(REWARDS, "reinforce", baseline=False)[0], REWARDS)
    adv, keep = group_advantages(REWARDS, "psr")
    assert torch.equal(adv, REWARDS) and torch.equal(keep, REWARDS)
    adv, keep = group_advantages(REWARDS, "nsr")
    assert torch.equal(adv, -(1 - REWARDS)) and torch.equal(keep, 1 - REWARDS)
    adv, keep = group_advantages(REWARDS, "w_reinforce")
    assert_close(adv, torch.where(REWARDS > 0.5, 0.1, -1.0))
    assert_close(group_advantages(REWARDS, "w_reinforce", lam=0.5)[0].max(), torch.tensor(0.5))
    with pytest.raises(ValueError, match="choose from"):
        group_advantages(REWARDS, "ppo")
    assert len(OBJECTIVES) == 7


def test_hicra_amplifies_positive_and_damps_negative_advantage_on_planning_tokens():
    adv = torch.tensor([1.5, -1.0, 0.0])  # (B,)
    plan = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1]])  # (B, T)
    weights = token_advantages(adv, plan, alpha=0.2)
    expected = torch.tensor([[1.8, 1.8, 1.5], [-0.8, -1.0, -1.0], [0.0, 0.0, 0.0]])
    assert_close(weights, expected)
    assert torch.equal(token_advantages(adv, plan, alpha=0.0), adv[:, None].expand(-1, 3))


def test_hicra_scales_the_gradient_on_planning_tokens_only():
    z = torch.zeros(1, 2, 3, requires_grad=True)  # two positions, uniform policy
    tokens, mask = torch.tensor([[0, 0]]), torch.ones(1, 2, dtype=torch.bool)
    adv = token_advantages(torch.tensor([1.0]), torch.tensor([[1, 0]]), alpha=0.2)
    loss, _ = rl_loss(z, tokens, mask, adv, how="constant")  # sum over tokens: no coupling
    loss.backward()
    assert_close(z.grad[0, 0], 1.2 * z.grad[0, 1])


def test_loss_combines_surrogate_kl_and_entropy_as_stated():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 5)
    tokens = torch.randint(0, 5, (2, 3))
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    adv = torch.tensor([[1.0, 1.0, 1.0], [-2.0, -2.0, -2.0]])
    ref = torch.log_softmax(torch.randn(2, 3, 5), -1).gather(-1, tokens[..., None])[..., 0]
    loss, parts = rl_loss(logits, tokens, mask, adv, None, ref, kl_coef=0.1, entropy_coef=0.01)
    logp = torch.log_softmax(logits, -1).gather(-1, tokens[..., None])[..., 0]
    h = -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1)
    d = ref - logp
    kl = ((d.exp() - d - 1) * mask).sum() / 3
    hand = -(adv * mask).sum() / 3 + 0.1 * kl - 0.01 * (h * mask).sum() / 3  # ratio is 1
    assert_close(loss, hand)
    assert_close(parts["kl"], kl) and assert_close(parts["pg"], -(adv * mask).sum() / 3)


def test_ratio_clipping_stops_the_gradient_outside_the_trust_region():
    logp = torch.tensor([math.log(1.5), math.log(1.1), math.log(0.5)], requires_grad=True)
    old = torch.zeros(3)
    adv = torch.tensor([1.0, 1.0, -1.0])
    surrogate = clipped_surrogate(logp, old, adv, clip_eps=0.2)
    assert_close(surrogate, torch.tensor([-1.2, -1.1, 0.8]))  # 1.5 -> 1.2, 0.5 -> 0.8
    surrogate.sum().backward()
    assert_close(logp.grad, torch.tensor([0.0, -1.1, 0.0]))  # only the unclipped token moves


def test_aggregations():
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    assert_close(aggregate(x, mask, "token_mean"), torch.tensor(10.0 / 4))
    assert_close(aggregate(x, mask, "seq_mean"), torch.tensor((2.0 + 4.0) / 2))
    assert_close(aggregate(x, mask, "constant", max_len=5), torch.tensor(10.0 / (2 * 5)))
    assert aggregate(x, torch.zeros_like(mask), "token_mean").item() == 0.0
    with pytest.raises(ValueError, match="choose from"):
        aggregate(x, mask, "sum")
