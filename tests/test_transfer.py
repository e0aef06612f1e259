import numpy as np
import pytest

from regimescope.instruments.transfer import (
    additive_prediction,
    backward_transfer,
    forward_transfer,
    order_matrix,
    pairwise_transfer,
    ranks,
    spearman,
)


def test_planted_forgetting_gives_the_expected_negative_bwt():
    # task 0 learned to 0.9, then training task 1 and 2 erodes it to 0.3; task 1 to 0.6
    r = np.array([[0.9, 0.1, 0.2], [0.5, 0.8, 0.2], [0.3, 0.6, 0.7]])
    assert backward_transfer(r) == pytest.approx(((0.3 - 0.9) + (0.6 - 0.8)) / 2)
    assert backward_transfer(r) < 0


def test_no_forgetting_gives_zero_and_improvement_positive_bwt():
    kept = np.array([[0.9, 0.0], [0.9, 0.8]])
    helped = np.array([[0.5, 0.0], [0.7, 0.8]])
    assert backward_transfer(kept) == pytest.approx(0.0)
    assert backward_transfer(helped) == pytest.approx(0.2)


def test_forward_transfer_against_the_start_scores_by_hand():
    r = np.array([[0.9, 0.4, 0.2], [0.5, 0.8, 0.5], [0.3, 0.6, 0.7]])
    start = np.array([0.1, 0.1, 0.3])
    # (R[0,1] - b1 + R[1,2] - b2) / 2 = (0.3 + 0.2) / 2
    assert forward_transfer(r, start) == pytest.approx(0.25)


def test_functions_broadcast_over_leading_resample_axes():
    r = np.stack([np.eye(3), np.ones((3, 3)) * 0.5])  # (2, 3, 3)
    assert backward_transfer(r).tolist() == pytest.approx([-1.0, 0.0])
    assert forward_transfer(r, np.zeros((2, 3))).tolist() == pytest.approx([0.0, 0.5])


def test_the_additive_prediction_is_exact_when_transfers_are_additive():
    rng = np.random.default_rng(0)
    single = rng.uniform(0.4, 0.9, 3)
    effect = rng.uniform(-0.3, 0.1, (3, 3))  # what training j does to i, history-free
    np.fill_diagonal(effect, 0.0)
    pair = single[:, None] + effect
    transfer = pairwise_transfer(single, pair)
    assert np.allclose(transfer, effect)
    orders = [(0, 1, 2), (2, 1, 0), (1, 0, 2), (1, 2, 0), (0, 2, 1), (2, 0, 1)]
    predicted, truth = [], []
    for order in orders:
        final = single.copy()
        for k, task in enumerate(order):
            final[task] += sum(effect[task, later] for later in order[k + 1 :])
        predicted.append(additive_prediction(single, transfer, order).mean())
        truth.append(final.mean())
    assert np.allclose(predicted, truth)
    assert spearman(np.array(predicted), np.array(truth)) == pytest.approx(1.0)


def test_the_additive_prediction_by_hand_and_only_later_tasks_count():
    single = np.array([0.8, 0.6, 0.5])
    transfer = np.array([[0, -0.3, -0.1], [0.1, 0, -0.2], [0.05, 0.0, 0]])
    got = additive_prediction(single, transfer, [2, 0, 1])  # train 2, then 0, then 1
    assert got.tolist() == pytest.approx([0.8 - 0.3, 0.6, 0.5 + 0.05 + 0.0])


def test_order_matrix_reindexes_tasks_by_training_position():
    after = np.arange(9.0).reshape(3, 3)  # stage x task-by-index
    assert order_matrix(after, [2, 0, 1]).tolist() == [[2, 0, 1], [5, 3, 4], [8, 6, 7]]


def test_spearman_by_hand_with_ties_and_reversal():
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([4.0, 3, 2, 1])) == pytest.approx(-1.0)
    assert ranks(np.array([3.0, 1, 3])).tolist() == [1.5, 0.0, 1.5]
    # ranks x: 0,1,2,3; y: 0.5,0.5,2,3 -> Pearson of ranks
    x, y = np.arange(4.0), np.array([0.5, 0.5, 2.0, 3.0])
    assert spearman(x, np.array([1.0, 1.0, 2.0, 3.0])) == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert np.isnan(spearman(np.arange(3.0), np.ones(3)))


def test_square_matrices_are_required():
    with pytest.raises(ValueError):
        backward_transfer(np.ones((2, 3)))
