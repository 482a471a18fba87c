"""Relative representations (Moschella et al., ICLR 2023) and the product of invariances
(Cannistraci et al., "From Bricks to Bridges", 2023).

A sample is described by how it relates to K anchor samples: ``rel(x)[k] = f(x, a_k)``.

Projections ``f``:
    cosine     cos(x, a): invariant to rotations/reflections and isotropic rescaling.
    angular    1 - arccos(cos(x, a)) / pi, in [0, 1]: the same invariances, linear in the angle.
    euclidean  ||x - a||_2: invariant to isometries (rotations, reflections, translations).
    l1         ||x - a||_1: invariant to translations, coordinate permutations and sign flips.
    linf       max_i |x_i - a_i|: the same invariances as l1.
The first two are similarities (larger = closer), the last three distances (smaller = closer).

Product of invariances: one relative block per projection of :data:`PRODUCT_PROJECTIONS` (cosine, euclidean, l1,
linf), each normalised per row, then aggregated (:data:`AGGREGATIONS`). Names accepted wherever a projection is
(``relative_projection``, ``RelativeProjection``, ``relative:<name>`` stitching methods), listed in ``PRODUCTS``:
    product        "concat": each block's rows L2-normalised, concatenated: ``[N, 4K]`` (every block weighs the
                   same; a block that one space's transform breaks still feeds a head trained on it).
    product-mean   "mean": each block's rows standardised (zero mean, unit std over the K anchors; distance blocks
                   negated so larger = closer in every block), averaged: ``[N, K]``.
A product's memory is its output plus one ``[N, K]`` block (each block is computed chunk by chunk, normalised in
place, then concatenated or added). :func:`block_agreement` scores each block by how alike two spaces' anchors look
through it (the cross-space selection ``relative:product-select`` of :mod:`latent_core.stitching` uses it).

Each projection is a function ``(x [N, D], anchors [K, D]) -> [N, K]`` registered in
:data:`PROJECTION_FUNCTIONS` with ``similarity=True/False``; ``PROJECTIONS``, ``SIMILARITIES`` and
``DISTANCES`` are tuples of their names, read from the registry on every access.

Example:
    >>> rel = relative_projection(x, x[anchor_idx])            # [N, K] cosine similarities
    >>> RelativeProjection("euclidean").fit(x[anchor_idx]).transform(x)
    >>> relative_projection(x, x[anchor_idx], "product")           # [N, 4K]: the product of invariances
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from latent_core.errors import InvalidParameterError, NotFittedError, ZeroVectorError
from latent_core.registry import Registry
from latent_core.validation import (
    ArrayLike,
    as_float,
    as_int,
    as_matrix,
    check_distinct,
    check_finite,
    describe,
    float32_rows,
    nonfinite_first,
    unit_rows,
    unit_rows_or_zero,
)

_CHUNK_ELEMENTS = 1 << 24  # rows per chunk = this / (K * D): ~64 MB of float32 intermediates
_CHUNK_ELEMENTS_GPU = 1 << 26  # on an accelerator, fewer and larger products (~256 MB): launches and syncs add up

# name -> fn(x [N, D], anchors [K, D]) -> [N, K]. Metadata: similarity (larger = closer; sparsifiable; anchors
# must be non-zero), centred (computed on inputs centred at the anchors' mean: same numbers, better conditioned).
# Every function's intermediates are [chunk, K] (torch.cdist with p != 2 loops over coordinates without a
# [chunk, K, D] tensor: measured +23 MB for 20,000 x 768 against 300 anchors) plus at most a float64 copy of the
# chunk (scipy's cdist), so chunks are sized by K + 2 D float32 values per row.
PROJECTION_FUNCTIONS = Registry("projection")


@PROJECTION_FUNCTIONS.register("cosine", similarity=True)
def cosine(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """``cos(x, a)``: ``[N, K]``."""
    return unit_rows(x, "x") @ unit_rows(anchors, "anchors").T


@PROJECTION_FUNCTIONS.register("angular", similarity=True)
def angular(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """``1 - arccos(cos(x, a)) / pi`` in [0, 1]: ``[N, K]``, in ``x``'s dtype. The cosines are taken in float64:
    arccos is ill-conditioned near +-1, where one float32 rounding of a cosine moves the angle by up to 4e-5 of pi
    (a rotation of the inputs then changes the result by that much). MPS, which has no float64, stays in float32."""
    wide = _wide(x.device)
    return (1.0 - torch.arccos(cosine(x.to(wide), anchors.to(wide)).clamp(-1.0, 1.0)) / math.pi).to(x.dtype)


def _wide(device: torch.device) -> torch.dtype:
    """float64, or float32 on MPS (no float64 there)."""
    return torch.float32 if device.type == "mps" else torch.float64


@PROJECTION_FUNCTIONS.register("euclidean", similarity=False, centred=True)
def euclidean(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """``||x - a||_2``: ``[N, K]``, as ``sqrt(|x|^2 + |a|^2 - 2 x.a)`` (a matmul: fast, and accurate on inputs
    centred near the origin)."""
    sq = (x * x).sum(1, keepdim=True) + (anchors * anchors).sum(1)[None, :] - 2.0 * (x @ anchors.T)
    return sq.clamp_min(0.0).sqrt()


@PROJECTION_FUNCTIONS.register("l1", similarity=False)
def l1(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """``||x - a||_1``: ``[N, K]``."""
    return _minkowski(x, anchors, 1.0)


@PROJECTION_FUNCTIONS.register("linf", similarity=False)
def linf(x: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """``max_i |x_i - a_i|``: ``[N, K]``."""
    return _minkowski(x, anchors, math.inf)


def _minkowski(x: torch.Tensor, anchors: torch.Tensor, p: float) -> torch.Tensor:
    """L1 / L-inf distances in ``x``'s dtype. On the CPU scipy's ``cdist`` (float64 sums, cast back), which
    measured 1.7x (L1) and 2.3x (L-inf) faster than ``torch.cdist`` on one thread (1,925 x 768 against 300
    anchors); elsewhere torch's."""
    if x.device.type != "cpu" or x.requires_grad or anchors.requires_grad:
        return torch.cdist(x[None], anchors[None], p=p)[0]
    from scipy.spatial.distance import cdist

    distances = cdist(x.numpy(), anchors.numpy(), "cityblock" if p == 1.0 else "chebyshev")
    return torch.from_numpy(distances).to(x.dtype)


def __getattr__(name: str) -> tuple[str, ...]:
    """``PROJECTIONS``, ``SIMILARITIES``, ``DISTANCES``: the registered projection names (all, similarities,
    distances), read from :data:`PROJECTION_FUNCTIONS` at each access."""
    if name == "PROJECTIONS":
        return PROJECTION_FUNCTIONS.names()
    if name == "SIMILARITIES":
        return PROJECTION_FUNCTIONS.names(similarity=True)
    if name == "DISTANCES":
        return tuple(p for p in PROJECTION_FUNCTIONS if not _is_similarity(p))
    if name == "PRODUCTS":
        return tuple(PRODUCT_NAMES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_projection(projection: str) -> str:
    if isinstance(projection, str) and projection in PRODUCT_NAMES:
        return projection
    PROJECTION_FUNCTIONS.get(projection)  # "Unknown projection ...; choose from ..."
    return projection


def is_product(projection) -> bool:
    """Whether ``projection`` names a product of invariances (``PRODUCTS``) rather than one projection."""
    return isinstance(projection, str) and projection in PRODUCT_NAMES


def _is_similarity(projection: str) -> bool:
    return bool(PROJECTION_FUNCTIONS.meta(projection).get("similarity"))


def _check_topk(topk, k: int) -> int | None:
    if topk is None:
        return None
    message = f"topk must be an integer in [1, {k}] (the number of anchors), got {describe(topk)}."
    topk = as_int(topk, "topk")
    if topk < 1 or topk > k:
        raise InvalidParameterError(message)
    return topk


def _check_power(power) -> float | None:
    return None if power is None else as_float(power, "power", positive=True)


def sparsify(rel: ArrayLike, topk: int | None = None, power: float | None = None) -> torch.Tensor:
    """ASIF sparsification of similarity rows: keep the ``topk`` largest, clamp at 0, raise to ``power``,
    L2-renormalise each row (rows with nothing positive left stay zero)."""
    rel = as_matrix(rel, "rel")
    return _sparsify(rel, _check_topk(topk, rel.shape[1]), _check_power(power))


def _sparsify(rel: torch.Tensor, topk: int | None, power: float | None) -> torch.Tensor:
    out = rel
    if topk is not None:
        values, index = rel.topk(topk, dim=1)
        out = torch.zeros_like(rel).scatter_(1, index, values)
    out = out.clamp_min(0.0)  # negative similarities carry no evidence of a match
    if power is not None:
        out = out.pow(power)
    return unit_rows_or_zero(out)


def _prepare(anchors: torch.Tensor, projection: str, center: bool):
    """Anchors checked and shifted as the projection needs them: (anchors, shift or None, unit anchors
    transposed ``[D, K]`` for similarities or None)."""
    if anchors.shape[0] < 1:
        raise InvalidParameterError("Need at least one anchor.")
    check_distinct(anchors, "anchors")
    meta = PROJECTION_FUNCTIONS.meta(projection)
    shift = anchors.mean(0, keepdim=True) if (center or meta.get("centred")) else None
    if shift is not None:
        anchors = anchors - shift
    unit_t = None
    if meta.get("similarity"):  # ZeroVectorError now, not at transform time
        unit_t = unit_rows(anchors, "anchors").T.contiguous()
    return anchors, shift, unit_t


def _project(x: torch.Tensor, prepared, projection: str, topk, power, chunk_size, name: str = "x") -> torch.Tensor:
    """``x`` (a lazy :func:`as_matrix`: float32 or float64, not yet checked finite) projected chunk by chunk into a
    preallocated ``[N, K]`` output; each chunk is validated as it is read."""
    anchors, shift, anchors_t = (t.to(x.device) if t is not None else None for t in prepared)
    function = PROJECTION_FUNCTIONS.get(projection)
    if anchors.shape[1] != x.shape[1]:
        raise InvalidParameterError(
            f"x has dimension {x.shape[1]} but anchors have {anchors.shape[1]}: anchors must be embedded by the "
            "same encoder as x."
        )
    n, k = x.shape[0], anchors.shape[0]
    topk, power = _check_topk(topk, k), _check_power(power)
    fast = function is cosine or function is angular
    if chunk_size is None:
        # the fast path's only intermediate is one [chunk, D] block (sparsifying adds [chunk, K] ones); the other
        # projections hold [chunk, K] intermediates and a float64 copy of the chunk (small chunks slowed
        # torch.cdist 3x: 72 rows vs 2225)
        if function is angular:  # float64 copies of the chunk and of its cosines
            per_row = 2 * (x.shape[1] + k)
        elif fast:
            # fewer, larger matmuls run measurably faster: the one [chunk, D] buffer may take ~128 MB
            per_row = x.shape[1] // 2 if topk is None and power is None else max(x.shape[1], k)
        else:
            per_row = k + 2 * x.shape[1]
        budget = _CHUNK_ELEMENTS if x.device.type == "cpu" else _CHUNK_ELEMENTS_GPU
        chunk_size = max(1, budget // max(1, per_row))
    chunk_size = as_int(chunk_size, "chunk_size")
    if chunk_size < 1:
        raise InvalidParameterError(f"chunk_size must be positive, got {chunk_size}.")
    out = torch.empty(n, k, dtype=torch.float32, device=x.device)
    if fast:
        buffer = torch.empty(min(n, chunk_size), x.shape[1], dtype=torch.float32, device=x.device)
    if function is angular:
        anchors_t = unit_rows(anchors.to(_wide(x.device)), "anchors").T
    for start in range(0, n, chunk_size):
        stop = min(n, start + chunk_size)
        block = out[start:stop]
        if fast:
            scratch = buffer[: stop - start]
            rows = x[start:stop]
            if rows.dtype != torch.float32:
                rows = scratch.copy_(rows)  # float64 converted chunk by chunk, into the reused buffer
            if shift is not None:
                rows = torch.sub(rows, shift, out=scratch)
            done = (_angular_rows(rows, anchors_t, block, start, name, x) if function is angular
                    else _cosine_rows(rows, anchors_t, block, scratch, start, name, x))
            if not done:
                block.copy_(function(rows, anchors))  # finite values whose norm overflows float32: the exact path
        else:
            rows = float32_rows(x, start, stop, name)
            if shift is not None:
                rows = rows - shift
            block.copy_(function(rows, anchors))
        if topk is not None or power is not None:
            block.copy_(_sparsify(block, topk, power))
    return out


def _checked_norms(rows: torch.Tensor, offset: int, name: str, x: torch.Tensor) -> torch.Tensor | None:
    """``[chunk, 1]`` norms of ``rows``, which also validate them: a NaN or infinite value makes its row's norm
    non-finite (NonFiniteError, with the precise message), a zero row is a ZeroVectorError. None when finite rows
    have a norm beyond their dtype (the caller then takes the exact path)."""
    norms = torch.linalg.vector_norm(rows, dim=1, keepdim=True)
    if bool((torch.isfinite(norms) & (norms > 0)).all()):  # the usual case: one host sync per chunk on a GPU
        return norms
    if not bool(torch.isfinite(norms).all()):
        check_finite(x[offset : offset + rows.shape[0]], name)
        return None
    zero = norms.squeeze(1) == 0
    if bool(zero.any()):
        bad = (torch.nonzero(zero).squeeze(1)[:5] + offset).tolist()
        raise ZeroVectorError(f"{name} has zero vectors (rows {bad}); cosine needs a direction.")
    return norms


def _cosine_rows(rows, anchors_t, out, buffer, offset: int, name: str, x: torch.Tensor) -> bool:
    """``cos(rows, anchors)`` into ``out`` in one pass over ``rows`` (normalised into ``buffer``); False, with ``out``
    untouched, when :func:`_checked_norms` finds no float32 norm."""
    norms = _checked_norms(rows, offset, name, x)
    if norms is None:
        return False
    torch.mm(torch.div(rows, norms, out=buffer), anchors_t, out=out)
    return True


def _angular_rows(rows, anchors_t64, out, offset: int, name: str, x: torch.Tensor) -> bool:
    """:func:`angular` of ``rows`` into ``out``, the cosines in float64 (:func:`_wide`) against the unit anchors
    ``anchors_t64: [D, K]`` of that dtype; False, with ``out`` untouched, when :func:`_checked_norms` finds no norm."""
    rows64 = rows.to(anchors_t64.dtype)
    norms = _checked_norms(rows64, offset, name, x)
    if norms is None:
        return False
    cosines = (rows64 / norms) @ anchors_t64
    out.copy_(cosines.clamp_(-1.0, 1.0).arccos_().div_(-math.pi).add_(1.0))
    return True


def _check_sparsify(projection: str, topk, power) -> None:
    if (topk is not None or power is not None) and is_product(projection):
        raise InvalidParameterError(f"topk/power sparsify one similarity; {projection!r} is a product of blocks.")
    if (topk is not None or power is not None) and not _is_similarity(projection):
        raise InvalidParameterError(
            f"topk/power sparsify similarities; {projection!r} is a distance. Use 'cosine' or 'angular'."
        )


def relative_projection(
    x: ArrayLike,
    anchors: ArrayLike,
    projection: str = "cosine",
    *,
    center: bool = False,
    topk: int | None = None,
    power: float | None = None,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Relative representation of ``x: [N, D]`` with respect to ``anchors: [K, D]``.

    Args:
        x: samples; numpy or torch (the output is on ``x``'s device).
        anchors: anchor embeddings in the same space as ``x``.
        projection: a name in :data:`PROJECTION_FUNCTIONS` (``PROJECTIONS``), or a product (``PRODUCTS``).
        center: subtract the anchors' mean from ``x`` and the anchors first.
        topk, power: ASIF sparsification (similarity projections only); see :func:`sparsify`.
        chunk_size: rows of ``x`` processed at a time (default: about 64 MB of intermediates), so memory
            stays at the output plus one chunk.

    Returns:
        ``[N, K]`` float32 (a product: ``[N, 4K]`` for ``product``, ``[N, K]`` for ``product-mean``).

    Raises:
        ShapeMismatchError, NonFiniteError, ZeroVectorError (cosine/angular), InvalidParameterError.
    """
    projection = _check_projection(projection)
    _check_sparsify(projection, topk, power)
    x = as_matrix(x, "x", lazy=True)  # checked chunk by chunk in _project, never copied whole
    with nonfinite_first(x, "x"):
        anchors = as_matrix(anchors, "anchors", device=x.device)
        if is_product(projection):
            projections, aggregate = PRODUCT_PROJECTIONS, PRODUCT_NAMES[projection]
            prepared = [_prepare(anchors, p, center) for p in projections]
            return _product(x, prepared, projections, aggregate, chunk_size)
        return _project(x, _prepare(anchors, projection, center), projection, topk, power, chunk_size)


PRODUCT_PROJECTIONS = ("cosine", "euclidean", "l1", "linf")  # the blocks of a named product (the paper's four)

# name -> fn(block [N, K], similarity: bool) -> [N, K]: each block normalised in place (``block`` is owned).
# Metadata: combine ("concat": blocks side by side, [N, P*K]; "sum": blocks averaged, [N, K]).
AGGREGATIONS = Registry("product aggregation")


@AGGREGATIONS.register("concat", combine="concat")
def _concat_block(block: torch.Tensor, similarity: bool) -> torch.Tensor:
    """Rows L2-normalised (all-zero rows stay zero): every block weighs the same, distances lose their scale."""
    return unit_rows_or_zero(block)


@AGGREGATIONS.register("mean", combine="sum")
def _mean_block(block: torch.Tensor, similarity: bool) -> torch.Tensor:
    """Rows standardised over the K anchors (constant rows become zero), negated for distances so that larger
    means closer in every block: the blocks then share one scale and one direction and can be averaged."""
    return standardise_rows(block if similarity else block.neg_())


def standardise_rows(block: torch.Tensor) -> torch.Tensor:
    """``(r - mean(r)) / std(r)`` for each row ``r`` of ``block: [N, K]`` (population std); a row with no spread is
    all zeros. In place: ``block`` is overwritten and returned."""
    block.sub_(block.mean(1, keepdim=True))
    std = torch.sqrt((block * block).mean(1, keepdim=True))
    return block.div_(torch.where(std > 0, std, torch.ones_like(std)))


# name in PRODUCTS -> aggregation in AGGREGATIONS
PRODUCT_NAMES = {"product": "concat", "product-mean": "mean"}


def _check_aggregate(aggregate: str) -> str:
    AGGREGATIONS.get(aggregate)  # "Unknown product aggregation ...; choose from ..."
    return aggregate


def _check_product_projections(projections) -> tuple[str, ...]:
    if isinstance(projections, str):
        projections = [projections]
    projections = tuple(projections)
    if not projections:
        raise InvalidParameterError("A product of invariances needs at least one projection.")
    for projection in projections:
        if is_product(projection):
            raise InvalidParameterError(f"A product's blocks are single projections, got the product {projection!r}.")
        PROJECTION_FUNCTIONS.get(projection)
    if len(set(projections)) != len(projections):
        raise InvalidParameterError(f"A product's projections must be distinct, got {list(projections)}.")
    return projections


def _product(x: torch.Tensor, prepared: list, projections: Sequence[str], aggregate: str,
             chunk_size) -> torch.Tensor:
    """The aggregated blocks of ``x`` (lazy, as in :func:`_project`): ``[N, P*K]`` (concat) or ``[N, K]`` (sum).
    Memory: the output plus one ``[N, K]`` block."""
    normalise = AGGREGATIONS.get(aggregate)
    concat = AGGREGATIONS.meta(aggregate)["combine"] == "concat"
    out = None
    for index, (projection, prep) in enumerate(zip(projections, prepared)):
        block = normalise(_project(x, prep, projection, None, None, chunk_size), _is_similarity(projection))
        k = block.shape[1]
        if out is None:
            out = block.new_empty(block.shape[0], k * len(projections)) if concat else block
            if not concat:
                continue
        if concat:
            out[:, index * k:(index + 1) * k] = block
        else:
            out.add_(block)
    return out if concat else out.div_(len(projections))


def product_projection(
    x: ArrayLike, anchors: ArrayLike, projections: Sequence[str] = PRODUCT_PROJECTIONS, *,
    aggregate: str = "concat", center: bool = False, chunk_size: int | None = None,
) -> torch.Tensor:
    """Product of invariances: one relative block per projection, aggregated.

    Args:
        x: ``[N, D]``; anchors: ``[K, D]``.
        projections: single projections (``PROJECTIONS``), distinct.
        aggregate: ``"concat"`` (each block's rows L2-normalised, side by side) or ``"mean"`` (each block's rows
            standardised, distances negated, averaged); see :data:`AGGREGATIONS`.
        center, chunk_size: as in :func:`relative_projection` (chunking applies to each block).

    Returns:
        ``[N, K * len(projections)]`` (concat) or ``[N, K]`` (mean), float32.
    """
    projections = _check_product_projections(projections)
    aggregate = _check_aggregate(aggregate)
    x = as_matrix(x, "x", lazy=True)
    with nonfinite_first(x, "x"):
        anchors = as_matrix(anchors, "anchors", device=x.device)
        prepared = [_prepare(anchors, p, center) for p in projections]
        return _product(x, prepared, projections, aggregate, chunk_size)


def block_agreement(anchors_a: ArrayLike, anchors_b: ArrayLike, projections: Sequence[str] = PRODUCT_PROJECTIONS, *,
                    center: bool = False) -> dict[str, float]:
    """How alike the same K anchors look in two spaces through each projection: for each projection, the anchors'
    relative rows against the other anchors (``[K, K-1]``, self excluded) in A and in B, each row standardised, and
    the mean Pearson correlation of A's row with B's row. 1 when B relates to A by a transform the projection is
    invariant to (up to each row's scale and offset); near 0 when it breaks the projection.

    Uses only the anchors (the parallel data every relative method is fitted on); needs K >= 3.

    Returns:
        ``{projection: score in [-1, 1]}`` in the order of ``projections``.
    """
    projections = _check_product_projections(projections)
    anchors_a, anchors_b = as_matrix(anchors_a, "anchors_a"), as_matrix(anchors_b, "anchors_b")
    k = anchors_a.shape[0]
    if anchors_b.shape[0] != k:
        raise InvalidParameterError(f"Both spaces need the same anchors: got {k} and {anchors_b.shape[0]} rows.")
    if k < 3:
        raise InvalidParameterError(f"block_agreement needs at least 3 anchors, got {k}.")
    off_diagonal = ~torch.eye(k, dtype=torch.bool)
    scores = {}
    for projection in projections:
        rows = []
        for anchors in (anchors_a, anchors_b):
            rel = relative_projection(anchors, anchors, projection, center=center).cpu()
            rows.append(standardise_rows(rel[off_diagonal].reshape(k, k - 1).double()))
        scores[projection] = float((rows[0] * rows[1]).mean(1).mean())
    return scores


class RelativeProjection:
    """Estimator form of :func:`relative_projection`: ``fit(anchors)`` once, ``transform(x)`` many times
    (``projection`` may be a product: ``PRODUCTS``).

    Attributes (after fit):
        anchors_: ``[K, D]`` anchor embeddings.
    """

    def __init__(self, projection: str = "cosine", *, center: bool = False, topk: int | None = None,
                 power: float | None = None, chunk_size: int | None = None) -> None:
        self.projection = projection
        self.center = center
        self.topk = topk
        self.power = power
        self.chunk_size = chunk_size

    def fit(self, anchors: ArrayLike) -> RelativeProjection:
        _check_projection(self.projection)
        _check_sparsify(self.projection, self.topk, self.power)
        self.anchors_ = as_matrix(anchors, "anchors")
        if is_product(self.projection):  # validated once, reused
            self._prepared = [_prepare(self.anchors_, p, self.center) for p in PRODUCT_PROJECTIONS]
        else:
            self._prepared = _prepare(self.anchors_, self.projection, self.center)
        return self

    def transform(self, x: ArrayLike) -> torch.Tensor:
        if not hasattr(self, "anchors_"):
            raise NotFittedError("RelativeProjection is not fitted: call fit(anchors) first.")
        x = as_matrix(x, "x", lazy=True)
        with nonfinite_first(x, "x"):
            if is_product(self.projection):
                return _product(x, self._prepared, PRODUCT_PROJECTIONS, PRODUCT_NAMES[self.projection],
                                self.chunk_size)
            return _project(x, self._prepared, self.projection, self.topk, self.power, self.chunk_size)

    def fit_transform(self, anchors: ArrayLike, x: ArrayLike | None = None) -> torch.Tensor:
        """Fit on ``anchors`` and transform ``x`` (the anchors themselves when ``x`` is None)."""
        return self.fit(anchors).transform(anchors if x is None else x)
