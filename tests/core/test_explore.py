"""latent_core.explore against numpy references and invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ortho_group

from latent_core.errors import AnchorIndexError, InvalidParameterError, ShapeMismatchError
from latent_core.explore import (
    HEATMAP_MAX,
    agreement,
    anchor_order,
    anchor_similarity,
    class_mean_similarity,
    compute_views,
    offdiagonal_correlation,
    row_correlation,
    space_metrics,
    spread_anchor_order,
)


@pytest.fixture
def spaces():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(120, 16)).astype(np.float32)
    q = ortho_group.rvs(16, random_state=1).astype(np.float32)
    return a, 3.0 * a @ q  # B: a rotated, rescaled copy of A


def test_relative_views_of_a_rotated_copy_are_identical(spaces):
    a, b = spaces
    views = compute_views(a, b, np.arange(0, 120, 6))
    unit = a / np.linalg.norm(a, axis=1, keepdims=True)
    assert np.allclose(views.rel_a, unit @ unit[::6].T, atol=1e-5)  # cosine to the anchors, by numpy
    assert np.allclose(views.rel_a, views.rel_b, atol=1e-5)
    assert views.rel_a.shape == (120, 20) and views.translated_b.shape == (120, 16)


def test_translation_recovers_a_from_a_rotated_copy(spaces):
    a, b = spaces
    views = compute_views(a, b, np.arange(0, 120, 3), translator="procrustes")
    cos = np.sum(views.translated_b * a, 1) / np.linalg.norm(views.translated_b, axis=1) / np.linalg.norm(a, axis=1)
    assert cos.mean() > 0.95


def test_metrics_table_for_a_rotated_copy(spaces):
    a, b = spaces
    views = compute_views(a, b, np.arange(0, 120, 6))
    table = space_metrics(a, b, views, k=5).set_index("comparison")
    absolute = table.loc["absolute A vs absolute B"]
    assert absolute["linear CKA"] == pytest.approx(1.0, abs=1e-5)  # CKA ignores rotation and scale
    assert absolute["mutual k-NN"] == pytest.approx(1.0) and absolute["Jaccard@k"] == pytest.approx(1.0)
    assert math.isnan(absolute["MRR"]) and math.isnan(absolute["mean paired cosine"])
    relative = table.loc["relative A vs relative B"]
    assert relative["MRR"] == pytest.approx(1.0) and relative["mean paired cosine"] == pytest.approx(1.0, abs=1e-5)
    assert (table["k"] == 5).all()


def test_agreement_is_one_for_an_isometry_and_lower_for_noise(spaces):
    a, b = spaces
    views = compute_views(a, b, np.arange(0, 120, 6))
    assert np.allclose(agreement(a, b, views, k=5)["absolute"], 1.0)
    noisy = np.random.default_rng(3).normal(size=a.shape).astype(np.float32)
    scores = agreement(a, noisy, compute_views(a, noisy, np.arange(0, 120, 6)), k=5)["absolute"]
    assert scores.shape == (120,) and scores.mean() < 0.3


def test_anchor_and_class_mean_similarities_match_numpy(spaces):
    a, _ = spaces
    anchors = np.array([5, 1, 9, 30])
    unit = a[anchors] / np.linalg.norm(a[anchors], axis=1, keepdims=True)
    assert np.allclose(anchor_similarity(a, anchors), unit @ unit.T, atol=1e-6)
    labels = np.arange(120) % 3
    means = np.stack([a[labels == c].mean(0) for c in range(3)])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    got = class_mean_similarity(a, labels, 4)
    assert np.allclose(got[:3, :3], means @ means.T, atol=1e-5)
    assert np.isnan(got[3]).all() and np.isnan(got[:, 3]).all()  # a class with no samples
    assert list(anchor_order(labels, anchors)) == [2, 3, 1, 0]  # classes 2, 1, 0, 0 -> by class, then by row


def test_bad_inputs_raise_typed_errors(spaces):
    a, b = spaces
    with pytest.raises(ShapeMismatchError):
        compute_views(a, b[:-1], [0, 1, 2])
    with pytest.raises(AnchorIndexError):
        compute_views(a, b, [0, 500])
    with pytest.raises(InvalidParameterError):
        compute_views(a, b, [0, 1, 2], translator="teleport")
    with pytest.raises(InvalidParameterError):
        class_mean_similarity(a, np.zeros(5, dtype=int), 2)


# ---- what the heatmaps display -----------------------------------------------------------------------------


def test_spread_anchor_order_keeps_class_order_and_spreads_evenly():
    labels = np.arange(1000) % 4
    anchor_idx = np.random.default_rng(0).permutation(1000)[:400]
    full = anchor_order(labels, anchor_idx)
    spread = spread_anchor_order(labels, anchor_idx)
    assert HEATMAP_MAX == 150 and len(spread) == 150
    np.testing.assert_array_equal(spread, full[np.linspace(0, 399, 150).round().astype(int)])
    assert spread[0] == full[0] and spread[-1] == full[-1] and len(set(spread)) == 150
    assert np.all(np.diff(labels[anchor_idx[spread]]) >= 0)  # still sorted by class
    np.testing.assert_array_equal(spread_anchor_order(labels, anchor_idx[:30]), anchor_order(labels, anchor_idx[:30]))
    np.testing.assert_array_equal(spread_anchor_order(labels, anchor_idx, count=5), full[[0, 100, 200, 299, 399]])
    np.testing.assert_array_equal(spread_anchor_order(labels, anchor_idx, count=1), full[[0, 399]])  # at least 2
    assert list(spread_anchor_order(labels, anchor_idx[:1], count=1)) == [0]


def test_offdiagonal_correlation_is_pearson_of_the_upper_triangles():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    upper = [(i, j) for i in range(6) for j in range(i + 1, 6)]
    first, second = np.array([a[i, j] for i, j in upper]), np.array([b[i, j] for i, j in upper])
    expected = np.sum((first - first.mean()) * (second - second.mean())) / (
        np.sqrt(np.sum((first - first.mean()) ** 2)) * np.sqrt(np.sum((second - second.mean()) ** 2)))
    assert offdiagonal_correlation(a, b) == pytest.approx(expected, rel=1e-12)
    b_lower_changed = b.copy()
    b_lower_changed[np.tril_indices(6)] = 99.0  # the diagonal and the lower triangle do not count
    assert offdiagonal_correlation(a, b_lower_changed) == pytest.approx(expected, rel=1e-12)
    assert offdiagonal_correlation(a, 2 * a + 1) == pytest.approx(1.0)
    assert math.isnan(offdiagonal_correlation(a[:2, :2], b[:2, :2]))  # one pair: no correlation
    assert math.isnan(offdiagonal_correlation(a, np.ones((6, 6))))  # one side constant
    with pytest.raises(ShapeMismatchError):
        offdiagonal_correlation(a, b[:5, :5])


def test_row_correlation_matches_numpy_per_row_and_is_nan_for_constant_rows():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 9)), rng.normal(size=(5, 9))
    x[3] = 0.25
    y[4] = -1.0
    got = row_correlation(x, y)
    assert got.shape == (5,)
    for row in range(3):
        assert got[row] == pytest.approx(np.corrcoef(x[row], y[row])[0, 1], rel=1e-12)
    assert np.isnan(got[3]) and np.isnan(got[4])
    np.testing.assert_allclose(row_correlation(x[:3], 3 * x[:3] - 2), 1.0)
    with pytest.raises(ShapeMismatchError):
        row_correlation(x, y[:, :4])
