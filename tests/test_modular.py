import math

import pytest
import torch

from regimescope.errors import BadInput
from regimescope.instruments.clock_pizza import (
    correct_logit_table,
    distance_irrelevance,
    gradient_symmetricity,
)
from regimescope.organisms.modular import ModularConfig, build_modular, modular_parameters
from regimescope.regimes import modular as regime
from regimescope.regimes.modular import (
    ModularRunConfig,
    learning_rate,
    load_modular,
    train_modular,
)
from regimescope.tasks.modular import all_pairs, modular_split

SMALL = ModularConfig(p=7, width=16, heads=4, mlp_width=32)

# --- the task --------------------------------------------------------------------------


def test_split_is_deterministic_disjoint_and_covers_every_pair_once():
    first, again = modular_split(11, 0.8, seed=3), modular_split(11, 0.8, seed=3)
    for name in ("train_tokens", "train_labels", "test_tokens", "test_labels"):
        assert torch.equal(getattr(first, name), getattr(again, name))
    assert len(first.train_tokens) == int(0.8 * 121) and len(first.test_tokens) == 121 - 96
    pairs = [tuple(t) for t in torch.cat([first.train_tokens, first.test_tokens]).tolist()]
    assert sorted(pairs) == [(a, b) for a in range(11) for b in range(11)]
    parts = [(first.train_tokens, first.train_labels), (first.test_tokens, first.test_labels)]
    for tokens, labels in parts:
        assert torch.equal(labels, (tokens[:, 0] + tokens[:, 1]) % 11)
    other = modular_split(11, 0.8, seed=4)
    assert not torch.equal(first.train_tokens, other.train_tokens)


def test_all_pairs_are_row_major_like_the_correct_logit_table():
    tokens, labels = all_pairs(5)
    assert tokens[:6].tolist() == [[0, 0], [0, 1], [0, 2], [0, 3], [0, 4], [1, 0]]
    assert labels.reshape(5, 5)[3, 4] == 2


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.5, 1.5, 0.001])
def test_a_split_with_an_empty_part_is_refused(fraction):
    with pytest.raises(BadInput):
        modular_split(7, fraction)


# --- the organism ----------------------------------------------------------------------


def paper_forward(model, tokens: torch.Tensor) -> torch.Tensor:
    """The forward pass of the paper's ``Transformer`` (code/train-main.py), einsum for
    einsum, on every position, read at the last: a reference for the organism."""
    alpha = model.cfg.attention_alpha
    x = model.W_E.T[:, tokens].permute(1, 2, 0) + model.W_pos  # 'dbp -> bpd', + positions
    k = torch.einsum("ihd,bpd->biph", model.W_K, x)
    q = torch.einsum("ihd,bpd->biph", model.W_Q, x)
    v = torch.einsum("ihd,bpd->biph", model.W_V, x)
    scores = torch.einsum("biph,biqh->biqp", k, q) / math.sqrt(model.W_Q.shape[1])
    attn = torch.softmax(scores, dim=-1) * alpha + (1 - alpha)
    z = torch.einsum("biph,biqp->biqh", v, attn)
    z_flat = z.permute(0, 2, 1, 3).reshape(z.shape[0], z.shape[2], -1)  # 'b i q h -> b q (i h)'
    x = x + torch.einsum("df,bqf->bqd", model.W_O, z_flat)
    hidden = torch.relu(torch.einsum("md,bpd->bpm", model.W_in, x) + model.b_in)
    x = x + torch.einsum("dm,bpm->bpd", model.W_out, hidden) + model.b_out
    return (x @ model.W_U)[:, -1, :]


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_the_organism_computes_the_papers_forward_pass(alpha):
    model = build_modular(
        ModularConfig(p=7, width=16, heads=4, mlp_width=32, attention_alpha=alpha)
    )
    tokens, _ = all_pairs(7)
    with torch.no_grad():
        torch.testing.assert_close(model(tokens), paper_forward(model, tokens))


def test_the_build_is_deterministic_in_the_seed_and_counts_its_parameters():
    one, same, other = build_modular(SMALL, 1), build_modular(SMALL, 1), build_modular(SMALL, 2)
    assert all(torch.equal(a, b) for a, b in zip(one.parameters(), same.parameters(), strict=True))
    assert not torch.equal(one.W_E, other.W_E)
    assert modular_parameters(SMALL) == sum(p.numel() for p in one.parameters())


def perturbed_logits(alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    model = build_modular(
        ModularConfig(p=7, width=16, heads=4, mlp_width=32, attention_alpha=alpha)
    )
    tokens, _ = all_pairs(7)
    with torch.no_grad():
        before = model(tokens)
        model.W_Q.add_(torch.randn_like(model.W_Q))
        model.W_K.mul_(3.0)
        return before, model(tokens)


def test_alpha_zero_makes_the_output_independent_of_queries_and_keys():
    before, after = perturbed_logits(0.0)
    assert torch.equal(before, after)
    model = build_modular(ModularConfig(p=7, width=16, heads=4, mlp_width=32, attention_alpha=0))
    pattern = model.pattern(model.embed(all_pairs(7)[0]) + model.W_pos)  # [49, heads, 2, 2]
    assert torch.equal(pattern, torch.ones_like(pattern))


def test_alpha_one_output_depends_on_queries_and_keys():
    before, after = perturbed_logits(1.0)
    assert (before - after).abs().max() > 1e-3


def test_logits_from_embeddings_agree_with_forward():
    model = build_modular(ModularConfig(p=7, width=16, heads=4, mlp_width=32, attention_alpha=0.5))
    tokens, _ = all_pairs(7)
    x = model.embed(tokens)  # [49, 2, d]
    with torch.no_grad():
        logits = model(tokens)
        torch.testing.assert_close(model.logits_from_embeddings(x[:, 0], x[:, 1]), logits)
        single = model.logits_from_embeddings(model.W_E[3], model.W_E[5])  # [p]
    torch.testing.assert_close(single, logits[3 * 7 + 5])


def test_residual_names_last_position_activations_that_make_the_logits():
    model = build_modular(SMALL)
    tokens, _ = all_pairs(7)
    with torch.no_grad():
        acts = model.residual(tokens)
        logits = model(tokens)
    assert set(acts) == {"embed", "attn_out", "resid_mid", "neurons", "mlp_out", "final"}
    assert acts["neurons"].shape == (49, 32) and acts["final"].shape == (49, 16)
    torch.testing.assert_close(acts["embed"], model.W_E[tokens[:, 1]] + model.W_pos[1])
    torch.testing.assert_close(acts["embed"] + acts["attn_out"] + acts["mlp_out"], acts["final"])
    torch.testing.assert_close(acts["final"] @ model.W_U, logits)


def test_the_clock_pizza_instruments_read_the_organism():
    model = build_modular(SMALL).eval()
    symmetricity = gradient_symmetricity(model.logits_from_embeddings, model.W_E, 7, samples=20)
    table = correct_logit_table(lambda a, b: model(torch.stack([a, b], dim=1)), 7)
    assert -1.0 <= symmetricity <= 1.0 and table.shape == (7, 7)
    assert distance_irrelevance(table, 7) >= 0


@pytest.mark.parametrize(
    "changes",
    [
        {"attention_alpha": -0.1},
        {"attention_alpha": 1.5},
        {"width": 18},  # not a multiple of 4 heads
        {"p": 1},
        {"activation": "swish"},
    ],
)
def test_bad_organisms_are_refused(changes):
    with pytest.raises(BadInput):
        build_modular(ModularConfig(**{**SMALL.__dict__, **changes}))


# --- the regime ------------------------------------------------------------------------


def small_run(**changes) -> ModularRunConfig:
    base = ModularRunConfig(
        organism=ModularConfig(p=11, width=32, heads=4, mlp_width=128),
        steps=300,
        weight_decay=1.0,
        lr=3e-3,
        log_every=50,
    )
    return ModularRunConfig(**{**base.__dict__, **changes})


def test_the_warmup_is_the_papers_lambda_lr():
    cfg = small_run(lr=1e-3, warmup_steps=10)
    assert [learning_rate(cfg, t) for t in (0, 5, 10, 500)] == [0.0, 5e-4, 1e-3, 1e-3]
    assert learning_rate(small_run(warmup_steps=0), 0) == 3e-3


def test_a_short_run_fits_its_training_set_and_is_reused_from_the_store(store, monkeypatch):
    run = train_modular(small_run(), store)
    summary, metrics = run.summary(), run.read_metrics()
    assert summary["train_accuracy"] >= 0.99
    assert summary["steps"] == 300 and summary["parameters"] == modular_parameters(
        small_run().organism
    )
    assert [r["step"] for r in metrics] == list(range(0, 301, 50))
    assert (
        metrics[0]["train_accuracy"] < 0.5
        and metrics[-1]["test_accuracy"] == summary["test_accuracy"]
    )
    model = load_modular(run)
    data = modular_split(11, 0.8, 0)
    with torch.no_grad():
        correct = (model(data.train_tokens).argmax(-1) == data.train_labels).double().mean()
    assert float(correct) == summary["train_accuracy"]

    monkeypatch.setattr(regime, "train", lambda *_: pytest.fail("a complete run was retrained"))
    assert train_modular(small_run(), store).path == run.path


def test_training_is_deterministic_and_the_seeds_matter(tmp_path):
    cfg = small_run(steps=20, log_every=10)
    one = load_modular(train_modular(cfg, tmp_path / "a"))
    same = load_modular(train_modular(cfg, tmp_path / "b"))
    other = load_modular(train_modular(small_run(steps=20, log_every=10, seed=1), tmp_path / "a"))
    assert all(torch.equal(a, b) for a, b in zip(one.parameters(), same.parameters(), strict=True))
    assert not torch.equal(one.W_E, other.W_E)


@pytest.mark.parametrize(
    "changes",
    [
        {"train_fraction": 0.0},
        {"train_fraction": 1.0},
        {"steps": 0},
        {"log_every": 0},
        {"lr": 0.0},
        {"betas": (0.9, 1.0)},
        {"organism": ModularConfig(p=11, attention_alpha=1.01)},
    ],
)
def test_bad_runs_are_refused_before_anything_is_written(store, changes):
    with pytest.raises(BadInput):
        train_modular(small_run(**changes), store)
    assert not store.exists()


def test_an_incomplete_folder_does_not_load(tmp_path):
    with pytest.raises(BadInput):
        load_modular(tmp_path)


def test_the_initialisation_has_the_papers_scales():
    model = build_modular(ModularConfig(p=31, width=64, heads=4, mlp_width=256), seed=0)
    expected = {"W_E": 64, "W_pos": 64, "W_Q": 64, "W_K": 64, "W_V": 64, "W_O": 64}
    expected |= {"W_in": 256, "W_out": 64, "W_U": 31}  # std = 1 / √scale
    for name, scale in expected.items():
        std = getattr(model, name).std().item()
        assert std == pytest.approx(scale**-0.5, rel=0.25 if name == "W_pos" else 0.1), name
    assert not model.b_in.any() and not model.b_out.any()
