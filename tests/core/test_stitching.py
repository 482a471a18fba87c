"""Stitching on synthetic spaces where the answer is known: B is a rotated, rescaled, noisy copy of A."""

import time

import numpy as np
import pytest
from scipy.stats import ortho_group

from latent_core.errors import AnchorIndexError, InvalidParameterError, NotFittedError, ShapeMismatchError
from latent_core.stitching import (
    Stitcher,
    anchor_sweep,
    chance_rate,
    parse_method,
    split_indices,
    stitch_benchmark,
    stitch_eval,
    summarize,
)


def _spaces(seed=0, n=900, d=24, classes=4, noise=0.05):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    centres = rng.normal(size=(classes, d)) * 3
    a = centres[labels] + rng.normal(size=(n, d))
    b = 2.5 * a @ ortho_group.rvs(d, random_state=seed) + rng.normal(size=(n, d)) * noise
    return a, b, labels


@pytest.fixture(scope="module")
def split():
    a, b, labels = _spaces()
    pool, train, test = split_indices(labels, n_anchors=60, test_size=300, seed=0)
    return a, b, labels, pool, train, test


@pytest.mark.parametrize("method,floor", [("relative:cosine", 0.9), ("translate:procrustes", 0.95)])
def test_relative_and_procrustes_stitch_near_perfectly(split, method, floor):
    a, b, labels, anchors, train, test = split
    result = stitch_eval(a, b, labels, anchor_idx=anchors, method=method, train_idx=train, test_idx=test)
    assert result.a_accuracy > 0.95 and result.b_accuracy > 0.95
    assert result.accuracy > floor * result.a_accuracy
    if method == "translate:procrustes":  # isotropic scaling also removes a shift and the global scale
        from latent_core.translate import Procrustes

        shifted = b + 7.0
        mapped = Procrustes(scaling="isotropic").fit(shifted[anchors], a[anchors]).transform(shifted[test]).numpy()
        assert np.abs(mapped - a[test]).mean() < 0.1


def test_relative_cosine_is_exactly_invariant_without_noise():
    a, b, labels = _spaces(noise=0.0)  # a pure rotation and rescaling: cosine relative spaces coincide
    pool, train, test = split_indices(labels, n_anchors=40, test_size=200, seed=1)
    result = stitch_eval(a, b, labels, anchor_idx=pool, method="relative:cosine", train_idx=train, test_idx=test)
    assert result.accuracy == result.a_accuracy


def test_centred_relative_survives_a_shift_that_breaks_plain_cosine(split):
    a, b, labels, anchors, train, test = split
    shifted = b + 40.0  # an anisotropic space: every cosine crowds near 1
    plain = stitch_eval(a, shifted, labels, anchor_idx=anchors, method="relative:cosine", train_idx=train,
                        test_idx=test)
    centred = stitch_eval(a, shifted, labels, anchor_idx=anchors, method="relative:cosine+center",
                          train_idx=train, test_idx=test)
    assert centred.accuracy > 0.9 and centred.accuracy > plain.accuracy + 0.2


def test_absolute_stitching_collapses_to_chance():
    """Averaged over random rotations: one rotation can land classes anywhere, on average nowhere useful."""
    stitched, chance = [], []
    for seed in range(6):
        a, b, labels = _spaces(seed, n=600)
        pool, train, test = split_indices(labels, n_anchors=40, test_size=200, seed=seed)
        result = stitch_eval(a, b, labels, anchor_idx=pool, method="absolute", train_idx=train, test_idx=test)
        assert result.a_accuracy > 0.95
        assert result.chance == chance_rate(labels[train])
        stitched.append(result.accuracy)
        chance.append(result.chance)
    assert abs(np.mean(stitched) - np.mean(chance)) < 0.12


def test_mlp_head_also_stitches(split):
    a, b, labels, anchors, train, test = split
    result = stitch_eval(a, b, labels, anchor_idx=anchors, method="relative:cosine", head="mlp",
                         train_idx=train, test_idx=test)
    assert result.accuracy > 0.85


def test_benchmark_redraws_splits_and_summarises():
    a, b, labels = _spaces(n=500)
    frame = stitch_benchmark(a, b, labels, methods=["absolute", "relative:cosine"], n_anchors=30, test_size=150,
                             seeds=[0, 1])
    assert len(frame) == 4 and set(frame.seed) == {0, 1}
    summary = summarize(frame)
    assert list(summary.method) == ["absolute", "relative:cosine"]
    row = summary.set_index("method").loc["relative:cosine"]
    assert row.accuracy_mean == pytest.approx(frame[frame.method == "relative:cosine"].accuracy.mean())


def test_anchor_sweep_is_tidy_and_keeps_the_train_set():
    a, b, labels = _spaces(n=500)
    frame = anchor_sweep(a, b, labels, counts=[5, 20, 40], methods=["relative:cosine"],
                         strategies=["random", "fps"], test_size=150)
    assert len(frame) == 6 and set(frame.n_anchors) == {5, 20, 40} and set(frame.strategy) == {"random", "fps"}
    assert frame.n_train.nunique() == 1
    by_count = frame[frame.strategy == "random"].set_index("n_anchors").accuracy
    assert by_count[40] >= by_count[5] - 0.02


def test_stitcher_round_trip_and_speed(split):
    a, b, labels, anchors, train, test = split
    stitcher = Stitcher("relative:cosine").fit(a, b, labels, anchor_idx=anchors, train_idx=train)
    reference = stitch_eval(a, b, labels, anchor_idx=anchors, method="relative:cosine", train_idx=train,
                            test_idx=test)
    predictions = stitcher.predict(b[test])
    assert (predictions == labels[test]).mean() == pytest.approx(reference.accuracy)
    probabilities = stitcher.predict_proba(b[test[:3]])
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-6)
    start = time.perf_counter()
    stitcher.predict_proba(b[test[0]])
    assert time.perf_counter() - start < 1.0  # generous: a benchmark reports the real figure
    index, cosines = stitcher.top_anchors(b[anchors[3]], k=3)
    assert index[0] == anchors[3] and cosines[0] == pytest.approx(1.0, abs=1e-5)
    assert list(cosines) == sorted(cosines, reverse=True)


def test_bad_inputs(split):
    a, b, labels, anchors, train, test = split
    with pytest.raises(AnchorIndexError, match="anchors and test"):
        stitch_eval(a, b, labels, anchor_idx=np.append(anchors, test[0]), method="absolute", train_idx=train,
                    test_idx=test)
    with pytest.raises(AnchorIndexError, match="train and test"):
        stitch_eval(a, b, labels, anchor_idx=anchors, method="absolute", train_idx=np.append(train, test[0]),
                    test_idx=test)
    with pytest.raises(ShapeMismatchError, match="labels"):
        stitch_eval(a, b, labels[:-1], anchor_idx=anchors, method="absolute", train_idx=train, test_idx=test)
    one_class = np.zeros_like(labels)
    with pytest.raises(InvalidParameterError, match="single class"):
        stitch_eval(a, b, one_class, anchor_idx=anchors, method="absolute", train_idx=train, test_idx=test)
    with pytest.raises(InvalidParameterError, match="Unknown stitching method"):
        parse_method("relative:cosinus")
    with pytest.raises(NotFittedError):
        Stitcher().predict_proba(b[:1])
    with pytest.raises(InvalidParameterError, match="cannot hold"):
        split_indices(labels, n_anchors=800, test_size=300, seed=0)


def test_split_is_disjoint_stratified_and_deterministic():
    _, _, labels = _spaces()
    pool, train, test = split_indices(labels, n_anchors=50, test_size=0.25, seed=3)
    assert len(test) == 225 and len(pool) == 50 and len(train) == 900 - 275
    assert not (set(pool) & set(train) or set(pool) & set(test) or set(train) & set(test))
    again = split_indices(labels, n_anchors=50, test_size=0.25, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip((pool, train, test), again))
