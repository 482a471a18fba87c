"""2-D maps against sklearn's PCA and TSNE, a PCA invariance, and class structure of sklearn's digits."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from scipy.stats import ortho_group
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

from latent_core import maps
from latent_core.errors import (
    InvalidParameterError,
    LatentCoreError,
    MathInputError,
    NonFiniteError,
    NotFittedError,
    ShapeMismatchError,
)
from latent_core.maps import MAP_KINDS, Map2D, map_2d, pca_2d


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


def test_tsne_cannot_transform():
    with pytest.raises(InvalidParameterError, match="t-SNE cannot place new points.*map_2d"):
        Map2D("tsne").transform(_cloud())


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
def test_umap_transform_of_reference_rows_lands_near_their_fitted_positions():
    ref, *_ = _digits()
    fitted = Map2D("umap", seed=0).fit(ref)
    # a reordered subset, so umap cannot recognise its training array and must really place the rows
    rows = np.random.default_rng(1).permutation(len(ref))[:80]
    placed = fitted.transform(ref[rows])
    to_fitted = cdist(placed, fitted.embedding_)  # [80, 200]
    own = to_fitted[np.arange(len(rows)), rows]
    typical = np.median(cdist(fitted.embedding_, fitted.embedding_))
    assert np.median(own) < 0.15 * typical, (np.median(own), typical)  # measured: ~0.08
    own_rank = (to_fitted < own[:, None]).sum(axis=1)
    assert np.mean(own_rank < 10) > 0.8  # measured: 0.94-0.98 over seeds 0-2


@pytest.mark.slow
def test_umap_works_on_small_sets():
    for n in (3, 4, 30):
        ref_xy, (other_xy,) = map_2d("umap", _cloud(n=n), [_cloud(1, n=5)], cache=False)
        assert ref_xy.shape == (n, 2) and other_xy.shape == (5, 2)
        assert np.isfinite(ref_xy).all() and np.isfinite(other_xy).all()


@pytest.mark.slow
def test_umap_cache_hit_skips_the_fit_and_corruption_recomputes(isolated_cache, monkeypatch):
    ref, _, new, _ = _digits(n_ref=150, n_new=40)
    first = map_2d("umap", ref, [new])
    files = list((isolated_cache / "maps").glob("*.npz"))
    assert len(files) == 1

    fits = []
    original_fit = Map2D.fit
    monkeypatch.setattr(Map2D, "fit", lambda self, x: fits.append(1) or original_fit(self, x))
    messages = []
    second = map_2d("umap", torch.from_numpy(ref), [new], progress=messages.append)
    assert fits == [] and "cached" in messages[0]
    np.testing.assert_array_equal(second[0], first[0])
    np.testing.assert_array_equal(second[1][0], first[1][0])

    # any change in inputs or parameters is a miss
    map_2d("umap", ref, [new[:-1]])
    map_2d("umap", ref, [new], n_neighbors=10)
    assert len(fits) == 2 and len(list((isolated_cache / "maps").glob("*.npz"))) == 3

    files[0].write_bytes(b"not an npz file")
    with pytest.warns(RuntimeWarning, match="corrupted"):
        third = map_2d("umap", ref, [new])
    assert len(fits) == 3
    np.testing.assert_array_equal(third[0], first[0])  # seeded umap is deterministic
    assert np.load(files[0], allow_pickle=False)["coords_0"].shape == (150, 2)  # the entry was rewritten
    assert not list((isolated_cache / "maps").glob("*.tmp"))


# ---- t-SNE -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_tsne_embeds_reference_and_others_jointly(isolated_cache):
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    ref, ref_y, new, new_y = _digits(n_ref=150, n_new=60)
    messages = []
    # sklearn's Barnes-Hut gradient (OpenMP) and the PCA initialisation (BLAS) sum in threads: with 2 threads the
    # order of the sums varies and t-SNE amplifies last-bit differences into another picture. One thread makes the
    # two runs the same computation.
    with threadpool_limits(limits=1):
        ref_xy, others_xy = map_2d("tsne", ref, [new[:40], new[40:]], progress=messages.append)
        expected = TSNE(2, perplexity=30, init="pca", random_state=0).fit_transform(np.concatenate([ref, new]))
    assert ref_xy.shape == (150, 2) and [o.shape for o in others_xy] == [(40, 2), (20, 2)]
    assert "t-SNE" in messages[0] and "210" in messages[0]
    joint = np.concatenate([ref_xy, *others_xy])
    assert np.isfinite(joint).all()
    # the split is sklearn's t-SNE of the concatenation, with the documented perplexity
    np.testing.assert_allclose(joint, expected, atol=1e-3 * np.abs(expected).max())
    # new digits land beside reference digits of their class
    assert _knn_accuracy(ref_xy, ref_y, np.concatenate(others_xy), new_y) > 0.8
    assert len(list((isolated_cache / "maps").glob("*.npz"))) == 1


@pytest.mark.slow
def test_tsne_fit_transform_and_tiny_sets():
    coords = Map2D("tsne").fit_transform(_cloud(n=3))
    assert coords.shape == (3, 2) and np.isfinite(coords).all()
    np.testing.assert_array_equal(maps.Map2D("tsne").fit(_cloud(n=3)).embedding_, coords)
