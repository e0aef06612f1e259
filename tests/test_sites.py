"""Named sites, cache and replacement, checked against nnsight (an independent tracer) on a
tiny Llama organism and a tiny GPT-2, both built from a config."""

import pytest
import torch
from nnsight import NNsight
from transformers import GPT2Config, GPT2LMHeadModel

from regimescope.errors import BadInput
from regimescope.instruments.sites import (
    KINDS,
    hooks,
    patched_logits,
    random_init_copy,
    run_with_cache,
    site_names,
)
from regimescope.organisms import build_organism, preset


def tiny_gpt2():
    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=2, n_embd=32, n_head=2, vocab_size=50, n_positions=16, bos_token_id=0
    )
    config.eos_token_id = 0
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def model(request):
    return build_organism(preset("nano"))[0] if request.param == "llama" else tiny_gpt2()


def modules(model, layer):
    """(block, attention, mlp, mid-norm) as nnsight envoys, for either layout."""
    if hasattr(model, "transformer"):
        block = model.transformer.h[layer]
        return block, block.attn, block.mlp, block.ln_2
    block = model.model.layers[layer]
    return block, block.self_attn, block.mlp, block.post_attention_layernorm


def reference_cache(model, ids):
    """Every site of every block, read by nnsight (in forward order, as it requires)."""
    traced, saved = NNsight(model), {}
    with traced.trace(ids):
        for i in range(model.config.num_hidden_layers):
            block, attn, mlp, mid_norm = modules(traced, i)
            saved[f"blocks.{i}.hook_resid_pre"] = block.input.save()
            saved[f"blocks.{i}.hook_attn_out"] = attn.output[0].save()
            saved[f"blocks.{i}.hook_resid_mid"] = mid_norm.input.save()
            saved[f"blocks.{i}.hook_mlp_out"] = mlp.output.save()
            saved[f"blocks.{i}.hook_resid_post"] = block.output.save()
        logits = traced.output.logits.save()
    return logits, saved


def test_cached_activations_equal_nnsight_at_every_site(model):
    ids = torch.randint(4, 50, (2, 7), generator=torch.Generator().manual_seed(1))
    names = site_names(model)
    assert len(names) == len(KINDS) * model.config.num_hidden_layers
    logits, cache = run_with_cache(model, ids, names)
    ref_logits, ref = reference_cache(model, ids)
    assert set(cache) == set(names)
    for name in names:
        assert cache[name].shape == (2, 7, model.config.hidden_size)
        torch.testing.assert_close(cache[name], ref[name], atol=1e-5, rtol=0)
    torch.testing.assert_close(logits, ref_logits, atol=1e-5, rtol=0)


def test_the_cache_holds_only_the_sites_and_positions_asked_for(model):
    ids = torch.randint(4, 50, (3, 6), generator=torch.Generator().manual_seed(2))
    _, full = run_with_cache(model, ids, ["blocks.1.hook_mlp_out"])
    _, some = run_with_cache(model, ids, ["blocks.1.hook_mlp_out"], positions=[0, -1])
    assert list(full) == ["blocks.1.hook_mlp_out"]
    name = "blocks.1.hook_mlp_out"
    torch.testing.assert_close(some[name], full[name][:, [0, 5]])


@pytest.mark.parametrize("kind", ["resid_pre", "attn_out", "mlp_out", "resid_post"])
def test_patched_logits_equal_nnsight(model, kind):
    gen = torch.Generator().manual_seed(3)
    clean, corrupt = (torch.randint(4, 50, (2, 6), generator=gen) for _ in range(2))
    name, position = f"blocks.1.hook_{kind}", 3
    _, cache = run_with_cache(model, clean, [name])
    source = cache[name][:, [position]]  # [B, 1, d]
    ours = patched_logits(model, corrupt, name, source, [position])
    traced = NNsight(model)
    with traced.trace(corrupt):
        block, attn, mlp, _ = modules(traced, 1)
        if kind == "resid_pre":
            block.input[:, position] = source[:, 0]
        elif kind == "attn_out":
            attn.output[0][:, position] = source[:, 0]
        elif kind == "mlp_out":
            mlp.output[:, position] = source[:, 0]
        else:
            block.output[:, position] = source[:, 0]
        reference = traced.output.logits.save()
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)
    unpatched = model(input_ids=corrupt).logits
    assert (ours - unpatched).abs().max() > 1e-4  # the patch did something
    torch.testing.assert_close(ours[:, :position], unpatched[:, :position])  # causal


def test_replacing_a_residual_site_at_every_position_gives_the_other_runs_logits(model):
    gen = torch.Generator().manual_seed(4)
    a, b = (torch.randint(4, 50, (2, 5), generator=gen) for _ in range(2))
    for kind in ("resid_pre", "resid_mid", "resid_post"):
        name = f"blocks.1.hook_{kind}"
        logits_b, cache = run_with_cache(model, b, [name])
        patched = patched_logits(model, a, name, cache[name], range(5))
        torch.testing.assert_close(patched, logits_b, atol=1e-5, rtol=0)


def test_hooks_are_removed_on_exit_even_after_an_error(model):
    ids = torch.tensor([[5, 6, 7]])
    before = model(input_ids=ids).logits
    with pytest.raises(RuntimeError), hooks(model, [("blocks.0.hook_resid_post", lambda x: x * 0)]):
        raise RuntimeError("boom")
    torch.testing.assert_close(model(input_ids=ids).logits, before)


def test_bad_sites_and_unsupported_models_are_bad_input(model):
    for bad in ("blocks.9.hook_resid_post", "blocks.0.hook_attn", "resid_post"):
        with pytest.raises(BadInput), hooks(model, [(bad, lambda x: None)]):
            pass
    with pytest.raises(BadInput, match="supported: Llama-family"):
        site_names(torch.nn.Linear(2, 2))


def test_random_init_copy_is_seeded_and_differs_from_the_model(model):
    one, two = random_init_copy(model, seed=1), random_init_copy(model, seed=1)
    pairs = list(zip(model.parameters(), one.parameters(), two.parameters(), strict=True))
    assert all(torch.equal(q, r) for _, q, r in pairs)
    assert any(not torch.equal(p, q) for p, q, _ in pairs)
    assert not one.training and one.config.to_dict() == model.config.to_dict()
