"""2-D maps against sklearn's PCA and NearestNeighbors and openTSNE's own exact-neighbour t-SNE, a PCA invariance,
class structure of sklearn's digits, and warm starts scored by sklearn's trustworthiness."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from scipy.stats import ortho_group
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from latent_core import maps
from latent_core.errors import (
    InvalidParameterError,
    LatentCoreError,
    MathInputError,
    NonFiniteError,
    NotFittedError,
    ShapeMismatchError,
)
from latent_core.maps import MAP_KINDS, Map2D, exact_knn, map_2d, pca_2d


def _cloud(seed=0, n=120, d=12):
    """Anisotropic Gaussian points (distinct variances, so the principal axes are well defined)."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) * np.linspace(5.0, 0.5, d) + rng.normal(size=d)).astype(np.float32)


def _align_signs(coords, reference):
    """``coords`` with each axis flipped to best match ``reference`` (PCA axes are defined up to sign)."""
    signs = np.sign((coords * reference).sum(axis=0))
    return coords * signs


def _digits(n_ref=200, n_new=100, seed=0):
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(x))
    ref, new = order[:n_ref], order[n_ref:n_ref + n_new]
    return x[ref].astype(np.float32), y[ref], x[new].astype(np.float32), y[new]


@pytest.fixture
def fresh_fitted(monkeypatch):
    """An empty in-memory memo of fitted maps (other tests may have fitted the same reference)."""
    from collections import OrderedDict

    monkeypatch.setattr(maps, "_FITTED", OrderedDict())


def _relative(x, seed, k=40):
    """Cosine similarities of ``x`` to ``k`` random rows of it: the explorer's relative view of a space."""
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    anchors = np.random.default_rng(seed).choice(len(x), k, replace=False)
    return (unit @ unit[anchors].T).astype(np.float32)


def _knn_accuracy(train_xy, train_y, test_xy, test_y, k=5):
    return KNeighborsClassifier(n_neighbors=k).fit(train_xy, train_y).score(test_xy, test_y)


# ---- PCA ---------------------------------------------------------------------------------------------


def test_map_kinds():
    assert MAP_KINDS == ("pca", "umap", "tsne")


def test_pca_fit_transform_equals_pca_2d():
    x = _cloud()
    np.testing.assert_array_equal(Map2D("pca").fit_transform(x), pca_2d(x))
    x64 = x.astype(np.float64) + 1e-3  # float64 inputs are mapped as float32
    np.testing.assert_allclose(Map2D("pca").fit_transform(x64), pca_2d(x64), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(Map2D("pca").fit_transform(torch.from_numpy(x)), pca_2d(x))


def test_pca_of_a_one_dimensional_space_has_a_flat_second_axis():
    x = np.random.default_rng(0).normal(size=(20, 1)).astype(np.float32)
    coords = Map2D("pca").fit_transform(x)
    np.testing.assert_array_equal(coords, pca_2d(x))
    assert coords.shape == (20, 2) and not coords[:, 1].any()


def test_pca_transform_matches_sklearn():
    ref, other = _cloud(0), _cloud(1, n=50)
    ours = Map2D("pca").fit(ref).transform(other)
    theirs = PCA(n_components=2).fit(ref.astype(np.float64)).transform(other.astype(np.float64))
    assert ours.dtype == np.float32 and ours.shape == (50, 2)
    np.testing.assert_allclose(_align_signs(ours, theirs), theirs, rtol=1e-4, atol=1e-4)


def test_pca_transform_of_the_reference_equals_fit_transform():
    x = _cloud()
    fitted = Map2D("pca").fit(x)
    np.testing.assert_allclose(fitted.transform(x), Map2D("pca").fit_transform(x), atol=1e-6)


def test_pca_map_is_invariant_to_rotation_and_translation():
    ref, other = _cloud(0).astype(np.float64), _cloud(1, n=40).astype(np.float64)
    q = ortho_group.rvs(ref.shape[1], random_state=3)
    shift = np.random.default_rng(4).normal(size=ref.shape[1]) * 10
    plain_ref, (plain_other,) = map_2d("pca", ref, [other])
    moved_ref, (moved_other,) = map_2d("pca", ref @ q + shift, [other @ q + shift])
    signs = np.sign((moved_ref * plain_ref).sum(axis=0))
    np.testing.assert_allclose(moved_ref * signs, plain_ref, atol=1e-3)
    np.testing.assert_allclose(moved_other * signs, plain_other, atol=1e-3)


def test_map_2d_pca_is_never_cached(isolated_cache):
    messages = []
    ref_xy, others_xy = map_2d("pca", _cloud(), [_cloud(1, n=7), _cloud(2, n=0)], progress=messages.append)
    assert ref_xy.shape == (120, 2) and [o.shape for o in others_xy] == [(7, 2), (0, 2)]
    assert not (isolated_cache / "maps").exists() or not list((isolated_cache / "maps").iterdir())
    assert messages and "PCA" in messages[0]


# ---- typed errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", MAP_KINDS)
def test_dimension_mismatch_is_a_shape_error(kind):
    with pytest.raises(ShapeMismatchError, match=r"others\[1\] has dimension 5.*fitted on dimension 12"):
        map_2d(kind, _cloud(), [_cloud(1, n=10), _cloud(2, n=10, d=5)], cache=False)


def test_transform_dimension_mismatch_and_unfitted_map():
    with pytest.raises(ShapeMismatchError, match="dimension 5"):
        Map2D("pca").fit(_cloud()).transform(_cloud(1, d=5))
    with pytest.raises(NotFittedError, match="fit"):
        Map2D("umap").transform(_cloud())


@pytest.mark.parametrize("kind", MAP_KINDS)
def test_too_few_points_non_finite_and_non_matrix_inputs(kind):
    with pytest.raises(InvalidParameterError, match="at least 3 points"):
        map_2d(kind, _cloud(n=2), cache=False)
    bad = _cloud()
    bad[5, 3] = np.nan
    with pytest.raises(NonFiniteError, match="reference"):
        map_2d(kind, bad, cache=False)
    with pytest.raises(NonFiniteError, match=r"others\[0\]"):
        map_2d(kind, _cloud(), [np.where(bad == bad, bad, np.inf)], cache=False)
    with pytest.raises(ShapeMismatchError, match="2-D"):
        map_2d(kind, np.arange(10.0), cache=False)


def test_bad_parameters_are_typed_errors():
    with pytest.raises(InvalidParameterError, match="Unknown map kind"):
        map_2d("isomap", _cloud())
    with pytest.raises(InvalidParameterError, match="list"):
        map_2d("pca", _cloud(), _cloud(1))
    with pytest.raises(InvalidParameterError, match="metric"):
        map_2d("umap", _cloud(), metric="bogus")
    with pytest.raises(InvalidParameterError, match="n_neighbors"):
        Map2D("umap", n_neighbors=1).fit(_cloud())
    with pytest.raises(InvalidParameterError, match="min_dist"):
        Map2D("umap", min_dist=-0.5).fit(_cloud())


def test_init_must_be_a_layout_of_the_same_points():
    with pytest.raises(ShapeMismatchError, match=r"init must be an earlier \[120, 2\] layout"):
        map_2d("umap", _cloud(), init=np.zeros((119, 2)), cache=False)
    with pytest.raises(NonFiniteError, match="init"):
        Map2D("tsne").fit(_cloud(), init=np.full((120, 2), np.nan))


# ---- exact k-NN (torch) ------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", maps.MAP_METRICS)
def test_exact_knn_equals_sklearn_nearest_neighbors(metric):
    x, query = _cloud(0, n=300, d=16), _cloud(1, n=40, d=16)
    reference = NearestNeighbors(n_neighbors=12, metric=metric, algorithm="brute").fit(x)
    # the whole set against itself: each row first, at distance 0 (umap's precomputed_knn)
    indices, distances = exact_knn(x, 12, metric=metric)
    their_distances, their_indices = reference.kneighbors(x)
    np.testing.assert_array_equal(indices, their_indices)
    np.testing.assert_allclose(distances, their_distances, atol=2e-5)
    assert (indices[:, 0] == np.arange(300)).all() and not distances[:, 0].any()
    # without the row itself (openTSNE's neighbour lists), and new points against the set
    indices, distances = exact_knn(x, 12, metric=metric, include_self=False)
    their_distances, their_indices = reference.kneighbors(n_neighbors=12)
    np.testing.assert_array_equal(indices, their_indices)
    np.testing.assert_allclose(distances, their_distances, atol=2e-5)
    indices, distances = exact_knn(x, 12, metric=metric, query=query)
    their_distances, their_indices = reference.kneighbors(query)
    np.testing.assert_array_equal(indices, their_indices)
    np.testing.assert_allclose(distances, their_distances, atol=2e-5)


def test_exact_knn_lists_a_duplicated_row_first_and_checks_k():
    x = np.repeat(_cloud(n=10), 3, axis=0)  # every point three times: ties at distance 0
    indices, distances = exact_knn(x, 4)
    assert (indices[:, 0] == np.arange(30)).all() and not distances[:, :3].any()
    with pytest.raises(InvalidParameterError, match="k must lie in"):
        exact_knn(x, 30, include_self=False)
    with pytest.raises(InvalidParameterError, match="metric"):
        exact_knn(x, 3, metric="bogus")


def test_every_error_is_a_math_input_error():
    for error in (InvalidParameterError, NonFiniteError, ShapeMismatchError):
        assert issubclass(error, MathInputError) and issubclass(error, LatentCoreError)


# ---- UMAP --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_umap_separates_digits_and_places_new_points_in_the_same_map(isolated_cache):
    ref, ref_y, new, new_y = _digits()
    messages = []
    ref_xy, (new_xy,) = map_2d("umap", ref, [new], cache=False, progress=messages.append)
    assert messages == ["fitting UMAP on 200 points", "placing 100 points"]
    assert ref_xy.shape == (200, 2) and new_xy.shape == (100, 2)
    assert ref_xy.dtype == np.float32 and np.isfinite(ref_xy).all() and np.isfinite(new_xy).all()
    # classes form clusters in the fitted picture (5-fold kNN in 2-D) ...
    folds = np.arange(len(ref)) % 5
    accuracy = np.mean([_knn_accuracy(ref_xy[folds != f], ref_y[folds != f], ref_xy[folds == f], ref_y[folds == f])
                        for f in range(5)])
    assert accuracy > 0.8, accuracy
    # ... and unseen digits land in their class's cluster
    assert _knn_accuracy(ref_xy, ref_y, new_xy, new_y) > 0.8


@pytest.mark.slow
def test_umap_works_on_small_sets():
    for n in (3, 4, 30):
        ref_xy, (other_xy,) = map_2d("umap", _cloud(n=n), [_cloud(1, n=5)], cache=False)
        assert ref_xy.shape == (n, 2) and other_xy.shape == (5, 2)
        assert np.isfinite(ref_xy).all() and np.isfinite(other_xy).all()


@pytest.mark.slow
def test_umap_cache_hit_skips_the_fit_and_corruption_recomputes(isolated_cache, monkeypatch, fresh_fitted):
    ref, _, new, _ = _digits(n_ref=150, n_new=40)
    first = map_2d("umap", ref, [new])
    files = list((isolated_cache / "maps").glob("*.npz"))
    assert len(files) == 1

    fits = []
    original_fit = Map2D.fit
    monkeypatch.setattr(Map2D, "fit", lambda self, x, init=None: fits.append(1) or original_fit(self, x, init))
    messages = []
    second = map_2d("umap", torch.from_numpy(ref), [new], progress=messages.append)
    assert fits == [] and "cached" in messages[0]
    np.testing.assert_array_equal(second[0], first[0])
    np.testing.assert_array_equal(second[1][0], first[1][0])

    # any change in inputs or parameters is a miss; other points placed in the same reference's map reuse the
    # fitted map kept in memory (a transform, no fit)
    placed_again = map_2d("umap", ref, [new[:-1]])
    np.testing.assert_array_equal(placed_again[0], first[0])
    map_2d("umap", ref, [new], n_neighbors=10)
    assert len(fits) == 1 and len(list((isolated_cache / "maps").glob("*.npz"))) == 3

    maps._FITTED.clear()
    files[0].write_bytes(b"not an npz file")
    with pytest.warns(RuntimeWarning, match="corrupted"):
        third = map_2d("umap", ref, [new])
    assert len(fits) == 2
    np.testing.assert_array_equal(third[0], first[0])  # seeded umap is deterministic
    assert np.load(files[0], allow_pickle=False)["coords_0"].shape == (150, 2)  # the entry was rewritten
    assert not list((isolated_cache / "maps").glob("*.tmp"))


# ---- t-SNE ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_tsne_equals_opentsne_on_exact_neighbours_and_places_new_points(isolated_cache):
    from openTSNE import TSNE, affinity, initialization

    ref, ref_y, new, new_y = _digits(n_ref=150, n_new=60)
    ref = ref + np.random.default_rng(0).normal(scale=1e-3, size=ref.shape).astype(np.float32)  # no distance ties:
    # both neighbour searches must pick the same k-th neighbour
    messages = []
    ref_xy, others_xy = map_2d("tsne", ref, [new[:40], new[40:]], progress=messages.append)
    assert ref_xy.shape == (150, 2) and [o.shape for o in others_xy] == [(40, 2), (20, 2)]
    assert messages == ["fitting t-SNE on 150 points", "placing 40 points", "placing 20 points"]
    # the reference is openTSNE's own t-SNE on its own exact (sklearn) neighbours, same perplexity and start
    affinities = affinity.PerplexityBasedNN(ref, perplexity=30, method="exact", n_jobs=1)
    expected = np.asarray(TSNE(random_state=0, n_jobs=1).fit(
        affinities=affinities, initialization=initialization.pca(ref, random_state=0)))
    expected = expected - (expected.max(axis=0) + expected.min(axis=0)) / 2  # our map is centred once
    # (float32 vs float64 neighbour distances move the affinities in the last bits; 750 iterations amplify that to
    # ~1% of the largest coordinate, measured)
    np.testing.assert_allclose(ref_xy, expected, atol=3e-2 * np.abs(expected).max())
    # the reference does not depend on what is placed in it, and new digits land beside their class
    alone, _ = map_2d("tsne", ref, cache=False)
    np.testing.assert_allclose(alone, ref_xy, atol=1e-5 * np.abs(ref_xy).max())
    assert _knn_accuracy(ref_xy, ref_y, np.concatenate(others_xy), new_y) > 0.8
    assert len(list((isolated_cache / "maps").glob("*.npz"))) == 1


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["umap", "tsne"])
def test_transform_of_reference_rows_lands_near_their_fitted_positions(kind):
    ref, *_ = _digits()
    fitted = Map2D(kind, seed=0).fit(ref)
    rows = np.random.default_rng(1).permutation(len(ref))[:80]  # reordered: the rows must really be placed
    placed = fitted.transform(ref[rows])
    to_fitted = cdist(placed, fitted.embedding_)
    own = to_fitted[np.arange(len(rows)), rows]
    typical = np.median(cdist(fitted.embedding_, fitted.embedding_))
    assert np.median(own) < 0.15 * typical, (np.median(own), typical)
    assert np.mean((to_fitted < own[:, None]).sum(axis=1) < 10) > 0.8


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["umap", "tsne"])
def test_a_warm_start_keeps_the_neighbourhoods_of_a_cold_fit(kind, isolated_cache):
    """The explorer's case: new anchors give a new relative view of the same points; its map starts from the map
    of the previous view. sklearn's trustworthiness (how many 2-D neighbours are true neighbours) of the warm map
    must match a cold fit's."""
    x, labels = load_digits(return_X_y=True)
    x = x[:600].astype(np.float32) + 1.0
    before, after = _relative(x, seed=1), _relative(x, seed=2)
    previous, _ = map_2d(kind, before, cache=False)
    messages = []
    warm, _ = map_2d(kind, after, init=previous, progress=messages.append)
    cold, _ = map_2d(kind, after)
    assert "warm start" in messages[0]
    assert not np.array_equal(warm, cold)
    trust_warm, trust_cold = (trustworthiness(after, coords, n_neighbors=10) for coords in (warm, cold))
    assert trust_warm > trust_cold - 0.01, (trust_warm, trust_cold)
    folds = np.arange(600) % 5
    accuracy = np.mean([_knn_accuracy(warm[folds != f], labels[:600][folds != f], warm[folds == f],
                                      labels[:600][folds == f]) for f in range(5)])
    assert accuracy > 0.85, accuracy
    assert len(list((isolated_cache / "maps").glob("*.npz"))) == 2  # the warm map is cached apart from the cold


@pytest.mark.slow
def test_tsne_fit_transform_and_tiny_sets():
    coords = Map2D("tsne").fit_transform(_cloud(n=3))
    assert coords.shape == (3, 2) and np.isfinite(coords).all()
    np.testing.assert_array_equal(maps.Map2D("tsne").fit(_cloud(n=3)).embedding_, coords)
    for n in (3, 4, 30):
        ref_xy, (other_xy,) = map_2d("tsne", _cloud(n=n), [_cloud(1, n=5)], cache=False)
        assert ref_xy.shape == (n, 2) and other_xy.shape == (5, 2)
        assert np.isfinite(ref_xy).all() and np.isfinite(other_xy).all()
