import doctest
import math

import numpy as np
import pytest

from regimescope.instruments import planning


def test_doctests_pass():
    assert doctest.testmod(planning).failed == 0


@pytest.mark.parametrize(
    ("choices", "expected"),
    [
        (["a"] * 4, 0.0),  # one plan: no diversity
        (["a", "b", "c", "d"], math.log(4)),  # all different: log n
        (["a", "a", "a", "b"], -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))),
        ([(1, 2), (1, 2), (2, 1)], -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))),
    ],
)
def test_choice_entropy_by_hand(choices, expected):
    assert planning.choice_entropy(choices) == pytest.approx(expected)


def test_choice_entropy_of_nothing_is_nan():
    assert math.isnan(planning.choice_entropy([]))


def test_hinge_finds_a_fall_then_a_plateau():
    x = np.arange(0, 70, 10)
    y = np.where(x <= 20, 1.0 - 0.02 * x, 0.6)  # falls 0.02 per step to step 20, then flat
    fit = planning.hinge_fit(x, y)
    assert fit.boundary == 20
    assert fit.slope_before == pytest.approx(-0.02)
    assert fit.slope_after == pytest.approx(0.0, abs=1e-12)
    assert fit.level == pytest.approx(0.6)
    assert fit.sse == pytest.approx(0.0, abs=1e-20)


def test_hinge_on_a_line_reports_equal_slopes():
    fit = planning.hinge_fit([0, 1, 2, 3], [1.0, 3.0, 5.0, 7.0])
    assert fit.slope_before == pytest.approx(2.0) and fit.slope_after == pytest.approx(2.0)
    assert fit.boundary == 1  # every knot fits exactly: the first wins


@pytest.mark.parametrize(("x", "y"), [([0, 1], [0.0, 1.0]), ([0, 2, 1], [0.0, 1.0, 2.0])])
def test_hinge_rejects_bad_input(x, y):
    with pytest.raises(ValueError):
        planning.hinge_fit(x, y)


def test_mining_keeps_the_most_widespread_ngrams():
    docs = ["plan 3*5\nans", "plan 7-2\nans", "plan 1+1\nans", "zzz"]
    grams = planning.mine_ngrams(docs, 3, 3, top_fraction=1.0)
    assert set(grams) == {tuple("pla"), tuple("lan"), tuple("an "), tuple("\nan"), tuple("ans")}
    assert grams[0] == tuple("\nan")  # df 3 for all: ties broken by the n-gram itself
    assert planning.mine_ngrams(docs, 3, 3, top_fraction=0.2) == [tuple("\nan")]
    assert planning.mine_ngrams(["abc"], 3, 3) == []  # df 1 < min_df


def test_document_frequency_counts_a_doc_once():
    docs = ["aaaa", "xaaa", "bbbx"]  # 'aaa' twice in the first doc, df 2
    assert planning.mine_ngrams(docs, 3, 3, top_fraction=1.0) == [tuple("aaa")]


def test_mask_and_scores_against_truth():
    doc = list("plan 3*5")
    mask = planning.ngram_mask(doc, [tuple("an "), tuple("3*5")])
    assert mask == [False, False, True, True, True, True, True, True]
    truth = [False] * 5 + [True] * 3
    tp, fp, fn = planning.mask_counts(mask, truth)
    assert (tp, fp, fn) == (3, 3, 0)
    assert planning.precision_recall(tp, fp, fn) == (0.5, 1.0)
    assert all(math.isnan(v) for v in planning.precision_recall(0, 0, 0))
    with pytest.raises(ValueError):
        planning.mask_counts([True], [True, False])


def test_mining_rejects_bad_parameters():
    with pytest.raises(ValueError):
        planning.mine_ngrams(["abc"], 3, 2)
    with pytest.raises(ValueError):
        planning.mine_ngrams(["abc"], top_fraction=0.0)
