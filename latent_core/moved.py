"""What moved between two spaces of the same samples: per-sample Jaccard of the k-NN sets, ranked.

A sample "moved" when its neighbourhood changed: few of its k nearest neighbours in ``x`` are among its k nearest in
``y``. Neighbours are found as everywhere in the library (:func:`latent_core.metrics.knn_indices`: cosine, the
sample itself excluded), so the scores are those behind :func:`latent_core.metrics.jaccard_at_k` (its mean) and
:func:`latent_core.metrics.neighbor_agreement` (``|A ∩ B| / k`` instead of ``|A ∩ B| / |A ∪ B|``). The spaces may
have different dimensions; only the rows must match. Cosine neighbours are unchanged by a rotation or an isotropic
rescaling of either space, so both give Jaccard 1 everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from latent_core.metrics import knn_indices, neighbour_overlap
from latent_core.validation import ArrayLike, as_matrix, check_k, check_same_rows, positive_int


def _neighbour_lists(x: ArrayLike, y: ArrayLike, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``[N, k]`` cosine k-NN lists (self excluded, nearest first) of ``x`` and of ``y``.

    Raises:
        ShapeMismatchError: ``x`` and ``y`` have different numbers of rows (or are not 2-D).
        InvalidParameterError: ``k`` is not an integer in ``[1, N)``.
    """
    tx = as_matrix(x, "x")
    ty = as_matrix(y, "y", device=tx.device)
    check_same_rows(tx, ty)
    k = check_k(k, tx.shape[0])
    return knn_indices(tx, k), knn_indices(ty, k)


def _jaccard(neighbours_x: torch.Tensor, neighbours_y: torch.Tensor) -> np.ndarray:
    k = neighbours_x.shape[1]
    inter = neighbour_overlap(neighbours_x, neighbours_y).double()
    return (inter / (2 * k - inter)).cpu().numpy()


def neighbourhood_change(x: ArrayLike, y: ArrayLike, k: int = 10) -> np.ndarray:
    """Per sample, ``|NN_k^x ∩ NN_k^y| / |NN_k^x ∪ NN_k^y|``: ``[N]`` float64 in [0, 1] (1: the same k neighbours in
    both spaces, 0: none in common). ``x: [N, D_x]``, ``y: [N, D_y]``.

    Raises:
        ShapeMismatchError: different numbers of rows. InvalidParameterError: ``k`` outside ``[1, N)``.
    """
    return _jaccard(*_neighbour_lists(x, y, k))


WIDER = 4  # ties in Jaccard@k are broken by Jaccard@(WIDER k): how far beyond its k neighbours a sample moved


@dataclass(frozen=True)
class Ranking:
    """The samples ranked by how much their neighbourhood changed between ``x`` and ``y``.

    Attributes:
        k: neighbours per sample.
        jaccard: ``[N]`` per-sample Jaccard of the two k-NN sets (:func:`neighbourhood_change`).
        wide_k: ``min(WIDER * k, N - 1)``, the neighbours of the tie-breaking score.
        jaccard_wide: ``[N]`` the same Jaccard with ``wide_k`` neighbours. At k = 10 most samples of a real pair
            share a handful of Jaccard values (0, 1/19, 1/9...), so the wider neighbourhood orders them.
        order: ``[N]`` every row, most changed first: ascending Jaccard, then ascending ``jaccard_wide``, then row.
        moved: ``[top]`` the first ``top`` rows of ``order``.
        agreeing: ``[top]`` the rows that agree most: descending Jaccard, then descending ``jaccard_wide``, then
            row (lowest first).
        neighbours_x, neighbours_y: ``[N, k]`` each row's neighbours in ``x`` and in ``y``, nearest first.
    """

    k: int
    jaccard: np.ndarray
    wide_k: int
    jaccard_wide: np.ndarray
    order: np.ndarray
    moved: np.ndarray
    agreeing: np.ndarray
    neighbours_x: np.ndarray
    neighbours_y: np.ndarray

    def lost(self, row: int) -> np.ndarray:
        """Rows among ``row``'s neighbours in ``x`` that are not among them in ``y`` (in ``x``'s order)."""
        mine, other = self.neighbours_x[row], self.neighbours_y[row]
        return mine[~np.isin(mine, other)]

    def gained(self, row: int) -> np.ndarray:
        """Rows among ``row``'s neighbours in ``y`` that were not among them in ``x`` (in ``y``'s order)."""
        mine, other = self.neighbours_y[row], self.neighbours_x[row]
        return mine[~np.isin(mine, other)]


def ranked_changes(x: ArrayLike, y: ArrayLike, k: int = 10, top: int = 20) -> Ranking:
    """Rank the samples of ``x: [N, D_x]`` and ``y: [N, D_y]`` by the Jaccard of their k-NN sets (see
    :class:`Ranking`); ``top`` (at most N) rows of the most changed and of the most agreeing.

    Raises:
        ShapeMismatchError: different numbers of rows. InvalidParameterError: ``k`` outside ``[1, N)``, ``top`` not
        a positive integer.
    """
    top = positive_int(top, "top")
    neighbours_x, neighbours_y = _neighbour_lists(x, y, k)
    jaccard = _jaccard(neighbours_x, neighbours_y)
    k = int(neighbours_x.shape[1])
    wide_k = min(WIDER * k, len(jaccard) - 1)
    jaccard_wide = _jaccard(*_neighbour_lists(x, y, wide_k)) if wide_k > k else jaccard
    rows = np.arange(len(jaccard))
    order = np.lexsort((rows, jaccard_wide, jaccard))  # the last key sorts first
    agreeing = np.lexsort((rows, -jaccard_wide, -jaccard))
    top = min(top, len(jaccard))
    return Ranking(k=k, jaccard=jaccard, wide_k=wide_k, jaccard_wide=jaccard_wide, order=order, moved=order[:top],
                   agreeing=agreeing[:top], neighbours_x=neighbours_x.cpu().numpy(),
                   neighbours_y=neighbours_y.cpu().numpy())
