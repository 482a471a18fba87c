"""The small linear algebra shared by the translators, stitching and the lesson.

Numerical rank everywhere means: singular values above ``sigma_max * max(shape) * eps`` (numpy's
``matrix_rank`` default), ``eps`` the machine epsilon of the matrix's dtype unless told otherwise.
"""

from __future__ import annotations

import numpy as np
import torch

from latent_core._scalars import as_int


def _kept(s: torch.Tensor, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Mask of the singular values ``s`` that count towards the numerical rank of a matrix of ``shape``."""
    return s > s.max() * max(shape) * torch.finfo(dtype).eps


def numerical_rank(matrix: torch.Tensor, precision: torch.dtype | None = None, tol: float | None = None) -> int:
    """Numerical rank of ``matrix: [M, N]``; ``precision`` sets ``eps`` (e.g. ``torch.float32`` for float32
    data promoted to float64, whose rounding is float32's). ``tol``, when given, replaces the threshold: the
    singular values above it count (it should be at least ``sqrt(eps of the matrix's dtype) * sigma_max``, what
    the Gram path below resolves)."""
    precision = precision or matrix.dtype
    if matrix.numel() and torch.finfo(precision).eps >= 1e6 * torch.finfo(matrix.dtype).eps:
        # a coarse precision on fine data (float32 rounding, float64 numbers): the smaller Gram matrix resolves
        # singular values down to sqrt(eps of the data) * sigma_max, far below that threshold, and its
        # eigenvalues cost a fraction of an SVD of the whole matrix (the translators call this on every fit)
        gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
        s = torch.linalg.eigvalsh(gram).clamp_min(0.0).sqrt()
    else:
        s = torch.linalg.svdvals(matrix)
    if tol is not None:
        return int((s > tol).sum())
    return int(_kept(s, tuple(matrix.shape), precision).sum())


def polar_factor(matrix: torch.Tensor) -> torch.Tensor:
    """``U V^T`` over the singular directions with non-zero singular values (all of them at full rank).

    At full rank this is the orthogonal polar factor. When ``matrix`` is rank deficient (fewer anchors
    than dimensions) the remaining singular vectors are arbitrary, and ``U V^T`` would rotate the
    directions the anchors leave undetermined at random; dropping them gives the partial isometry
    ``U_r V_r^T``, orthogonal on the subspace the anchors determine and zero elsewhere.

    Args:
        matrix: ``[M, N]``.

    Returns:
        ``[M, N]``, same dtype.
    """
    u, s, vt = torch.linalg.svd(matrix, full_matrices=False)
    keep = _kept(s, tuple(matrix.shape), matrix.dtype)
    return u[:, keep] @ vt[keep]


def polar_factor_of_product(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """:func:`polar_factor` of ``left.T @ right`` (``left: [K, M]``, ``right: [K, N]``), the same partial isometry.

    With at most half as many rows as columns (K anchors in many more dimensions), the product has rank at most K:
    it is factored through thin QRs of both sides, ``left.T = Q_l R_l`` and ``right.T = Q_r R_r``, and the SVD of
    the ``[K, K]`` core ``R_l R_r^T``. That costs ``O(K^2 (M + N))`` instead of the ``O(M N min(M, N))`` of an SVD
    of the product (300 anchors in 768 dimensions: about 3x less), with the product's singular values and its
    rank threshold.

    Returns:
        ``[M, N]``, same dtype.
    """
    k, m, n = left.shape[0], left.shape[1], right.shape[1]
    if 2 * k > min(m, n):
        return polar_factor(left.T @ right)
    q_left, r_left = torch.linalg.qr(left.T)
    q_right, r_right = torch.linalg.qr(right.T)
    u, s, vt = torch.linalg.svd(r_left @ r_right.T)
    keep = _kept(s, (m, n), left.dtype)
    return (q_left @ u[:, keep]) @ (vt[keep] @ q_right.T)


def ridge_solve(design: torch.Tensor, target: torch.Tensor, ridge: float,
                shrinkage: float = 0.0) -> tuple[torch.Tensor, int]:
    """``W`` minimising ``||design @ W - target||`` through the SVD of ``design``.

    Exact least squares when ``design`` has full column rank; otherwise ridge regression with
    ``alpha = ridge * sigma_max^2``: ``W = (X^T X + alpha I)^-1 X^T Y``, computed as
    ``V diag(s / (s^2 + alpha)) U^T Y``. A positive ``shrinkage`` is a ridge applied whatever the rank,
    ``alpha = shrinkage * sigma_max^2``: near the interpolation threshold (as many anchors as unknowns) the exact
    solution has a tiny singular value and amplifies the anchors' noise, which such a ridge holds back.

    Args:
        design: ``[K, D]``; target: ``[K, T]``; ridge: relative ridge strength (> 0), used when rank deficient;
        shrinkage: relative ridge strength (>= 0) used at every rank when positive.

    Returns:
        ``(W [D, T], numerical rank of design)``; ``rank < D`` means the ridge was used.
    """
    u, s, vt = torch.linalg.svd(design, full_matrices=False)
    rank = int(_kept(s, tuple(design.shape), design.dtype).sum())
    projected = u.T @ target
    if shrinkage > 0:
        alpha = shrinkage * s.max() ** 2
        return vt.T @ ((s / (s * s + alpha))[:, None] * projected), rank
    if rank == design.shape[1]:
        return vt.T @ (projected / s[:, None]), rank
    alpha = ridge * s.max() ** 2
    return vt.T @ ((s / (s * s + alpha))[:, None] * projected), rank


def match_dim(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``x: [N, D]`` as ``[N, dim]``: zero-padded on the right when ``D < dim``, cropped when ``D > dim``."""
    if x.shape[1] < dim:
        return torch.nn.functional.pad(x, (0, dim - x.shape[1]))
    return x[:, :dim]


def random_rotation(dim: int, seed: int) -> np.ndarray:
    """``[dim, dim]`` float32 random orthogonal matrix (Haar-distributed, ``scipy.stats.ortho_group``),
    the same for the same seed; ``dim >= 2``."""
    from scipy.stats import ortho_group  # scipy.stats is slow to import; only callers pay

    dim = as_int(dim, "dim", minimum=2)
    return ortho_group.rvs(dim, random_state=as_int(seed, "seed", minimum=0)).astype(np.float32)
