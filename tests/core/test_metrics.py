"""Similarity metrics against hand-computed cases, numpy formulas and invariances."""

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from latent_core import metrics
from latent_core.errors import InvalidParameterError, NonFiniteError, ShapeMismatchError


def _angles(*degrees):
    radians = np.deg2rad(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


X_HAND = _angles(0, 10, 30, 90, 100)
Y_HAND = _angles(0, 50, 40, 90, 180)


def test_neighbour_metrics_on_a_hand_computed_case():
    # k=1: neighbours in X: 1,0,1,4,3 ; in Y: 2,2,1,1,3 -> samples 2 and 4 agree
    assert metrics.mutual_knn(X_HAND, Y_HAND, k=1) == pytest.approx(0.4)
    assert metrics.jaccard_at_k(X_HAND, Y_HAND, k=1) == pytest.approx(0.4)
    # k=2: X {1,2} {0,2} {1,0} {4,2} {3,2}; Y {2,1} {2,3} {1,0} {1,2} {3,1} -> overlaps 2,1,2,1,1
    assert metrics.mutual_knn(X_HAND, Y_HAND, k=2) == pytest.approx(0.7)
    assert metrics.jaccard_at_k(X_HAND, Y_HAND, k=2) == pytest.approx((1 + 1 / 3 + 1 + 1 / 3 + 1 / 3) / 5)
    agreement = metrics.neighbor_agreement(X_HAND, Y_HAND, k=2)
    np.testing.assert_allclose(agreement.numpy(), [1, 0.5, 1, 0.5, 0.5])


def test_mutual_knn_of_a_space_with_itself_and_its_rotation_is_one():
    x = np.random.default_rng(0).normal(size=(60, 12))
    assert metrics.mutual_knn(x, x, k=5) == 1.0
    assert metrics.mutual_knn(x, 2 * x @ ortho_group.rvs(12, random_state=1), k=5) == 1.0
    assert metrics.jaccard_at_k(x, x[:, :5], k=5) < 1.0  # different dimensions are accepted


def test_retrieval_on_a_hand_computed_case():
    x, y = _angles(0, 90, 45), _angles(10, 80, 180)
    # x2 (45 deg) is closer to y0 and y1 (35 deg) than to its counterpart y2 (135 deg): rank 3
    assert metrics.mrr(x, y) == pytest.approx((1 + 1 + 1 / 3) / 3)
    assert metrics.topk_retrieval(x, y, k=1) == pytest.approx(2 / 3)
    assert metrics.topk_retrieval(x, y, k=3) == 1.0
    with pytest.raises(ShapeMismatchError, match="share coordinates"):
        metrics.mrr(x, np.ones((3, 5)))


def test_paired_cosine_and_mse():
    x, y = _angles(0, 90), _angles(60, 90) * 2
    np.testing.assert_allclose(metrics.paired_cosine(x, y).numpy(), [0.5, 1.0], atol=1e-6)
    assert float(metrics.mse(np.zeros((2, 2)), np.ones((2, 2)) * 3)) == pytest.approx(9.0)


def _center(n):
    return np.eye(n) - np.ones((n, n)) / n


def _hsic(k, m):
    h = _center(len(k))
    return np.trace(k @ h @ m @ h)


def _cka(hsic, k, m):
    return hsic(k, m) / np.sqrt(hsic(k, k) * hsic(m, m))


def test_linear_cka_equals_the_hsic_formula_and_is_invariant():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 7)), rng.normal(size=(30, 4))
    expected = _cka(_hsic, x @ x.T, y @ y.T)
    assert metrics.linear_cka(x, y) == pytest.approx(expected, rel=1e-5)
    assert metrics.linear_cka(x, 3.5 * x @ ortho_group.rvs(7, random_state=3)) == pytest.approx(1.0, abs=1e-6)


def test_rbf_cka_against_numpy():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(25, 5)), rng.normal(size=(25, 3))

    def gauss(m, sigma):
        sq = ((m[:, None] - m[None]) ** 2).sum(-1)
        return np.exp(-sq / (2 * sigma**2))

    def median_distance(m):
        d = np.sqrt(((m[:, None] - m[None]) ** 2).sum(-1))
        return np.median(d[~np.eye(len(m), dtype=bool)])

    for sigma in (0.7, None):
        expected = _cka(_hsic, gauss(x, sigma or median_distance(x)), gauss(y, sigma or median_distance(y)))
        assert metrics.rbf_cka(x, y, sigma=sigma) == pytest.approx(expected, rel=1e-4)
    assert metrics.rbf_cka(x, x) == pytest.approx(1.0)


def _hsic_unbiased_numpy(k, m):
    n = len(k)
    k, m = k - np.diag(np.diag(k)), m - np.diag(np.diag(m))
    ones = np.ones(n)
    return (np.trace(k @ m) + ones @ k @ ones * (ones @ m @ ones) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * ones @ k @ m @ ones) / (n * (n - 3))


def test_unbiased_cka_against_numpy():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(20, 6)), rng.normal(size=(20, 9))
    expected = _cka(_hsic_unbiased_numpy, x @ x.T, y @ y.T)
    assert metrics.unbiased_cka(x, y) == pytest.approx(expected, rel=1e-4)
    assert metrics.unbiased_cka(x, x @ ortho_group.rvs(6, random_state=6)) == pytest.approx(1.0, abs=1e-5)


def test_cknna_against_a_numpy_transcription_of_the_reference_code():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(40, 6)), rng.normal(size=(40, 6))
    y[:, :3] += x[:, :3] * 2  # partially aligned
    k = 5

    def reference(a, b):
        a, b = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
        ka, kb = a @ a.T, b @ b.T

        def mask(kernel):
            hat = kernel.copy()
            np.fill_diagonal(hat, -np.inf)
            out = np.zeros_like(kernel)
            np.put_along_axis(out, np.argsort(-hat, axis=1)[:, :k], 1.0, axis=1)
            return out

        def sim(k1, k2):
            both = mask(k1) * mask(k2)
            return _hsic_unbiased_numpy(both * k1, both * k2)

        return _cka(sim, ka, kb)

    assert metrics.cknna(x, y, k=k) == pytest.approx(reference(x, y), rel=1e-4)
    assert metrics.cknna(x, x, k=k) == pytest.approx(1.0)


def test_svcca_against_numpy():
    rng = np.random.default_rng(8)
    base = rng.normal(size=(100, 4))
    x = np.hstack([base, rng.normal(size=(100, 3)) * 0.1]) @ rng.normal(size=(7, 7))
    y = np.hstack([base @ rng.normal(size=(4, 4)), rng.normal(size=(100, 2))])

    def reduce(m, keep):
        c = m - m.mean(0)
        u, s, _ = np.linalg.svd(c, full_matrices=False)
        energy = np.cumsum(s**2) / np.sum(s**2)
        return (u * s)[:, : int(np.sum(energy < keep)) + 1]

    def cca(a, b):
        a, b = a - a.mean(0), b - b.mean(0)
        caa, cbb, cab = a.T @ a, b.T @ b, a.T @ b
        whiten_a = np.linalg.inv(np.linalg.cholesky(caa)).T
        whiten_b = np.linalg.inv(np.linalg.cholesky(cbb)).T
        return np.linalg.svd(whiten_a.T @ cab @ whiten_b, compute_uv=False)

    for keep in (0.99, 0.9):
        expected = cca(reduce(x, keep), reduce(y, keep)).mean()
        assert metrics.svcca(x, y, keep=keep) == pytest.approx(expected, rel=1e-5)
    assert metrics.svcca(x, x @ ortho_group.rvs(7, random_state=9)) == pytest.approx(1.0, abs=1e-6)


def test_blockwise_results_equal_single_block(monkeypatch):
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=(57, 8)), rng.normal(size=(57, 8))
    whole = (metrics.knn_indices(x, 4), metrics.mrr(x, y), metrics.jaccard_at_k(x, y, 4))
    monkeypatch.setattr(metrics, "_BLOCK_ELEMENTS", 100)  # blocks of one or two rows
    assert torch.equal(metrics.knn_indices(x, 4), whole[0])
    assert metrics.mrr(x, y) == whole[1] and metrics.jaccard_at_k(x, y, 4) == whole[2]


def _brute_force_overlap(x, y, k):
    """mutual k-NN and Jaccard@k from a full numpy cosine matrix: the reference for the blockwise code."""
    def knn(m):
        unit = m / np.linalg.norm(m, axis=1, keepdims=True)
        sims = unit @ unit.T
        np.fill_diagonal(sims, -np.inf)
        return [set(np.argsort(-row, kind="stable")[:k]) for row in sims]

    inter = np.array([len(a & b) for a, b in zip(knn(x), knn(y))])
    return inter.mean() / k, np.mean(inter / (2 * k - inter))


def test_knn_overlap_scores_hand_computed_and_against_brute_force():
    # the hand-computed case above: k=2 overlaps 2,1,2,1,1
    scores = metrics.knn_overlap_scores(X_HAND, Y_HAND, k=2)
    assert scores == {"mutual_knn": pytest.approx(0.7), "jaccard": pytest.approx((1 + 1 / 3 + 1 + 1 / 3 + 1 / 3) / 5)}
    rng = np.random.default_rng(12)
    x = rng.normal(size=(80, 6))
    y = x @ ortho_group.rvs(6, random_state=13) + 0.4 * rng.normal(size=(80, 6))
    for k in (1, 3, 10):
        scores = metrics.knn_overlap_scores(x, y, k)
        mutual, jaccard = _brute_force_overlap(x, y, k)
        assert 0 < scores["jaccard"] < scores["mutual_knn"] < 1
        assert scores["mutual_knn"] == pytest.approx(mutual, abs=1e-6)
        assert scores["jaccard"] == pytest.approx(jaccard, abs=1e-12)
        # exactly what the two separate functions return
        assert scores == {"mutual_knn": metrics.mutual_knn(x, y, k), "jaccard": metrics.jaccard_at_k(x, y, k)}


def test_shared_neighbours_computes_each_space_once(monkeypatch):
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(40, 5)), rng.normal(size=(40, 7))
    expected = (metrics.mutual_knn(x, y, 4), metrics.jaccard_at_k(x, y, 4), metrics.neighbor_agreement(x, y, 4))
    calls = []
    original = metrics.knn_indices
    monkeypatch.setattr(metrics, "knn_indices", lambda m, k: calls.append(k) or original(m, k))
    metrics.knn_overlap_scores(x, y, 4)
    assert len(calls) == 2
    calls.clear()
    with metrics.shared_neighbours():
        got = (metrics.mutual_knn(x, y, 4), metrics.jaccard_at_k(x, y, 4), metrics.neighbor_agreement(x, y, 4))
        with metrics.shared_neighbours():  # nested: the same memo
            metrics.mutual_knn(x, y, 4)
        metrics.mutual_knn(x, y, 3)  # another k: new lists
    assert calls == [4, 4, 3, 3]
    assert got[:2] == expected[:2] and torch.equal(got[2], expected[2])
    calls.clear()
    metrics.mutual_knn(x, y, 4)  # outside the block: computed again
    assert calls == [4, 4]


def test_knn_excludes_self_and_orders_by_cosine():
    idx = metrics.knn_indices(X_HAND, 2)
    assert idx.tolist() == [[1, 2], [0, 2], [1, 0], [4, 2], [3, 2]]


def test_errors():
    x = np.random.default_rng(11).normal(size=(10, 3))
    with pytest.raises(InvalidParameterError, match="smaller than the number of samples"):
        metrics.mutual_knn(x, x, k=10)
    with pytest.raises(ShapeMismatchError, match="same samples"):
        metrics.linear_cka(x, x[:9])
    bad = x.copy()
    bad[2, 1] = np.inf
    with pytest.raises(NonFiniteError):
        metrics.jaccard_at_k(bad, x, 3)
    with pytest.raises(InvalidParameterError, match="subsample"):
        metrics.rbf_cka(x, x, max_samples=5)


# ---- confusion matrix ---------------------------------------------------------------------------------------


def test_confusion_matrix_hand_computed_with_classes_absent_from_both():
    # classes 0..4; class 3 occurs nowhere, class 4 only as a prediction
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 4]
    expected = np.array([
        [1, 1, 0, 0, 0],
        [0, 1, 0, 0, 0],
        [1, 0, 1, 0, 1],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ])
    matrix = metrics.confusion_matrix(y_true, y_pred, 5)
    assert matrix.dtype == np.int64 and matrix.shape == (5, 5)
    np.testing.assert_array_equal(matrix, expected)


@pytest.mark.parametrize("seed", range(5))
def test_confusion_matrix_matches_sklearn(seed):
    from sklearn.metrics import confusion_matrix as sklearn_confusion

    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(1, 12))
    present = rng.choice(n_classes, size=max(1, n_classes // 2), replace=False)  # the other classes never occur
    y_true = rng.choice(present, size=200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.choice(present, size=200))
    expected = sklearn_confusion(y_true, y_pred, labels=range(n_classes))
    for true, pred in [(y_true, y_pred), (torch.as_tensor(y_true), torch.as_tensor(y_pred)),
                       (y_true.tolist(), y_pred.astype(np.uint8).tolist()), (y_true.astype(np.int32), y_pred)]:
        matrix = metrics.confusion_matrix(true, pred, n_classes)
        assert matrix.dtype == np.int64
        np.testing.assert_array_equal(matrix, expected)
    assert metrics.confusion_matrix(y_true, y_pred, np.int64(n_classes)).sum() == 200


def test_confusion_matrix_of_no_samples_is_all_zero():
    np.testing.assert_array_equal(metrics.confusion_matrix([], [], 3), np.zeros((3, 3), dtype=np.int64))


def test_confusion_matrix_typed_errors():
    from latent_core.errors import InvalidDtypeError

    with pytest.raises(ShapeMismatchError, match="3 labels vs 2"):
        metrics.confusion_matrix([0, 1, 1], [0, 1], 2)
    with pytest.raises(ShapeMismatchError, match="1-D"):
        metrics.confusion_matrix([[0, 1]], [[0, 1]], 2)
    with pytest.raises(InvalidParameterError, match=r"y_true must be class numbers in \[0, 2\), got \[2\]"):
        metrics.confusion_matrix([0, 2], [0, 1], 2)
    with pytest.raises(InvalidParameterError, match=r"y_pred .*got \[-1\]"):
        metrics.confusion_matrix([0, 1], [0, -1], 2)
    with pytest.raises(InvalidParameterError, match=r"\[0, 2\)"):
        metrics.confusion_matrix(np.array([0, 2**63], dtype=np.uint64), [0, 1], 2)
    with pytest.raises(InvalidDtypeError, match="integer"):
        metrics.confusion_matrix([0.0, 1.0], [0, 1], 2)
    with pytest.raises(InvalidDtypeError, match="integer"):
        metrics.confusion_matrix(["a", "b"], [0, 1], 2)
    with pytest.raises(InvalidDtypeError, match="integer"):
        metrics.confusion_matrix(torch.tensor([True, False]), [0, 1], 2)
    for bad in (0, -1, True, 2.0, "3", None):
        with pytest.raises(InvalidParameterError, match="n_classes"):
            metrics.confusion_matrix([0], [0], bad)
