"""Few and zero anchors (latent_core.correspondence) against independent references: a known rotation, scipy's
assignment solver, brute force, and hand-computed metrics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.stats import ortho_group

from latent_core.correspondence import (
    Correspondence,
    align_unpaired,
    bootstrap_anchors,
    mutual_nearest,
    refine,
)
from latent_core.errors import InvalidParameterError, ShapeMismatchError, UnknownNameError
from latent_core.metrics import matching_quality, retrieval_scores
from latent_core.translate import Procrustes

D = 16


def _mixture(n: int, seed: int, classes: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters with a decaying spectrum (1/sqrt(k) per axis, as real embeddings have): a structure
    Gromov-Wasserstein can match, and an isotropic scale that rotation leaves unchanged."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(classes, size=n)
    spectrum = 1.0 / np.sqrt(np.arange(1, D + 1))
    centres = rng.normal(size=(classes, D)) * 2.0 * spectrum
    return (centres[labels] + rng.normal(size=(n, D)) * spectrum).astype(np.float32), labels


def _rotated(x: np.ndarray, seed: int, noise: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    rotation = ortho_group.rvs(D, random_state=seed).astype(np.float32)
    rng = np.random.default_rng(seed + 1)
    return x @ rotation + noise * rng.normal(size=x.shape).astype(np.float32), rotation


def _effective_map(translator: Procrustes, x: np.ndarray) -> np.ndarray:
    """The linear part of the fitted map, read off its outputs by least squares (the map is affine)."""
    out = translator.transform(x).numpy()
    design = np.hstack([x, np.ones((len(x), 1), np.float32)])
    return np.linalg.lstsq(design, out, rcond=None)[0][:-1]


@pytest.fixture(scope="module")
def same_samples():
    """Source X and target Y = X R + noise, the target rows in a hidden order; the held-out rows test the map."""
    x, labels = _mixture(460, seed=0)
    y, rotation = _rotated(x, seed=3)
    order = np.random.default_rng(7).permutation(400)  # target row j is sample order[j]
    return x[:400], y[:400][order], order, rotation, x[400:], y[400:], labels


def test_bootstrap_from_five_pairs_recovers_the_rotation_and_the_hidden_order(same_samples):
    x, y, order, rotation, x_new, y_new, _ = same_samples
    where = np.argsort(order)  # sample i sits at target row where[i]
    seeds = np.stack([np.arange(5), where[:5]], 1)
    result = bootstrap_anchors(x, y, seeds, scaling="isotropic")  # rotation-equivariant scaling
    assert isinstance(result, Correspondence) and result.method == "bootstrap" and result.matching == "exact"
    assert np.array_equal(result.pairs[:5], seeds) and np.all(result.confidence[:5] == 1.0)
    quality = matching_quality(result.pairs, np.arange(400), order)
    assert quality["exact"] > 0.97 and quality["n_pairs"] > 380, quality
    assert np.linalg.norm(_effective_map(result.translator, x_new) - rotation) / np.linalg.norm(rotation) < 0.08
    scores = retrieval_scores(result.translator.transform(x_new), y_new)
    assert scores["top1"] > 0.9 and scores["mean_cosine"] > 0.99, scores


def test_no_pairs_at_all_recovers_the_rotation_with_gromov_wasserstein(same_samples):
    x, y, order, rotation, x_new, _, _ = same_samples
    seen = []
    result = align_unpaired(x, y, method="gw", seed=0, scaling="isotropic",
                            progress=lambda done, total: seen.append((done, total)))
    assert result.method == "gw" and result.matching == "exact"
    assert matching_quality(result.pairs, np.arange(400), order)["exact"] > 0.95
    assert np.linalg.norm(_effective_map(result.translator, x_new) - rotation) / np.linalg.norm(rotation) < 0.08
    assert seen and seen[-1][0] == seen[-1][1] and all(a <= b for (a, _), (b, _) in zip(seen, seen[1:]))
    assert result.info["gw_loss"] >= 0 and result.info["seconds"] > 0


def test_the_final_pairs_solve_the_assignment_problem_of_the_translated_costs(same_samples):
    """On a small problem with a clear answer, mutual nearest neighbours after alignment are scipy's optimal
    assignment of the cosine costs."""
    x, y, order, _, _, _, _ = same_samples
    x, y = x[:60], y[np.argsort(order)[:60]][np.random.default_rng(1).permutation(60)]
    where = np.argsort(np.argsort(order)[:60])  # unused: the truth is checked through scipy below
    del where
    result = bootstrap_anchors(x, y, _known(x, y, 4))
    moved = result.translator.transform(x).numpy()
    cost = 1 - (moved / np.linalg.norm(moved, axis=1, keepdims=True)) @ (y / np.linalg.norm(y, axis=1,
                                                                                              keepdims=True)).T
    rows, cols = linear_sum_assignment(cost)
    assert {tuple(p) for p in result.pairs.tolist()} == set(zip(rows.tolist(), cols.tolist()))


def _known(x: np.ndarray, y: np.ndarray, count: int) -> np.ndarray:
    """``count`` true pairs found by exhaustive search over the rotated copies (the test knows the truth)."""
    rotation = ortho_group.rvs(D, random_state=3).astype(np.float32)
    distance = np.linalg.norm((x @ rotation)[:, None] - y[None], axis=2)
    return np.stack([np.arange(count), distance[:count].argmin(1)], 1)


def test_mutual_nearest_matches_brute_force():
    rng = np.random.default_rng(4)
    similarity = rng.normal(size=(30, 25))
    rows, cols, margin = mutual_nearest(similarity)
    brute = [(i, j) for i in range(30) for j in range(25)
             if similarity[i, j] == similarity[i].max() and similarity[i, j] == similarity[:, j].max()]
    assert list(zip(rows.tolist(), cols.tolist())) == brute
    for i, gap in zip(rows, margin):
        top = np.sort(similarity[i])[::-1]
        assert gap == pytest.approx(top[0] - top[1])


@pytest.mark.slow
def test_different_samples_are_recognised_and_still_aligned():
    x, labels = _mixture(560, seed=5)
    y, rotation = _rotated(x, seed=9, noise=0.05)
    seeds = np.stack([np.arange(6), np.arange(6)], 1)
    source = x[:250]  # rows 0-5 are known pairs; otherwise no sample is on both sides
    target = np.concatenate([y[:6], y[250:500]])
    result = bootstrap_anchors(source, target, seeds, seed=0, scaling="isotropic")
    assert result.matching == "soft" and np.array_equal(result.pairs[:6], seeds)
    moved = result.translator.transform(x[500:]).numpy()  # never seen: their true images are y[500:]
    assert retrieval_scores(moved, y[500:])["mean_cosine"] > 0.95
    assert np.linalg.norm(_effective_map(result.translator, x[500:]) - rotation) / np.linalg.norm(rotation) < 0.3
    purity = matching_quality(result.pairs, np.arange(250), np.r_[np.arange(6), 250 + np.arange(250)],
                              labels[:250], np.r_[labels[:6], labels[250:500]])["purity"]
    assert purity > 0.8


def test_soft_bootstrap_commutes_with_a_rotation_of_the_source():
    """Relative representations ignore a rotation Q of the source and Procrustes absorbs it, so the map fitted on
    X Q, applied to Z Q, is the map fitted on X applied to Z (with isotropic scaling, which Q leaves alone)."""
    x, _ = _mixture(300, seed=11)
    y, _ = _rotated(x, seed=13, noise=0.05)
    q = ortho_group.rvs(D, random_state=17).astype(np.float32)
    seeds = np.stack([np.arange(5), np.arange(5)], 1)
    source, target, held_out = x[:150], np.concatenate([y[:5], y[150:290]]), x[290:]
    plain = bootstrap_anchors(source, target, seeds, matching="soft", scaling="isotropic")
    turned = bootstrap_anchors(source @ q, target, seeds, matching="soft", scaling="isotropic")
    assert plain.matching == turned.matching == "soft"
    np.testing.assert_allclose(turned.translator.transform(held_out @ q).numpy(),
                               plain.translator.transform(held_out).numpy(), atol=2e-3)
    np.testing.assert_array_equal(turned.pairs, plain.pairs)


def test_refine_keeps_a_good_correspondence_good(same_samples):
    x, y, order, _, _, _, _ = same_samples
    start = bootstrap_anchors(x, y, np.stack([np.arange(4), np.argsort(order)[:4]], 1), rounds=1)
    refined = refine(x, y, start, iterations=2)
    assert refined.method == start.method and refined.info["refined"] == 2
    assert matching_quality(refined.pairs, np.arange(400), order)["exact"] >= 0.95


def test_coupling_fit_on_a_permutation_is_the_procrustes_fit_on_its_pairs(same_samples):
    x, y, order, _, x_new, _, _ = same_samples
    plan = np.zeros((400, 400))
    plan[np.arange(400), np.argsort(order)] = 1.0
    coupled = Procrustes().fit_coupling(x, y, plan).transform(x_new).numpy()
    paired = Procrustes().fit(x, y[np.argsort(order)]).transform(x_new).numpy()
    np.testing.assert_allclose(coupled, paired, atol=1e-4)


def test_centroid_matching_runs_and_returns_a_translator(same_samples):
    x, y, *_ = same_samples
    result = align_unpaired(x, y, method="centroids", seed=0)
    assert result.method == "centroids" and result.translator.transform(x[:3]).shape == (3, D)
    assert len(result.pairs) == len(result.confidence) and np.all(np.diff(result.confidence) <= 0)


def test_vec2vec_metrics_by_hand():
    translated = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    target = np.array([[1.0, 0.1], [1.0, 1.0], [0.0, 1.0]])
    # cosines (rows: translated, columns: target):
    #   [1, 0]: 0.995, 0.707, 0     -> its counterpart (col 0) is first: rank 1
    #   [0, 1]: 0.0995, 0.707, 1    -> counterpart col 1 (0.707) behind col 2: rank 2
    #   [1, 1]: 0.774, 1, 0.707     -> counterpart col 2 (0.707) behind cols 0, 1: rank 3
    scores = retrieval_scores(translated, target)
    assert scores["top1"] == pytest.approx(1 / 3)
    assert scores["mean_rank"] == pytest.approx(2.0)
    assert scores["mean_cosine"] == pytest.approx((1 / np.sqrt(1.01) + 1 / np.sqrt(2) + 1 / np.sqrt(2)) / 3)


def test_matching_quality_by_hand():
    pairs = np.array([[0, 2], [1, 0], [2, 1]])
    quality = matching_quality(pairs, ["a", "b", "c"], ["b", "x", "a"], [0, 1, 1], [1, 0, 0])
    # (0, 2): a vs a, labels 0 vs 0;  (1, 0): b vs b, 1 vs 1;  (2, 1): c vs x, 1 vs 0
    assert quality == {"exact": pytest.approx(2 / 3), "purity": pytest.approx(2 / 3), "n_pairs": 3}
    assert np.isnan(matching_quality(pairs, [0, 1, 2], [0, 1, 2])["purity"])
    with pytest.raises(ShapeMismatchError):
        matching_quality(np.array([0, 1]), [0], [0])
    with pytest.raises(InvalidParameterError):
        matching_quality(np.array([[0, 5]]), [0], [0])


@pytest.mark.parametrize("seeds, error, match", [
    (np.array([[0, 0], [1, 1]]), InvalidParameterError, "at least 3 known pairs"),
    (np.array([[0, 0], [0, 1], [2, 2]]), InvalidParameterError, "source row twice"),
    (np.array([[0, 0], [1, 1], [2, 99]]), InvalidParameterError, "outside the spaces"),
    (np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), InvalidParameterError, "integer row indices"),
    (np.array([0, 1, 2]), ShapeMismatchError, r"\[S, 2\]"),
])
def test_bad_seed_pairs_are_clear_errors(seeds, error, match):
    x = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(error, match=match):
        bootstrap_anchors(x, x, seeds)


def test_bad_arguments_are_clear_errors():
    x = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(UnknownNameError, match="choose from auto, gw, centroids"):
        align_unpaired(x, x, method="magic")
    with pytest.raises(InvalidParameterError, match="at least 8"):
        align_unpaired(x[:5], x)
    with pytest.raises(UnknownNameError, match="matching"):
        bootstrap_anchors(x, x, np.stack([np.arange(3)] * 2, 1), matching="maybe")
