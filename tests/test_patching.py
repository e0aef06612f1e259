"""Activation patching and directions on the planted-mechanism model (tests/mech_toys.py),
whose answer is read from direction u alone while v carries a correlated, unused feature."""

import numpy as np
import pytest
import torch

from regimescope.errors import BadInput
from regimescope.instruments.directions import (
    ablation,
    mean_difference,
    project_out,
    steering_curve,
    subspace_patch,
    swap_subspace,
)
from regimescope.instruments.patching import (
    logit_difference,
    normalised_effect,
    patch_sweep,
    single_token,
)
from regimescope.instruments.sites import run_with_cache
from tests.mech_toys import LETTERS, answer_ids, ids, planted

SITE = "blocks.0.hook_resid_post"


@pytest.fixture(scope="module")
def toy():
    return planted()


@pytest.fixture(scope="module")
def pairs(toy):
    """STR pairs: the same context letter, the type letter swapped for one with the other x
    (and, by the 80% correlation, mostly the other z): clean ids, corrupt ids, target, foil."""
    ones = [c for c in LETTERS if toy.x[c]]
    zeros = [c for c in LETTERS if not toy.x[c]]
    clean = [f"{LETTERS[i % 7]}{a}" for i, a in enumerate(ones + zeros)]
    corrupt = [f"{LETTERS[i % 7]}{b}" for i, b in enumerate(zeros + ones)]
    letters = [t[-1] for t in clean]
    other = [t[-1] for t in corrupt]
    return ids(toy, clean), ids(toy, corrupt), answer_ids(toy, letters), answer_ids(toy, other)


def test_patching_the_whole_final_residual_restores_exactly_and_a_dead_site_does_nothing(
    toy, pairs
):
    names = [f"blocks.0.hook_{k}" for k in ("resid_pre", "attn_out", "mlp_out", "resid_post")]
    for mode in ("denoise", "noise"):
        found = patch_sweep(toy.model, *pairs, names, mode=mode)
        effect = found.effect  # [4 sites, 3 positions]
        assert effect.shape == (4, 3) and found.ld_patched.shape == (len(pairs[0]), 4, 3)
        assert effect[[0, 3], 2] == pytest.approx(1.0, abs=1e-6)  # the last token's stream
        assert effect[1:3] == pytest.approx(0.0, abs=1e-6)  # attention, MLP write nothing
        assert effect[:, :2] == pytest.approx(0.0, abs=1e-6)  # BOS, context: unchanged
        assert np.nanmean(found.per_pair[:, 3, 2]) == pytest.approx(1.0, abs=1e-6)
    assert (found.ld_clean > 5).all() and (found.ld_corrupt < -5).all()


def test_the_used_direction_has_normalised_effect_one_and_the_correlated_one_zero(toy, pairs):
    clean, corrupt, target, foil = pairs
    ld_clean = logit_difference(toy.model(input_ids=clean).logits[:, -1], target, foil).detach()
    ld_corrupt = logit_difference(toy.model(input_ids=corrupt).logits[:, -1], target, foil)
    ld_corrupt = ld_corrupt.detach()
    a, b = (toy.tokenizer.convert_ids_to_tokens(run[:, -1].tolist()) for run in (clean, corrupt))
    assert np.mean([toy.z[i] != toy.z[j] for i, j in zip(a, b, strict=True)]) > 0.5  # v differs
    for direction, expected in ((toy.u, 1.0), (toy.v, 0.0)):
        patched = subspace_patch(toy.model, corrupt, clean, target, foil, SITE, -1, direction[None])
        effect = normalised_effect(patched, ld_clean.numpy(), ld_corrupt.numpy())
        assert effect == pytest.approx(expected, abs=1e-5)


def test_ablating_and_steering_move_behaviour_only_along_the_used_direction(toy, pairs):
    clean, _, target, foil = pairs
    used = ablation(toy.model, clean, target, foil, SITE, toy.u)
    unused = ablation(toy.model, clean, target, foil, SITE, toy.v)
    assert used["before"]["accuracy"] == 1.0 and used["before"]["p_target"] > 0.9
    assert used["after"]["ld"] == pytest.approx(0, abs=1e-5)  # every answer logit ~0: ties
    assert used["after"]["accuracy"] < 0.5 and used["after"]["p_target"] < 0.1
    assert unused["after"]["accuracy"] == 1.0
    assert abs(unused["after"]["p_target"] - unused["before"]["p_target"]) < 0.01
    mean_ablated = ablation(toy.model, clean, target, foil, SITE, toy.u, mode="mean", value=0.0)
    assert mean_ablated["after"]["ld"] == pytest.approx(0, abs=1e-5)
    # steering: target "1" rows gain with +α along u, lose with −α; v does nothing
    ones = target == toy.tokenizer.convert_tokens_to_ids("1")
    rows = (clean[ones], target[ones], foil[ones])
    along_u = steering_curve(toy.model, *rows, SITE, toy.u, [-3, -1, 0, 1], positions=[-1])
    p = [point["p_target"] for point in along_u]
    assert p == sorted(p) and p[0] < 0.05 < 0.9 < p[-1]
    along_v = steering_curve(toy.model, *rows, SITE, toy.v, [-3, 0, 3], positions=[-1])
    assert all(point["accuracy"] == 1.0 for point in along_v)


def test_the_mean_difference_of_x_points_along_u(toy):
    letters = list(LETTERS)
    texts = [f"a{c}" for c in letters]
    _, cache = run_with_cache(toy.model, ids(toy, texts), [SITE], positions=[-1])
    theta = mean_difference(cache[SITE][:, 0], [toy.x[c] for c in letters])
    cosine = torch.nn.functional.cosine_similarity(theta, toy.u, dim=0)
    assert cosine > 0.7  # (the correlated z adds some v: a mass-mean direction is not pure)


def test_direction_helpers_follow_their_formulas():
    gen = torch.Generator().manual_seed(0)
    h, theta = torch.randn(5, 8, generator=gen), torch.randn(8, generator=gen)
    removed = project_out(h, theta)
    assert (removed @ theta).abs().max() < 1e-5
    torch.testing.assert_close(project_out(removed, theta), removed)
    basis = torch.linalg.qr(torch.randn(8, 8, generator=gen))[0].T[:2]  # [2, 8] orthonormal
    source = torch.randn(5, 8, generator=gen)
    swapped = swap_subspace(h, source, basis)
    torch.testing.assert_close(swapped @ basis.T, source @ basis.T)
    torch.testing.assert_close(
        project_out(project_out(swapped, basis[0]), basis[1]),
        project_out(project_out(h, basis[0]), basis[1]),
    )
    with pytest.raises(BadInput):
        mean_difference(h, [1] * 5)


def test_single_token_refuses_multi_token_answers(toy):
    assert single_token(toy.tokenizer, "1") == toy.tokenizer.convert_tokens_to_ids("1")
    with pytest.raises(BadInput, match="2 tokens"):
        single_token(toy.tokenizer, "10")


def test_patch_sweep_refuses_unequal_lengths_and_unknown_modes(toy, pairs):
    clean, corrupt, target, foil = pairs
    with pytest.raises(BadInput):
        patch_sweep(toy.model, clean, corrupt[:, :2], target, foil, [SITE])
    with pytest.raises(BadInput):
        patch_sweep(toy.model, clean, corrupt, target, foil, [SITE], mode="resample")
