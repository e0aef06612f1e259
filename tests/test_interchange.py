"""DAS on the planted-mechanism model: a one-dimensional subspace holds the used variable
(IIA ~ 1 at k = 1), the correlated unused direction does not, and the random-init copy is
reported beside it."""

import pytest
import torch

from regimescope.errors import BadInput
from regimescope.instruments.interchange import das_sweep, interchange_accuracy, train_subspace
from tests.mech_toys import LETTERS, answer_ids, ids, planted

SITE = "blocks.0.hook_resid_post"


@pytest.fixture(scope="module")
def toy():
    return planted()


@pytest.fixture(scope="module")
def pairs(toy):
    """(base, source) prompts over random letters; the counterfactual answer is the source
    letter's x (the causal model: the answer is x of the last letter)."""
    gen = torch.Generator().manual_seed(5)
    picks = torch.randint(0, len(LETTERS), (240, 2), generator=gen).tolist()
    base = ids(toy, [f"a{LETTERS[i]}" for i, _ in picks])
    source = ids(toy, [f"b{LETTERS[j]}" for _, j in picks])
    return base, source, answer_ids(toy, [LETTERS[j] for _, j in picks])


def test_das_finds_the_used_variable_at_k_one_and_the_random_copy_does_not(toy, pairs):
    found = das_sweep(toy.model, *pairs, SITE, -1, ks=(1, 2), steps=150, seed=0)
    model, baseline = found["model"], found["random_init"]
    assert model[1]["iia"] > 0.95 and model[2]["iia"] > 0.95
    assert model["full"]["iia"] == 1.0  # the whole stream at the last token decides
    assert 0.3 < model["none"]["iia"] < 0.7  # pairs whose answer is already the source's
    assert model[1]["ci"][0] > baseline[1]["ci"][1]
    assert found["n_test"] == 72 and found["n_train"] == 168


def test_the_learned_direction_is_u_and_swapping_v_does_not_move_the_answer(toy, pairs):
    base, source, counterfactual = pairs
    basis = train_subspace(toy.model, base, source, counterfactual, SITE, -1, k=1, steps=150)
    assert abs(float(basis[0] @ toy.u)) > 0.9
    along_v = interchange_accuracy(toy.model, base, source, counterfactual, SITE, -1, toy.v[None])
    unchanged = interchange_accuracy(toy.model, base, source, counterfactual, SITE, -1, None)
    assert (along_v == unchanged).all()


def test_das_refuses_a_subspace_larger_than_the_site(toy, pairs):
    with pytest.raises(BadInput):
        train_subspace(toy.model, *pairs, SITE, -1, k=17, steps=1)
