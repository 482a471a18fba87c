"""Bootstrap intervals (latent_core.bootstrap) on cases with known answers, the new per-sample metrics against numpy,
and the registry's intervals and kernel subsample (latent_core.explore)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latent_core import explore
from latent_core.bootstrap import Interval, bootstrap_ci, bootstrap_mean_ci
from latent_core.errors import InvalidParameterError, NonFiniteError, ShapeMismatchError, UnknownNameError
from latent_core.metrics import jaccard_per_sample, linear_cka, mean_rank, unbiased_cka


def _mean_metric(x, y):
    return float(np.mean(x[:, 0] * y[:, 0]))


def _scores(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 1)), np.ones((n, 1))


def test_rows_bootstrap_of_a_mean_is_numpys_own_resampling():
    x, y = _scores(300)
    got = bootstrap_ci(_mean_metric, x, y, n_boot=500, level=0.9, seed=7)
    draws = np.random.default_rng(7).integers(0, 300, size=(500, 300))
    means = x[:, 0][draws].mean(1)
    low, high = np.percentile(means, [5, 95])
    assert (got.low, got.high) == pytest.approx((low, high), rel=1e-12)
    assert got.value == pytest.approx(x.mean()) and got.low < x.mean() < got.high
    same = bootstrap_mean_ci(x[:, 0], n_boot=500, level=0.9, seed=7)  # the same draws resample the scores
    assert (same.low, same.high) == pytest.approx((got.low, got.high), rel=1e-12) and same.method == "scores"
    assert isinstance(got, Interval) and got.n_boot == 500 and got.level == 0.9 and got.n_resampled == 300


def test_the_interval_of_a_mean_shrinks_like_one_over_sqrt_n_and_matches_normal_theory():
    widths = {}
    for n in (400, 1600):
        scores = np.random.default_rng(n).normal(size=n)
        interval = bootstrap_mean_ci(scores, n_boot=2000, seed=0)
        assert interval.low < scores.mean() < interval.high
        widths[n] = interval.width
        assert interval.width == pytest.approx(2 * 1.96 * scores.std() / math.sqrt(n), rel=0.12)
    assert widths[400] / widths[1600] == pytest.approx(2, rel=0.15)


def test_half_subsampling_of_a_mean_has_the_spread_of_the_full_mean():
    x, y = _scores(800, seed=3)
    for max_samples, rel in ((None, 0.15), (200, 0.2)):  # half-samples, and 200 of 800 rescaled by sqrt(m/(N-m))
        got = bootstrap_ci(_mean_metric, x, y, n_boot=1000, seed=1, method="subsample", max_samples=max_samples)
        assert got.n_resampled == (400 if max_samples is None else 200)
        assert got.value == pytest.approx(x.mean()) and got.low < got.value < got.high
        assert got.width == pytest.approx(2 * 1.96 * x.std() / math.sqrt(800), rel=rel)


def test_identical_spaces_give_a_zero_width_interval_at_one():
    x = np.random.default_rng(0).normal(size=(80, 6))
    for metric in ("mutual k-NN", "Jaccard@k", "linear CKA", "unbiased CKA", "CKNNA"):
        got = explore.metric_interval(metric, x, x.copy(), 5, n_boot=20)
        assert (got.value, got.low, got.high) == pytest.approx((1.0, 1.0, 1.0), abs=1e-6), metric
    got = bootstrap_ci(lambda a, b: linear_cka(a, b), x, x, n_boot=10, method="rows")
    assert got.width == pytest.approx(0, abs=1e-9)


def test_typed_errors():
    x, y = _scores(20)
    with pytest.raises(InvalidParameterError, match="level"):
        bootstrap_ci(_mean_metric, x, y, level=1.5)
    with pytest.raises(InvalidParameterError, match="n_boot"):
        bootstrap_mean_ci(x[:, 0], n_boot=0)
    with pytest.raises(InvalidParameterError, match="Unknown bootstrap method"):
        bootstrap_ci(_mean_metric, x, y, method="jackknife")
    with pytest.raises(InvalidParameterError, match="max_samples"):
        bootstrap_ci(_mean_metric, x, y, max_samples=5)
    with pytest.raises(ShapeMismatchError, match="same samples"):
        bootstrap_ci(_mean_metric, x, y[:10])
    with pytest.raises(ShapeMismatchError):
        bootstrap_mean_ci(x)
    with pytest.raises(NonFiniteError):
        bootstrap_mean_ci([0.5, math.nan])
    with pytest.raises(NonFiniteError):
        bootstrap_ci(lambda a, b: math.nan, x, y)
    with pytest.raises(InvalidParameterError, match="at least 4"):
        bootstrap_ci(_mean_metric, x[:3], y[:3], method="subsample")
    with pytest.raises(UnknownNameError):
        explore.metric_interval("no such metric", x, y)


def test_mean_rank_top1_and_jaccard_per_sample_by_hand():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])  # rows 0 and 1 swapped: y2 and the
    # wrong one beat the true counterpart of x0 and x1 (cosines 0.71, 1 vs 0): ranks 3, 3; x2 finds y2 first: rank 1
    assert mean_rank(x, y) == pytest.approx(7 / 3)
    assert explore.METRICS.get("top-1 retrieval")(x, y, 1) == pytest.approx(1 / 3)
    scores = explore.METRICS.meta("mean rank")["per_sample"](x, y, 1).numpy()
    assert scores.tolist() == [3, 3, 1]
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(30, 5)), rng.normal(size=(30, 7))

    def knn(m, k):
        unit = m / np.linalg.norm(m, axis=1, keepdims=True)
        sims = unit @ unit.T
        np.fill_diagonal(sims, -np.inf)
        return [set(np.argsort(-row)[:k]) for row in sims]

    expected = [len(p & q) / len(p | q) for p, q in zip(knn(a, 4), knn(b, 4))]
    assert jaccard_per_sample(a, b, 4).numpy() == pytest.approx(expected)


def test_kernel_metrics_use_a_seeded_subsample_above_the_cap(monkeypatch):
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(60, 5)), rng.normal(size=(60, 5))
    assert explore.kernel_note(60) is None
    monkeypatch.setattr(explore, "KERNEL_MAX_SAMPLES", 40)
    rows = explore.kernel_rows(60)
    assert len(rows) == 40 and len(set(rows)) == 40 and (np.diff(rows) > 0).all()
    assert rows.tolist() == np.sort(np.random.default_rng(explore.KERNEL_SEED).choice(60, 40, replace=False)).tolist()
    assert explore.METRICS.get("unbiased CKA")(a, b, 5) == pytest.approx(unbiased_cka(a[rows], b[rows]), rel=1e-9)
    assert "subsample of 40 of the 60" in explore.kernel_note(60) and "CKNNA" in explore.kernel_note(60)
