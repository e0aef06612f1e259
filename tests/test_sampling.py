"""The shared sampler: reproducibility, exactness against cache-free decoding, edge cases."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from regimescope.errors import BadInput
from regimescope.organisms import build_organism, build_tokenizer, preset
from regimescope.sampler import prefix_attention
from regimescope.sampler.decode import (
    Completion,
    HFSampler,
    Sampler,
    SamplingConfig,
    inverse_cdf,
    plan_batches,
    sample,
    top_p_filter,
)
from regimescope.tasks.encode import encode_prompt

PROMPTS = ["7*8=", "a longer prompt, with padding", "x", "12+34="]


@pytest.fixture(scope="module")
def nano():
    return build_organism(preset("nano"), seed=0)


@pytest.fixture(scope="module")
def gqa():
    """A Llama with grouped-query attention (4 query heads share 2 key/value heads)."""
    tokenizer = build_tokenizer()
    torch.manual_seed(1)
    sizes = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2}
    heads = {"num_attention_heads": 4, "num_key_value_heads": 2}
    ids = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
    config = LlamaConfig(vocab_size=len(tokenizer), **sizes, **heads, **ids)
    return LlamaForCausalLM(config).eval(), tokenizer


@pytest.fixture(params=["shared", "copied"])
def backend(request, monkeypatch):
    """Run a test with shared-prefix attention and with the copied-cache fallback."""
    if request.param == "copied":
        monkeypatch.setattr(prefix_attention, "supports", lambda model: False)
    return request.param


def greedy_by_recomputation(model, tokenizer, prompt: str, steps: int) -> tuple[int, ...]:
    """Greedy continuation with a full forward pass per token (no cache, no padding)."""
    ids = encode_prompt(tokenizer, prompt)
    out = []
    with torch.no_grad():
        for _ in range(steps):
            token = int(model(torch.tensor([ids + out])).logits[0, -1].argmax())
            if token == tokenizer.eos_token_id:
                break
            out.append(token)
    return tuple(out)


@pytest.mark.parametrize("which", ["nano", "gqa"])
def test_greedy_equals_cache_free_decoding(which, backend, request):
    model, tokenizer = request.getfixturevalue(which)
    out = sample(model, tokenizer, PROMPTS, SamplingConfig(n=2, temperature=0, max_new_tokens=12))
    for prompt, row in zip(PROMPTS, out, strict=True):
        assert row[0] == row[1]  # greedy rows are identical
        assert row[0].token_ids == greedy_by_recomputation(model, tokenizer, prompt, 12)


def test_same_seed_same_samples_any_batch_size(nano, backend):
    model, tokenizer = nano
    config = SamplingConfig(n=6, max_new_tokens=16, seed=3)
    first = sample(model, tokenizer, PROMPTS, config)
    assert sample(model, tokenizer, PROMPTS, config) == first
    small_batches = SamplingConfig(n=6, max_new_tokens=16, seed=3, batch_size=5)
    assert sample(model, tokenizer, PROMPTS, small_batches) == first
    other = sample(model, tokenizer, PROMPTS, SamplingConfig(n=6, max_new_tokens=16, seed=4))
    assert other != first


def test_shared_prefix_and_copied_cache_give_the_same_samples(gqa, monkeypatch):
    model, tokenizer = gqa
    config = SamplingConfig(n=20, max_new_tokens=40, seed=5, batch_size=48)
    shared = sample(model, tokenizer, PROMPTS, config)
    monkeypatch.setattr(prefix_attention, "supports", lambda model: False)
    assert sample(model, tokenizer, PROMPTS, config) == shared
    assert any(c.finished for row in shared for c in row)  # rows did leave the batch


def test_completions_shape_eos_and_progress(nano):
    model, tokenizer = nano
    seen = []
    config = SamplingConfig(n=5, max_new_tokens=40, seed=1, batch_size=7)
    out = sample(model, tokenizer, PROMPTS, config, progress=seen.append)
    assert [len(row) for row in out] == [5] * len(PROMPTS)
    assert seen == sorted(seen) and seen[-1] == len(PROMPTS) * 5
    for c in (c for row in out for c in row):
        assert isinstance(c, Completion)
        assert tokenizer.eos_token_id not in c.token_ids
        assert c.finished or len(c.token_ids) == 40
        assert c.text == tokenizer.decode(list(c.token_ids), skip_special_tokens=True)
    assert any(c.finished for row in out for c in row)


def test_hf_sampler_fills_the_protocol(nano):
    sampler: Sampler = HFSampler(*nano)
    config = SamplingConfig(n=2, max_new_tokens=3)
    assert sampler(["1+1="], config) == sample(*nano, ["1+1="], config)


def test_top_p_keeps_the_smallest_nucleus():
    probs = torch.tensor([[0.3, 0.5, 0.05, 0.15]])

    def kept(top_p):
        return (top_p_filter(probs, top_p) > 0).tolist()[0]

    assert kept(0.75) == [True, True, False, False]
    assert kept(0.85) == [True, True, False, True]
    assert kept(0.1) == [False, True, False, False]
    assert kept(1.0) == [True, True, True, True]
    assert torch.equal(top_p_filter(probs, 0.75)[0, :2], probs[0, :2])


def test_inverse_cdf_never_picks_zero_weight():
    weights = torch.tensor([[0.0, 0.5, 0.0, 0.5]]).expand(5, 4)
    u = torch.tensor([0.0, 0.25, 0.4999, 0.5, 0.9999999], dtype=torch.float64)
    assert inverse_cdf(weights, u).tolist() == [1, 1, 1, 3, 3]


def full_inverse_cdf(weights: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The one-level reference: a float64 running sum over the whole vocabulary."""
    cdf = weights.double().cumsum(dim=-1)
    target = (u * cdf[:, -1]).unsqueeze(-1)
    return torch.searchsorted(cdf, target, right=True).squeeze(-1).clamp(max=weights.shape[1] - 1)


@pytest.mark.parametrize("vocab", [7, 1000, 49152, 50257])
def test_two_level_inverse_cdf_draws_what_the_full_running_sum_draws(vocab):
    g = torch.Generator().manual_seed(vocab)
    probs = torch.softmax(torch.randn(512, vocab, generator=g) * 3, dim=-1)
    for weights in (probs, top_p_filter(probs, 0.9)):
        u = torch.rand(512, generator=g, dtype=torch.float64)
        tokens = inverse_cdf(weights, u)
        assert torch.equal(tokens, full_inverse_cdf(weights, u))
        assert bool((weights.gather(1, tokens[:, None]) > 0).all())


def test_a_draw_past_a_blocks_rounded_mass_takes_its_last_nonzero_token():
    ulp = 2.0**-23  # float32 spacing at 1
    weights = torch.zeros(2, 600)
    weights[:, 0], weights[:, 1], weights[:, 300] = 1.0, 0.625 * ulp, 1.0
    # block 0's float32 mass rounds up to 1 + ulp, its exact running sum ends at 1 + 0.625 ulp
    assert float(weights[0, :256].sum()) == 1 + ulp
    total = 2 + ulp
    u = torch.tensor([0.5 / total, (1 + 0.8 * ulp) / total], dtype=torch.float64)
    assert inverse_cdf(weights, u).tolist() == [0, 1]  # past the rounding: the last nonzero


def test_plan_batches_covers_every_row_once():
    batches = plan_batches([5, 2, 9], n=7, batch_size=4)
    assert all(sum(c.count for c in b) <= 4 for b in batches)
    rows = sorted((c.prompt, c.first + j) for b in batches for c in b for j in range(c.count))
    assert rows == [(p, s) for p in range(3) for s in range(7)]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (SamplingConfig(n=0), "n must be >= 1"),
        (SamplingConfig(max_new_tokens=0), "max_new_tokens must be >= 1"),
        (SamplingConfig(temperature=-1), "temperature must be >= 0"),
        (SamplingConfig(top_p=0), "top_p must be in (0, 1]"),
        (SamplingConfig(batch_size=-1), "batch_size must be >= 0"),
    ],
)
def test_bad_configs_are_bad_input(nano, config, message):
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace("]", r"\]")):
        sample(*nano, ["x"], config)


def test_auto_rows_fits_the_kv_budget():
    from types import SimpleNamespace

    from regimescope.sampler.decode import KV_BUDGET_BYTES, MAX_ROWS, auto_rows

    organism = SimpleNamespace(config=SimpleNamespace(num_hidden_layers=3, hidden_size=64))
    assert auto_rows(organism, 200) == MAX_ROWS
    seven_b = SimpleNamespace(config=SimpleNamespace(num_hidden_layers=32, hidden_size=4096))
    assert auto_rows(seven_b, 1024) == 1  # one row already exceeds the budget: never 0
    rows = auto_rows(seven_b, 64)
    assert rows == 8 and rows * 32 * 2 * 4096 * 64 * 4 <= KV_BUDGET_BYTES


def test_auto_rows_counts_grouped_query_key_value_heads(real_model):
    from transformers import AutoConfig

    from regimescope.sampler.decode import KV_BUDGET_BYTES, auto_rows

    config = AutoConfig.from_pretrained(real_model)  # SmolLM2-135M: 9 heads, 3 of them K/V
    assert (config.num_attention_heads, config.num_key_value_heads) == (9, 3)
    per_row = 30 * 2 * (3 * 64) * 136 * 4  # a third of the hidden size, 576
    model = type("Model", (), {"config": config})
    assert auto_rows(model, 136) == KV_BUDGET_BYTES // per_row == 85


def test_auto_rows_on_a_gpu_uses_its_free_memory(monkeypatch):
    from types import SimpleNamespace

    from regimescope.sampler.decode import GPU_KV_SHARE, GPU_MAX_ROWS, MAX_ROWS, auto_rows

    free = 64 * 2**30  # a GPU with 64 GiB free, faked so the rule runs on any machine
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (free, 2 * free))
    gpu = torch.device("cuda")
    organism = SimpleNamespace(config=SimpleNamespace(num_hidden_layers=3, hidden_size=64))
    assert auto_rows(organism, 200) == MAX_ROWS  # no device: the CPU budget
    assert auto_rows(organism, 200, gpu) == GPU_MAX_ROWS
    seven_b = SimpleNamespace(config=SimpleNamespace(num_hidden_layers=32, hidden_size=4096))
    per_row = 32 * 2 * 4096 * 1024 * 4  # fp32 K and V of one 1024-token row: 1 GiB
    assert auto_rows(seven_b, 1024, gpu) == int(free * GPU_KV_SHARE) // per_row == 16
