"""The sample cache: a hit equals a fresh draw, any change to what decides the samples
misses, and nothing is cached outside a study or inside training."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch

from regimescope.organisms import build_organism, preset
from regimescope.regimes.rl import rl
from regimescope.sampler import cache as sample_cache
from regimescope.sampler import decode as sampling
from regimescope.sampler.decode import SamplingConfig, sample
from tests.regime_toys import register, warm_start
from tests.test_rl import toy_config

PROMPTS = ["7*8=", "a longer prompt", "x"]
CONFIG = SamplingConfig(n=5, temperature=1.0, max_new_tokens=12, seed=3)


@pytest.fixture(scope="module")
def nano():
    return build_organism(preset("nano"), seed=0)


def refuse_to_draw(monkeypatch):
    def draw(*args, **kwargs):
        raise AssertionError("sampled although the cache holds these samples")

    monkeypatch.setattr(sampling, "_draw", draw)


def cached_files(root):
    return sorted(root.rglob("*.npz"))


def test_a_hit_returns_exactly_what_was_drawn(nano, tmp_path, monkeypatch):
    model, tokenizer = nano
    with sample_cache.caching(tmp_path):
        drawn = sample(model, tokenizer, PROMPTS, CONFIG)
        assert len(cached_files(tmp_path)) == 1
        refuse_to_draw(monkeypatch)
        ended = []
        again = sample(model, tokenizer, PROMPTS, CONFIG, progress=ended.append)
    assert again == drawn  # text, token ids and EOS flag of every completion
    assert ended == [len(PROMPTS) * CONFIG.n]


def test_the_batch_size_is_not_part_of_the_key(nano, tmp_path, monkeypatch):
    model, tokenizer = nano
    with sample_cache.caching(tmp_path):
        drawn = sample(model, tokenizer, PROMPTS, CONFIG)
        refuse_to_draw(monkeypatch)
        assert sample(model, tokenizer, PROMPTS, replace(CONFIG, batch_size=2)) == drawn


def test_a_damaged_entry_is_drawn_again_and_replaced(nano, tmp_path):
    model, tokenizer = nano
    with sample_cache.caching(tmp_path):
        drawn = sample(model, tokenizer, PROMPTS, CONFIG)
        [entry] = cached_files(tmp_path)
        entry.write_bytes(b"not an npz")
        assert sample(model, tokenizer, PROMPTS, CONFIG) == drawn
    assert entry.read_bytes()[:2] == b"PK"  # rewritten as a zip archive


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 4},
        {"temperature": 0.7},
        {"top_p": 0.9},
        {"n": 4},
        {"max_new_tokens": 11},
        {"prompts": PROMPTS[:2]},
        {"weights": 1e-3},
    ],
)
def test_whatever_decides_the_samples_is_in_the_key(nano, tmp_path, change):
    model, tokenizer = nano
    with sample_cache.caching(tmp_path):
        sample(model, tokenizer, PROMPTS, CONFIG)
        prompts = change.pop("prompts", PROMPTS)
        if "weights" in change:
            model = copy.deepcopy(model)
            with torch.no_grad():
                next(model.parameters()).view(-1)[0] += change.pop("weights")
        sample(model, tokenizer, prompts, replace(CONFIG, **change))
    assert len(cached_files(tmp_path)) == 2


def test_nothing_is_cached_outside_caching_or_while_paused(nano, tmp_path):
    model, tokenizer = nano
    sample(model, tokenizer, PROMPTS, CONFIG)
    with sample_cache.caching(tmp_path), sample_cache.paused():
        sample(model, tokenizer, PROMPTS, CONFIG)
    assert sample_cache.active() is None and not cached_files(tmp_path)


def test_rl_inside_a_caching_block_writes_no_samples(tmp_path, monkeypatch):
    register(monkeypatch)
    start = warm_start(tmp_path / "warm")
    with sample_cache.caching(tmp_path / "samples"):
        rl(toy_config(start, steps=3), tmp_path / "runs")
        assert sample_cache.active() == tmp_path / "samples"  # restored after training
    assert not cached_files(tmp_path / "samples")
