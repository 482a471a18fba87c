"""latent_core.linalg against numpy and scipy references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.stats import ortho_group

from latent_core.errors import InvalidParameterError
from latent_core.linalg import (
    match_dim,
    numerical_rank,
    polar_factor,
    polar_factor_of_product,
    random_rotation,
    ridge_solve,
)
from latent_core.translate import InverseRelativeProjection


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))


def _ridge_reference(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    alpha = ridge * np.linalg.svd(x, compute_uv=False).max() ** 2
    return np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ y)


def test_ridge_solve_is_exact_least_squares_at_full_column_rank():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 8)), rng.normal(size=(50, 3))
    solution, rank = ridge_solve(_t(x), _t(y), ridge=0.5)  # a big ridge: it must not be used here
    assert rank == 8
    np.testing.assert_allclose(solution.numpy(), np.linalg.lstsq(x, y, rcond=None)[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["fewer rows than columns", "collinear columns"])
def test_ridge_solve_uses_the_closed_form_ridge_when_rank_deficient(case):
    rng = np.random.default_rng(1)
    if case == "fewer rows than columns":
        x, expected_rank = rng.normal(size=(5, 8)), 5
    else:
        x = rng.normal(size=(40, 6))
        x[:, 5] = 2 * x[:, 0] - x[:, 3]
        expected_rank = 5
    y = rng.normal(size=(len(x), 2))
    solution, rank = ridge_solve(_t(x), _t(y), ridge=1e-3)
    assert rank == expected_rank
    np.testing.assert_allclose(solution.numpy(), _ridge_reference(x, y, 1e-3), rtol=1e-8, atol=1e-10)


def test_numerical_rank_matches_numpy_and_honours_the_precision():
    rng = np.random.default_rng(2)
    low = rng.normal(size=(30, 3)) @ rng.normal(size=(3, 10))
    assert numerical_rank(_t(low)) == np.linalg.matrix_rank(low) == 3
    assert numerical_rank(_t(rng.normal(size=(4, 9)))) == 4
    noisy = low + 1e-9 * rng.normal(size=low.shape)  # full rank in float64, rank 3 at float32's rounding
    s = np.linalg.svd(noisy, compute_uv=False)
    tolerance = s.max() * max(noisy.shape) * np.finfo(np.float32).eps
    assert numerical_rank(_t(noisy)) == np.linalg.matrix_rank(noisy) == 10
    assert numerical_rank(_t(noisy), torch.float32) == np.linalg.matrix_rank(noisy, tol=tolerance) == 3
    for shape in ((200, 50), (50, 200)):  # wide and tall, with repeated rows or columns: numpy's rank at float32
        x = rng.normal(size=shape)
        x[:, :10] = x[:, 10:20] if shape[0] > shape[1] else x[:, :10]
        x[:10] = x[10:20] if shape[0] < shape[1] else x[:10]
        tolerance = np.linalg.svd(x, compute_uv=False).max() * max(shape) * np.finfo(np.float32).eps
        assert numerical_rank(_t(x), torch.float32) == np.linalg.matrix_rank(x, tol=tolerance) == 40


def test_polar_factor_is_scipys_orthogonal_procrustes_at_full_rank():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(40, 7)), rng.normal(size=(40, 7))
    expected, _ = orthogonal_procrustes(a, b)
    got = polar_factor(_t(a.T @ b)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-10)
    np.testing.assert_allclose(got @ got.T, np.eye(7), atol=1e-10)


def test_polar_factor_of_a_rank_deficient_matrix_is_the_partial_isometry():
    rng = np.random.default_rng(4)
    matrix = rng.normal(size=(6, 2)) @ rng.normal(size=(2, 6))  # rank 2
    u, _, vt = np.linalg.svd(matrix)
    got = polar_factor(_t(matrix)).numpy()
    np.testing.assert_allclose(got, u[:, :2] @ vt[:2], atol=1e-10)
    np.testing.assert_allclose(np.linalg.svd(got, compute_uv=False), [1, 1, 0, 0, 0, 0], atol=1e-10)


@pytest.mark.parametrize("rows, left_dim, right_dim, duplicated", [
    (12, 40, 40, False),  # few anchors in many dimensions: the QR path
    (12, 40, 30, True),  # ... with repeated anchors (rank 6) and unequal widths
    (30, 40, 40, False),  # more than half: the product's own SVD
])
def test_polar_factor_of_product_is_the_partial_isometry_of_the_product(rows, left_dim, right_dim, duplicated):
    """Against numpy's SVD of the formed product: ``U_r V_r^T`` over its numerically non-zero singular values."""
    rng = np.random.default_rng(rows + left_dim + right_dim)
    left, right = rng.normal(size=(rows, left_dim)), rng.normal(size=(rows, right_dim))
    if duplicated:
        left[rows // 2:] = left[: rows - rows // 2]
    left[:, -5:] = 0.0  # zero-padded columns, as match_dim pads the narrower space
    product = left.T @ right
    u, s, vt = np.linalg.svd(product)
    rank = int(np.sum(s > s.max() * max(product.shape) * np.finfo(np.float64).eps))
    assert rank == (rows // 2 if duplicated else rows)
    got = polar_factor_of_product(_t(left), _t(right)).numpy()
    np.testing.assert_allclose(got, u[:, :rank] @ vt[:rank], atol=1e-10)
    np.testing.assert_allclose(got, polar_factor(_t(product)).numpy(), atol=1e-10)


def test_match_dim_pads_with_zeros_and_crops():
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    np.testing.assert_array_equal(match_dim(x, 5).numpy(), [[0, 1, 2, 0, 0], [3, 4, 5, 0, 0]])
    np.testing.assert_array_equal(match_dim(x, 2).numpy(), [[0, 1], [3, 4]])
    np.testing.assert_array_equal(match_dim(x, 3).numpy(), x.numpy())


def test_random_rotation_is_a_seeded_haar_orthogonal_matrix():
    q = random_rotation(12, 5)
    assert q.dtype == np.float32 and q.shape == (12, 12)
    np.testing.assert_allclose(q @ q.T, np.eye(12), atol=1e-5)
    np.testing.assert_array_equal(q, ortho_group.rvs(12, random_state=5).astype(np.float32))  # the app's matrix
    np.testing.assert_array_equal(q, random_rotation(12, 5))
    assert not np.allclose(q, random_rotation(12, 6))
    with pytest.raises(InvalidParameterError):
        random_rotation(1, 0)
    with pytest.raises(InvalidParameterError):
        random_rotation(4, -1)


@pytest.mark.parametrize("k,d", [(40, 8), (5, 8)])  # exact least squares, then the ridge
def test_inverse_relative_decoder_is_the_svd_inverse_of_the_unit_target_anchors(k, d):
    rng = np.random.default_rng(6)
    source, target = rng.normal(size=(k, 6)).astype(np.float32), rng.normal(size=(k, d)).astype(np.float32)
    fitted = InverseRelativeProjection(scaling=None, ridge=1e-3).fit(source, target)
    unit = target.astype(np.float64) / np.linalg.norm(target.astype(np.float64), axis=1, keepdims=True)
    u, s, vt = np.linalg.svd(unit, full_matrices=False)
    inverse_s = 1 / s if k >= d else s / (s * s + 1e-3 * s.max() ** 2)
    np.testing.assert_allclose(fitted.decoder_.numpy(), u @ (inverse_s[:, None] * vt), rtol=1e-8, atol=1e-10)
