"""Probes: the logistic fit, the control task, selectivity and its intervals, on synthetic
features and on the planted-mechanism model (tests/mech_toys.py)."""

import numpy as np
import pytest
import torch
from scipy.stats import binomtest

from regimescope.errors import BadInput
from regimescope.instruments.probes import (
    ProbeData,
    collect,
    control_labels,
    fit_logistic,
    held_out_split,
    probe_direction,
    probe_features,
    probe_with_baseline,
    wilson_interval,
)
from tests.mech_toys import LETTERS, planted, prompts


def test_wilson_interval_matches_scipy():
    for correct, n in ((0, 10), (7, 10), (50, 50), (130, 400)):
        expected = binomtest(correct, n).proportion_ci(0.95, method="wilson")
        found = wilson_interval(correct, n)
        assert found == pytest.approx((expected.low, expected.high), abs=1e-9)


def test_control_labels_are_one_label_per_type_with_the_label_distribution():
    types = [f"t{i % 200}" for i in range(2000)]
    labels = [int(i % 200 < 50) for i in range(2000)]  # 25% ones, constant within a type
    control = control_labels(labels, types, seed=3)
    by_type = {}
    for t, c in zip(types, control, strict=True):
        assert by_type.setdefault(t, c) == c  # fixed per type
    share = np.mean(list(by_type.values()))
    assert 0.15 < share < 0.35  # drawn from the empirical distribution (25%)
    assert np.array_equal(control, control_labels(labels, types, seed=3))
    assert not np.array_equal(control, control_labels(labels, types, seed=4))


def test_a_split_by_type_keeps_each_type_on_one_side():
    types = [f"t{i % 10}" for i in range(100)]
    train, test = held_out_split(100, 0.3, seed=0, groups=types)
    assert {types[i] for i in train}.isdisjoint({types[i] for i in test})
    assert len(test) == 30 and sorted([*train, *test]) == list(range(100))
    with pytest.raises(BadInput):
        held_out_split(1, 0.5)


def test_the_logistic_probe_separates_separable_data_and_reads_its_direction():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 8, generator=gen) * 3 + 5  # far from standardised
    direction = torch.randn(8, generator=gen)
    y = (x @ direction > (x @ direction).median()).long()
    probe = fit_logistic(x, y, classes=2)
    assert (probe.predict(x) == y).float().mean() > 0.97
    cosine = torch.nn.functional.cosine_similarity(probe_direction(probe), direction, dim=0)
    assert cosine > 0.9


def test_selectivity_on_synthetic_features_type_lookup_versus_a_real_variable():
    """Features that are a random vector per type: the control task is as easy as any task
    when types repeat across the split, and at chance on held-out types; a real linear
    variable probes perfectly either way, so its selectivity is about 1 − chance."""
    gen = torch.Generator().manual_seed(1)
    n_types, per_type = 60, 8
    types = [f"t{i // per_type}" for i in range(n_types * per_type)]
    label_of_type = torch.randint(0, 2, (n_types,), generator=gen)
    type_vectors = torch.randn(n_types, 64, generator=gen)  # d >= types: memorisable
    x = type_vectors.repeat_interleave(per_type, 0)  # [N, 64]
    x[:, 0] = label_of_type.repeat_interleave(per_type) * 4.0 - 2.0  # the variable, linear
    labels = label_of_type.repeat_interleave(per_type).tolist()
    control = control_labels(labels, types, seed=0)
    seen = probe_features(x, labels, control, held_out_split(len(types), 0.3, seed=0))
    assert seen.accuracy == 1.0 and seen.control_accuracy > 0.95  # lookup of seen types
    unseen_split = held_out_split(len(types), 0.3, seed=0, groups=types)
    unseen = probe_features(x, labels, control, unseen_split)
    assert unseen.accuracy > 0.9  # (a probe free to memorise types generalises less well)
    assert abs(unseen.control_accuracy - 0.5) < 0.2  # near chance on held-out types
    assert unseen.selectivity == pytest.approx(unseen.accuracy - unseen.control_accuracy)
    low, high = unseen.selectivity_ci
    assert low <= unseen.selectivity <= high and high - low > 0.05
    lo, hi = unseen.accuracy_ci
    assert lo < unseen.accuracy <= hi and unseen.n_test == 18 * per_type


@pytest.fixture(scope="module")
def toy():
    return planted()


def probe_data(toy, variable):
    texts = prompts(contexts=6)
    values = toy.x if variable == "x" else toy.z
    types = tuple(t[-1] for t in texts)
    return ProbeData(tuple(texts), tuple(values[c] for c in types), types)


def test_planted_variable_and_distractor_both_probe_selectively_and_beat_random_init(toy):
    site = "blocks.0.hook_resid_post"
    for variable in ("x", "z"):
        data = probe_data(toy, variable)
        found = probe_with_baseline(toy.model, toy.tokenizer, data, [site], split_by_type=True)
        (model,), (baseline,) = found["model"][site], found["random_init"][site]
        assert model.accuracy == 1.0 and model.selectivity > 0.3  # high for both
        assert model.accuracy_ci[0] > baseline.accuracy_ci[1]  # beats the random-init copy
        assert baseline.accuracy < 0.8


def test_collect_reads_the_asked_positions_of_each_prompt(toy):
    texts = ["ab", "cd"]
    found = collect(toy.model, toy.tokenizer, texts, ["blocks.0.hook_resid_pre"], [[0, -1], [1, 2]])
    act = found["blocks.0.hook_resid_pre"]  # [2, 2, d]: the embeddings
    embed = toy.model.model.embed_tokens.weight
    ids = [toy.tokenizer.convert_tokens_to_ids(c) for c in ("<bos>", "b", "c", "d")]
    torch.testing.assert_close(act[0], embed[[ids[0], ids[1]]].detach())
    torch.testing.assert_close(act[1], embed[[ids[2], ids[3]]].detach())
    with pytest.raises(BadInput, match="outside"):
        collect(toy.model, toy.tokenizer, texts, ["blocks.0.hook_resid_pre"], [[5], [0]])


def test_letters_cover_both_values(toy):
    assert set(toy.x.values()) == {0, 1} and len(toy.x) == len(LETTERS)
