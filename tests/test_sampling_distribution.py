"""Shared-prefix sampling draws from the model's distribution (chi-square, fixed seed).

Two-token continuations of three prompts of different lengths (decoded in one left-padded
batch) are compared with the exact joint probabilities P(t1 | x) P(t2 | x, t1) from full
forward passes without any cache. A sampler whose rows read the wrong prompt's cache, or
whose second step ignores the first, fails this test: the controls below break the cache
sharing on purpose and check that the same test rejects them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from regimescope.organisms import build_organism, preset
from regimescope.sampler import decode as sampling
from regimescope.sampler import prefix_attention
from regimescope.sampler.decode import SamplingConfig, sample
from regimescope.tasks.encode import encode_prompt

PROMPTS = ["a", "12+34=", "hello world, longer prompt"]
N = 3000  # samples per prompt


@pytest.fixture(scope="module")
def peaked():
    """A nano organism with large random weights, so next-token laws are far from uniform
    and differ between prompts (entropies ~2.4-3.3 nats vs log(100) = 4.6)."""
    model, tokenizer = build_organism(preset("nano"), seed=0)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.35)
    return model, tokenizer


def exact_joint(model, tokenizer, prompt: str) -> np.ndarray:
    """P(t1, t2 | prompt) as a [V, V] array, from cache-free full forward passes."""
    ids = encode_prompt(tokenizer, prompt)
    with torch.no_grad():
        first = torch.softmax(model(torch.tensor([ids])).logits[0, -1].double(), -1)  # [V]
        vocab = first.numel()
        batch = torch.tensor([ids + [t] for t in range(vocab)])  # [V, len + 1]
        second = torch.softmax(model(batch).logits[:, -1].double(), -1)  # [V, V]
    return (first[:, None] * second).numpy()


def chi_square_p(pairs: list[tuple[int, ...]], joint: np.ndarray) -> float:
    """p-value of observed (t1, t2) counts against ``joint``; cells expecting < 5 pooled."""
    observed = np.zeros_like(joint)
    for t1, t2 in pairs:
        observed[t1, t2] += 1
    expected = joint.ravel() * len(pairs) / joint.sum()
    observed = observed.ravel()
    big = expected >= 5
    f_obs = np.append(observed[big], observed[~big].sum())
    f_exp = np.append(expected[big], expected[~big].sum())
    return float(chisquare(f_obs, f_exp).pvalue)


def p_values(model, tokenizer) -> list[float]:
    config = SamplingConfig(n=N, max_new_tokens=2, seed=7, batch_size=3 * N)
    out = sample(model, tokenizer, PROMPTS, config)
    values = []
    for prompt, row in zip(PROMPTS, out, strict=True):
        pairs = [c.token_ids for c in row if len(c.token_ids) == 2]  # EOS at t1 ends early
        assert len(pairs) > 0.9 * N
        # the exact law conditioned on t1 != EOS (rows that ended are dropped above)
        joint = exact_joint(model, tokenizer, prompt)
        joint[tokenizer.eos_token_id, :] = 0.0
        joint[:, tokenizer.eos_token_id] = 0.0  # t2 = EOS is excluded from token_ids
        values.append(chi_square_p(pairs, joint))
    return values


def test_shared_prefix_matches_exact_probabilities(peaked):
    assert prefix_attention.supports(peaked[0])
    assert min(p_values(*peaked)) > 1e-3


def test_copied_cache_matches_exact_probabilities(peaked, monkeypatch):
    monkeypatch.setattr(prefix_attention, "supports", lambda model: False)
    assert min(p_values(*peaked)) > 1e-3


def test_control_rows_reading_another_prompts_keys_are_rejected(peaked, monkeypatch):
    start = prefix_attention.PrefixState.start_decoding

    def swapped(self, slot):  # prompts' keys reversed: rows attend to another prompt
        self.prefix = {layer: (k.flip(0), v.flip(0)) for layer, (k, v) in self.prefix.items()}
        self.pad_mask, self.pad_bias = self.pad_mask.flip(0), self.pad_bias.flip(0)
        start(self, slot)

    monkeypatch.setattr(prefix_attention.PrefixState, "start_decoding", swapped)
    assert min(p_values(*peaked)) < 1e-6


def test_control_copied_cache_given_to_wrong_rows_is_rejected(peaked, monkeypatch):
    monkeypatch.setattr(prefix_attention, "supports", lambda model: False)
    init = sampling._CopiedCache.__init__

    def wrong(self, model, input_ids, mask, positions, expand):
        init(self, model, input_ids, mask, positions, expand)
        self.cache.batch_select_indices(expand.flip(0))  # rows get other prompts' caches
        self.mask = self.mask.flip(0)

    monkeypatch.setattr(sampling._CopiedCache, "__init__", wrong)
    assert min(p_values(*peaked)) < 1e-6
