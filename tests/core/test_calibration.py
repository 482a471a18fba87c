"""Calibration against independent references: a hand-computed ECE, labels drawn from known probabilities, a known
temperature, invariances (T = 1, the argmax); and the acceptance test on the default scenario's stitched head."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_softmax, softmax

from latent_core.calibration import (
    Calibrated,
    CalibratedHead,
    TemperatureScaler,
    cross_fitted_temperature,
    expected_calibration_error,
    feasible_folds,
    log_probabilities,
    reliability_bins,
)
from latent_core.errors import (
    InvalidParameterError,
    NonFiniteError,
    NotFittedError,
    ShapeMismatchError,
)
from latent_core.heads import make_head
from tests.conftest import require


def _draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One label per row drawn from that row's probabilities (inverse CDF)."""
    return (rng.random((len(probs), 1)) > probs.cumsum(1)).sum(1).clip(0, probs.shape[1] - 1)


def test_ece_by_hand():
    # confidences 0.9 (right), 0.75 (wrong), 0.7 (right), 0.55 (right); five bins of width 0.2
    probs = np.array([[0.9, 0.1], [0.75, 0.25], [0.3, 0.7], [0.55, 0.45]])
    labels = np.array([0, 1, 1, 0])
    bins = reliability_bins(probs, labels, n_bins=5)
    assert bins.count.tolist() == [0, 0, 1, 2, 1]
    np.testing.assert_allclose(bins.confidence[2:], [0.55, 0.725, 0.9])
    np.testing.assert_allclose(bins.accuracy[2:], [1.0, 0.5, 1.0])
    assert np.isnan(bins.confidence[:2]).all() and np.isnan(bins.accuracy[:2]).all()
    # 1/4 |0.55 - 1| + 2/4 |0.725 - 0.5| + 1/4 |0.9 - 1|
    assert expected_calibration_error(probs, labels, n_bins=5) == pytest.approx(0.25)
    # one bin: mean confidence 0.725 against accuracy 0.75
    assert expected_calibration_error(probs, labels, n_bins=1) == pytest.approx(0.025)


def test_ece_is_near_zero_when_labels_follow_the_probabilities():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(4, 0.7), size=200_000)
    labels = _draw(probs, rng)
    assert expected_calibration_error(probs, labels) < 0.005
    sharpened = softmax(3 * np.log(probs), axis=1)  # same argmax, over-confident
    assert expected_calibration_error(sharpened, labels) > 0.1


@pytest.mark.parametrize("t0", [0.5, 2.5])
def test_temperature_fit_recovers_a_known_temperature(t0):
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(20_000, 5)) * 3
    labels = _draw(softmax(logits / t0, axis=1), rng)
    scaler = TemperatureScaler().fit(logits, labels)
    assert scaler.temperature_ == pytest.approx(t0, rel=0.05)
    # the minimum of the NLL, against a brute-force grid
    grid = np.exp(np.linspace(np.log(0.2), np.log(6), 400))
    nll = [-log_softmax(logits / t, axis=1)[np.arange(len(labels)), labels].mean() for t in grid]
    assert scaler.nll_ <= min(nll) + 1e-9 and scaler.nll_ <= scaler.nll_before_


def test_temperature_one_changes_nothing_and_no_temperature_changes_the_argmax():
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.ones(6), size=300)
    np.testing.assert_allclose(TemperatureScaler.fixed(1.0).calibrate(probs), probs, atol=1e-12)
    logits = rng.normal(size=(300, 6))
    np.testing.assert_allclose(TemperatureScaler.fixed(1.0).transform(logits), softmax(logits, axis=1))
    for t in (0.1, 0.7, 3.0, 15.0):
        scaled = TemperatureScaler.fixed(t).calibrate(probs)
        np.testing.assert_allclose(scaled.sum(1), 1)
        assert np.array_equal(scaled.argmax(1), probs.argmax(1))
        assert (scaled.max(1) <= probs.max(1) + 1e-12).all() if t > 1 else (scaled.max(1) >= probs.max(1) - 1e-12).all()


def _overfit_data(seed=0, n=1400, d=120, classes=4):
    """Few noisy samples in many dimensions: a logistic head fits its training set too well (over-confident)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    centres = rng.normal(size=(classes, d)) * 0.25
    return centres[labels] + rng.normal(size=(n, d)), labels


def test_calibrated_head_keeps_the_argmax_and_lowers_held_out_ece():
    x, y = _overfit_data()
    train, test = slice(0, 400), slice(400, None)
    head = CalibratedHead("logreg", seed=0, folds=5).fit(x[train], y[train])
    plain = make_head("logreg", 0).fit(x[train], y[train])
    assert np.array_equal(head.classes_, plain.classes_)
    np.testing.assert_allclose(head.uncalibrated_proba(x[test]), plain.predict_proba(x[test]))
    assert np.array_equal(head.predict(x[test]), plain.predict(x[test]))  # accuracy unchanged
    assert head.temperature > 1.2  # it was over-confident
    before = expected_calibration_error(plain.predict_proba(x[test]), y[test])
    after = expected_calibration_error(head.predict_proba(x[test]), y[test])
    assert after < 0.6 * before, (before, after)


def test_cross_fitting_trains_and_scores_only_the_allowed_rows():
    x, y = _overfit_data(n=200)
    trainable = np.arange(200) % 2 == 0
    scorable = ~trainable
    seen = []

    def fit_predict(train, val):
        seen.append((train, val))
        head = make_head("logreg", 0).fit(x[train], y[train])
        return head.classes_, head.predict_proba(x[val])

    cross_fitted_temperature(fit_predict, y, folds=4, seed=3, trainable=trainable, scorable=scorable)
    assert len(seen) == 4
    assert all(trainable[t].all() and scorable[v].all() and not np.intersect1d(t, v).size for t, v in seen)
    assert sorted(np.concatenate([v for _, v in seen])) == list(np.flatnonzero(scorable))


def test_feasible_folds_is_the_smallest_class_count_capped():
    assert feasible_folds([0] * 9 + [1] * 3, most=5) == 3
    assert feasible_folds([0] * 9 + [1] * 30, most=5) == 5
    assert feasible_folds([0] * 9 + [1], most=5) == 0 and feasible_folds([2] * 9, most=5) == 0


def test_calibrated_wrapper_delegates_everything_else():
    class Model:
        classes_ = np.array([3, 7])

        def predict_proba(self, x):
            return np.tile([0.8, 0.2], (len(x), 1))

        def top_anchors(self, x, k=5):
            return "anchors"

    wrapped = Calibrated(Model(), TemperatureScaler.fixed(2.0))
    np.testing.assert_allclose(wrapped.predict_proba(np.zeros((2, 1)))[0], softmax(np.log([0.8, 0.2]) / 2))
    assert wrapped.predict(np.zeros((1, 1))).tolist() == [3] and wrapped.top_anchors(None) == "anchors"


def test_bad_inputs_raise_typed_errors():
    probs = np.array([[0.6, 0.4], [0.3, 0.7]])
    with pytest.raises(ShapeMismatchError):
        expected_calibration_error(probs[0], [0])
    with pytest.raises(ShapeMismatchError):
        expected_calibration_error(probs, [0, 1, 1])
    with pytest.raises(InvalidParameterError, match=r"\[0, 1\]"):
        expected_calibration_error(probs, [0, 2])
    with pytest.raises(InvalidParameterError, match="sum to 1"):
        expected_calibration_error(probs * 0.5, [0, 1])
    with pytest.raises(NonFiniteError):
        expected_calibration_error(np.array([[np.nan, 1.0], [0.5, 0.5]]), [0, 1])
    with pytest.raises(NonFiniteError):
        TemperatureScaler().fit(np.array([[np.inf, 0.0], [0.0, 1.0]]), [0, 1])
    with pytest.raises(InvalidParameterError):
        reliability_bins(probs, [0, 1], n_bins=0)
    with pytest.raises(NotFittedError):
        TemperatureScaler().transform(probs)
    with pytest.raises(NotFittedError):
        CalibratedHead().predict_proba(probs)
    with pytest.raises(InvalidParameterError, match="Too few samples per class"):
        CalibratedHead(folds=5).fit(np.random.default_rng(0).normal(size=(23, 3)), np.array([0] * 20 + [1] * 3))
    with pytest.raises(InvalidParameterError):
        TemperatureScaler.fixed(0.0)
    assert np.isfinite(log_probabilities(np.array([[1.0, 0.0]]))).all()


# ---- acceptance: the default scenario's stitched head, on held-out test samples ------------------------------------

@pytest.fixture(scope="module")
def default_spaces():
    """The default scenario's two spaces (bundled or cached embeddings; no model is run) and labels."""
    from latent_core.cache import BUNDLED_DIR
    from latent_core.config import DEFAULT_SCENARIO as scenario
    from latent_core.data import load_dataset
    from latent_core.embed import embed_dataset
    from latent_core.encoders import get_encoder

    require(any(BUNDLED_DIR.glob("*.npy")), "assets/embeddings holds no bundled embeddings")
    data = load_dataset(scenario.dataset, n=scenario.n_samples, seed=scenario.seed)
    a, b = (embed_dataset(get_encoder(spec), data).numpy() for spec in (scenario.encoder_a, scenario.encoder_b))
    return a, b, np.asarray(data.labels)


@pytest.mark.parametrize("method", ["relative:cosine", "translate:procrustes"])
def test_calibration_lowers_the_stitched_heads_ece_on_held_out_test_samples(default_spaces, method):
    from latent_core.stitching import Stitcher, draw_anchors, split_indices

    a, b, y = default_spaces
    # the lab's default split: 890 test samples, a pool of 300 random anchors, the rest trains (seed 0)
    pool, train, test = split_indices(y, n_anchors=300, test_size=890, seed=0)
    anchors = draw_anchors(a, y, pool, 300, "random", 0)

    def fit_predict(fit_pos, val_pos):  # A's head trained on some training rows, scored on B's other rows
        stitcher = Stitcher(method, seed=0).fit(a, b, y, anchor_idx=anchors, train_idx=train[fit_pos])
        return stitcher.classes_, stitcher.predict_proba(b[train[val_pos]])

    scaler = cross_fitted_temperature(fit_predict, y[train], folds=5, seed=0)
    stitched = Stitcher(method, seed=0).fit(a, b, y, anchor_idx=anchors, train_idx=train)
    assert not np.intersect1d(test, train).size and not np.intersect1d(test, anchors).size
    before = stitched.predict_proba(b[test])
    after = Calibrated(stitched, scaler).predict_proba(b[test])
    assert np.array_equal(before.argmax(1), after.argmax(1))
    ece_before, ece_after = (expected_calibration_error(p, y[test]) for p in (before, after))
    nll_before, nll_after = (-np.log(p[np.arange(len(test)), y[test]]).mean() for p in (before, after))
    assert scaler.temperature_ > 1, "the stitched head is over-confident"
    assert ece_after < ece_before, (ece_before, ece_after)
    assert nll_after < nll_before, (nll_before, nll_after)
