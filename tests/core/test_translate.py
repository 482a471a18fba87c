"""Translators against scipy.linalg.orthogonal_procrustes, numpy.linalg.lstsq and known maps."""

import warnings

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.stats import ortho_group

from latent_core.errors import InvalidParameterError, NotFittedError, ShapeMismatchError
from latent_core.translate import (
    AffineTranslator,
    AnchorScaler,
    InverseRelativeProjection,
    LinearTranslator,
    LOrthoTranslator,
    Procrustes,
    get_translator,
)


def _f32(*arrays):
    """Inputs are float32 in latent_core; give the float64 references the same rounded numbers."""
    out = [a.astype(np.float32).astype(np.float64) for a in arrays]
    return out[0] if len(out) == 1 else out


def _source(seed=0, n=200, d=16):
    return _f32(np.random.default_rng(seed).normal(size=(n, d)))


def test_procrustes_isotropic_recovers_rotation_shift_and_scale():
    x = _source()
    q = ortho_group.rvs(16, random_state=1)
    y = 3.7 * x @ q + np.random.default_rng(2).normal(size=16) * 5
    anchors = np.arange(60)
    translator = Procrustes(scaling="isotropic").fit(x[anchors], y[anchors])
    out = translator.transform(x[60:]).numpy()
    assert np.abs(out - y[60:]).max() < 1e-4 * np.abs(y).max()
    np.testing.assert_allclose(translator.rotation_.numpy(), q, atol=1e-6)


def test_procrustes_without_scaling_recovers_a_pure_rotation_like_scipy():
    x = _source(3)
    q = ortho_group.rvs(16, random_state=4)
    y = _f32(x @ q)
    translator = Procrustes(scaling=None).fit(x[:40], y[:40])
    reference, _ = orthogonal_procrustes(x[:40], y[:40])
    np.testing.assert_allclose(translator.rotation_.numpy(), reference, atol=1e-8)
    assert np.abs(translator.transform(x).numpy() - y).max() < 1e-4


def test_procrustes_with_noise_matches_scipy_on_the_scaled_anchors():
    rng = np.random.default_rng(5)
    x = _source(5, n=80, d=10)
    y = _f32(x @ ortho_group.rvs(10, random_state=6) * 2 + rng.normal(size=(80, 10)) * 0.3 + 1)
    translator = Procrustes(scaling="standard").fit(x, y)
    xs = (x - x.mean(0)) / x.std(0)
    ys = (y - y.mean(0)) / y.std(0)
    reference, _ = orthogonal_procrustes(xs, ys)
    np.testing.assert_allclose(translator.rotation_.numpy(), reference, atol=1e-8)
    expected = (xs @ reference) * y.std(0) + y.mean(0)
    np.testing.assert_allclose(translator.transform(x).numpy(), expected, atol=1e-4)


@pytest.mark.parametrize("scaling", [None, "standard"])
def test_linear_and_affine_agree_with_numpy_lstsq(scaling):
    rng = np.random.default_rng(7)
    x, y = _f32(rng.normal(size=(50, 6)), rng.normal(size=(50, 4)) * 3 + 2)
    sx = (x - x.mean(0)) / x.std(0) if scaling else x
    sy = (y - y.mean(0)) / y.std(0) if scaling else y
    unscale = (lambda m: m * y.std(0) + y.mean(0)) if scaling else (lambda m: m)
    linear = LinearTranslator(scaling=scaling).fit(x, y)
    weight, *_ = np.linalg.lstsq(sx, sy, rcond=None)
    np.testing.assert_allclose(linear.weight_.numpy(), weight, atol=1e-8)
    np.testing.assert_allclose(linear.transform(x).numpy(), unscale(sx @ weight), atol=1e-4)
    affine = AffineTranslator(scaling=scaling).fit(x, y)
    design = np.hstack([sx, np.ones((50, 1))])
    solution, *_ = np.linalg.lstsq(design, sy, rcond=None)
    np.testing.assert_allclose(affine.weight_.numpy(), solution[:-1], atol=1e-8)
    np.testing.assert_allclose(affine.bias_.numpy(), solution[-1], atol=1e-8)
    np.testing.assert_allclose(affine.transform(x).numpy(), unscale(design @ solution), atol=1e-4)


def test_lortho_is_orthogonal_and_exact_on_a_rotation():
    x = _source(8, d=12)
    q = ortho_group.rvs(12, random_state=9)
    translator = LOrthoTranslator(scaling=None).fit(x[:50], x[:50] @ q)
    r = translator.rotation_.numpy()
    np.testing.assert_allclose(r @ r.T, np.eye(12), atol=1e-10)
    np.testing.assert_allclose(r, q, atol=1e-8)
    noisy = LOrthoTranslator().fit(x[:50], x[:50] @ q + np.random.default_rng(1).normal(size=(50, 12)))
    np.testing.assert_allclose(noisy.rotation_.numpy() @ noisy.rotation_.numpy().T, np.eye(12), atol=1e-10)


@pytest.mark.parametrize("name", ["procrustes", "linear", "affine", "lortho", "inverse_relative"])
@pytest.mark.parametrize("dims", [(8, 12), (12, 8)])
def test_different_dimensions_pad_and_crop(name, dims):
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=(40, dims[0])), rng.normal(size=(40, dims[1]))
    y[:, 0] = 3.0  # a constant target dimension: no division by zero
    translator = get_translator(name).fit(x[:30], y[:30])
    out = translator.transform(x[30:])
    assert out.shape == (10, dims[1]) and torch.isfinite(out).all()
    if name in ("linear", "affine"):  # least squares reproduces a constant target exactly;
        np.testing.assert_allclose(out[:, 0].numpy(), 3.0, atol=1e-5)  # orthogonal maps cannot


@pytest.mark.parametrize("scaling", [None, "isotropic"])
def test_inverse_relative_recovers_directions(scaling):
    x = _source(11, n=120, d=10)
    y = 2.5 * x @ ortho_group.rvs(10, random_state=12)
    translator = InverseRelativeProjection(scaling=scaling).fit(x[:30], y[:30])  # 30 anchors >= 10 dims
    out = translator.transform(x[30:]).numpy()
    target = y[30:]
    if scaling == "isotropic":  # compare directions around the anchor mean, where the map is linear
        out, target = out - y[:30].mean(0), target - y[:30].mean(0)
    cosines = (out * target).sum(1) / np.linalg.norm(out, axis=1) / np.linalg.norm(target, axis=1)
    assert cosines.min() > 0.999


def test_inverse_relative_with_fewer_anchors_than_dimensions_regularises():
    x = _source(13, n=60, d=32)
    y = x @ ortho_group.rvs(32, random_state=14)
    translator = InverseRelativeProjection(scaling=None).fit(x[:10], y[:10])
    out = translator.transform(x[10:])
    assert torch.isfinite(out).all() and out.shape == (50, 32)
    # the anchors themselves decode to their own direction (they span the solution space)
    anchors_out = translator.transform(x[:10]).numpy()
    cos = (anchors_out * y[:10]).sum(1) / np.linalg.norm(anchors_out, axis=1) / np.linalg.norm(y[:10], axis=1)
    assert cos.min() > 0.99


def test_rank_deficient_anchors_warn_and_use_ridge():
    rng = np.random.default_rng(15)
    x, y = rng.normal(size=(5, 20)), rng.normal(size=(5, 3))  # 5 anchors, 20 unknowns
    with pytest.warns(RuntimeWarning, match="rank deficient"):
        out = LinearTranslator().fit(x, y).transform(x)
    assert torch.isfinite(out).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LinearTranslator().fit(rng.normal(size=(50, 5)), rng.normal(size=(50, 3)))


def test_scalers_handle_constant_dimensions():
    anchors = torch.tensor([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]], dtype=torch.float64)
    standard = AnchorScaler("standard").fit(anchors)
    np.testing.assert_allclose(standard.scale_.numpy(), [np.std([1, 3, 5]), 1.0])
    torch.testing.assert_close(standard.inverse_transform(standard.transform(anchors)), anchors)
    isotropic = AnchorScaler("isotropic").fit(anchors)
    np.testing.assert_allclose(isotropic.scale_.numpy(), [np.sqrt(8 / 3)] * 2)
    identical = AnchorScaler("isotropic").fit(torch.ones(4, 3, dtype=torch.float64))
    assert torch.equal(identical.scale_, torch.ones(3, dtype=torch.float64))


def test_errors():
    x = _source(16, n=10, d=4)
    with pytest.raises(NotFittedError):
        Procrustes().transform(x)
    with pytest.raises(ShapeMismatchError, match="same samples"):
        Procrustes().fit(x, x[:9])
    with pytest.raises(ShapeMismatchError, match="dimension 3"):
        Procrustes().fit(x, x).transform(x[:, :3])
    with pytest.raises(InvalidParameterError, match="Unknown translator"):
        get_translator("rotation")
    with pytest.raises(InvalidParameterError, match="scaling"):
        Procrustes(scaling="minmax").fit(x, x)
    assert isinstance(get_translator("lortho", scaling=None), LOrthoTranslator)


def test_few_anchors_give_a_deterministic_partial_isometry():
    """K < D: U V^T is not unique; the kept part is orthogonal on the anchors' span and zero elsewhere."""
    rng = np.random.default_rng(17)
    x = _f32(rng.normal(size=(20, 50)))
    y = _f32(rng.normal(size=(20, 50)))
    rotation = Procrustes(scaling=None).fit(x, y).rotation_.numpy()
    singular = np.linalg.svd(rotation, compute_uv=False)
    assert np.allclose(singular[:20], 1.0, atol=1e-8) and np.allclose(singular[20:], 0.0, atol=1e-8)
    reference, _ = orthogonal_procrustes(x, y)  # one of the many optima
    m = x.T @ y
    assert np.trace(rotation.T @ m) == pytest.approx(np.trace(reference.T @ m), rel=1e-8)  # same fit term
    np.testing.assert_allclose(Procrustes(scaling=None).fit(x, y).rotation_.numpy(), rotation)
    lortho = LOrthoTranslator(scaling=None, ridge=1e-3)
    with pytest.warns(RuntimeWarning, match="rank deficient"):
        lortho.fit(x, y)
    assert np.allclose(np.linalg.svd(lortho.rotation_.numpy(), compute_uv=False)[20:], 0.0, atol=1e-8)


@pytest.mark.parametrize("name", ["procrustes", "linear", "affine", "lortho", "inverse_relative"])
@pytest.mark.parametrize("scaling", ["standard", "isotropic", None])
def test_identical_anchors_are_a_typed_error(name, scaling):
    from latent_core.errors import DegenerateAnchorsError, MathInputError

    rng = np.random.default_rng(20)
    same = np.tile(rng.normal(size=(1, 6)), (8, 1)) * 0.1  # 0.1: the anchors' mean is not exact in floating point
    varied = rng.normal(size=(8, 4))
    for source, target, side in ((same, varied, "source"), (varied, same, "target")):
        with pytest.raises(DegenerateAnchorsError, match=f"All 8 {side} anchors are the same vector") as caught:
            get_translator(name, scaling=scaling).fit(source, target)
        assert isinstance(caught.value, MathInputError)


def _thin_direction(seed: int, n: int, d: int, thinness: float) -> np.ndarray:
    """``[n, d]`` float32 anchors whose last principal direction (a random, not axis-aligned one) has ``thinness``
    times the spread of the others (0: exactly flat, then rounded to float32)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    z[:, -1] *= thinness
    return (z @ ortho_group.rvs(d, random_state=seed) + 0.5).astype(np.float32)


def test_a_thin_but_real_direction_among_many_anchors_is_not_called_degenerate():
    """The degeneracy warning tells float32 rounding apart from a real direction by how far rounding can move a
    singular value (Weyl: at most eps * ||anchors||_F), not by numpy's ``sigma_max * max(shape) * eps``, which grows
    with the anchor count. With 40,000 anchors that default is 4.8e-3 sigma_max and called a direction with 1e-3 of
    the spread degenerate (as MPNet's sentence vectors are: 2.7e-3, on 39,553 BBC anchors); a real flat direction is
    still caught at the same size."""
    thin = _thin_direction(30, 40_000, 64, 1e-3)
    spectrum = np.linalg.svd((thin - thin.mean(0)) / thin.std(0), compute_uv=False)
    assert 1e-4 < spectrum[-1] / spectrum[0] < 40_000 * np.finfo(np.float32).eps  # numpy's default would drop it
    target = np.random.default_rng(31).normal(size=(40_000, 8)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Procrustes().fit(thin, target)
    flat = _thin_direction(30, 40_000, 64, 0.0)
    with pytest.warns(RuntimeWarning, match="they span 63 directions where 40000 distinct anchors in 64 dimensions "
                                            "could span 64"):
        Procrustes().fit(flat, target)


def test_collinear_anchors_warn_and_constant_columns_scale_to_zero():
    rng = np.random.default_rng(21)
    line = np.outer(np.linspace(-1, 1, 10), rng.normal(size=5)) + 0.3  # 10 distinct anchors on one line
    with pytest.warns(RuntimeWarning, match="The source anchors are degenerate: they span 1 directions where 10 "
                                            "distinct anchors in 5 dimensions could span 5"):
        Procrustes().fit(line, rng.normal(size=(10, 5)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # generic anchors, even fewer than dimensions, do not warn
        Procrustes().fit(rng.normal(size=(10, 50)), rng.normal(size=(10, 50)))
    anchors = torch.tensor([[0.1, 1.0], [0.1, 2.0], [0.1, 4.0]], dtype=torch.float64)
    scaler = AnchorScaler("standard").fit(anchors)
    assert (scaler.transform(anchors)[:, 0] == 0).all() and scaler.scale_[0] == 1.0


# ---- shrinkage: a ridge at every rank, chosen by cross-validation on the anchors --------------------------------


def test_ridge_solve_with_shrinkage_is_the_closed_form_ridge_at_full_rank():
    from latent_core.linalg import ridge_solve

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 8)), rng.normal(size=(50, 3))
    alpha = 0.1 * np.linalg.svd(x, compute_uv=False).max() ** 2
    expected = np.linalg.solve(x.T @ x + alpha * np.eye(8), x.T @ y)
    got, rank = ridge_solve(torch.tensor(x), torch.tensor(y), ridge=1e-4, shrinkage=0.1)
    assert rank == 8
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)
    exact, _ = ridge_solve(torch.tensor(x), torch.tensor(y), ridge=1e-4)  # shrinkage 0: plain least squares
    np.testing.assert_allclose(exact.numpy(), np.linalg.lstsq(x, y, rcond=None)[0], rtol=1e-9, atol=1e-12)


def _noisy_pair(n: int, d: int, noise: float, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w = rng.normal(size=(d, d)) / np.sqrt(d)
    return x.astype(np.float32), (x @ w + noise * rng.normal(size=(n, d))).astype(np.float32)


def _held_out_cosine(translator, x, y) -> float:
    return float(torch.nn.functional.cosine_similarity(translator.transform(x), torch.tensor(y), dim=1).mean())


@pytest.mark.parametrize("name, gain", [("linear", 0.05), ("affine", 0.05), ("inverse_relative", 0.05),
                                        ("lortho", 0.01)])  # the polar factor already drops the singular values
def test_cross_validated_shrinkage_rescues_the_interpolation_threshold(name, gain):
    # as many anchors as dimensions and noisy targets: the exact fit interpolates the noise (the dip measured on
    # BBC at 1,000 anchors for 768-d MPNet); a cross-validated ridge must do clearly better on held-out rows
    x, y = _noisy_pair(1064, 64, noise=1.0, seed=1)
    anchors, test = slice(0, 64), slice(64, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        exact = get_translator(name).fit(x[anchors], y[anchors])
        cv = get_translator(name, shrinkage="cv").fit(x[anchors], y[anchors])
    assert cv.shrinkage_ > 0 and cv.shrinkage_scores_[cv.shrinkage_] == max(cv.shrinkage_scores_.values())
    assert _held_out_cosine(cv, x[test], y[test]) > _held_out_cosine(exact, x[test], y[test]) + gain


def test_cross_validated_shrinkage_stays_off_when_the_anchors_determine_the_map():
    x, y = _noisy_pair(2000, 16, noise=0.0, seed=2)  # noiseless, 2,000 anchors for 16 dimensions
    translator = get_translator("linear", shrinkage="cv").fit(x, y)
    assert translator.shrinkage_ <= 1e-4
    assert get_translator("procrustes", shrinkage="cv").fit(x, y).shrinkage_ == 0.0  # no regression to shrink


@pytest.mark.parametrize("bad", [-0.1, "auto", float("nan"), [0.1]])
def test_bad_shrinkage_is_a_clear_error(bad):
    x, y = _noisy_pair(40, 4, noise=0.1, seed=3)
    with pytest.raises(InvalidParameterError, match="shrinkage"):
        get_translator("linear", shrinkage=bad).fit(x, y)


def test_shrinkage_survives_a_save_and_load(tmp_path):
    from latent_core.batch.translator_io import load_translator, save_translator

    x, y = _noisy_pair(200, 32, noise=1.0, seed=4)
    translator = get_translator("linear", shrinkage="cv").fit(x[:40], y[:40])
    translator.transform(x[:5])  # builds the private folded cache, which must not be saved
    loaded, meta = load_translator(save_translator(translator, tmp_path / "t"))
    assert meta["shrinkage"] == translator.shrinkage_ == loaded.shrinkage_
    torch.testing.assert_close(loaded.transform(x[40:]), translator.transform(x[40:]))
