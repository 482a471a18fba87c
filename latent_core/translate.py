"""Latent space translation (Maiorca et al., NeurIPS 2023) and inverse relative projection
(Maiorca et al., 2024): maps from a source space into a target space, estimated from parallel anchors.

Every translator follows the same recipe::

    fit(source_anchors [K, Ds], target_anchors [K, Dt]):
        scale each side with its anchor statistics      (scaling="standard" | "isotropic" | None)
        estimate the map on the scaled anchors          (zero-padding to max(Ds, Dt) where it needs squares)
    transform(x_source [N, Ds]) -> [N, Dt]:
        scale with the source statistics, map, crop to Dt, undo the target scaling

Maps, on scaled anchors S (source) and T (target), ``S @ W ~ T``:
    Procrustes          W = U V^T from the SVD of S^T T (orthogonal; both sides padded to max(Ds, Dt)).
                        With fewer anchors than dimensions only the singular directions the anchors
                        determine are kept (a partial isometry): the others would be rotated at random.
    LinearTranslator    W = argmin ||S W - T||  (least squares).
    AffineTranslator    [W; b] = argmin ||[S 1] [W; b] - T||.
    LOrthoTranslator    least squares, then the orthogonal matrix nearest to W (U V^T of its SVD).
Least squares uses the SVD of the design matrix (:func:`latent_core.linalg.ridge_solve`). Rank-deficient
anchors (fewer anchors than source dimensions, or collinear ones) do not fail: they warn and use ridge
regression with alpha = ``ridge`` * sigma_max^2 (sigma_max: the design's largest singular value).

Translators are registered in :data:`TRANSLATORS` by name (``@register_translator("name")`` on a subclass of
:class:`Translator`), with the column the stitching tables give them and whether the app's live lab offers them.
"""

from __future__ import annotations

import warnings

import torch

from latent_core.errors import InvalidParameterError, NotFittedError, ShapeMismatchError
from latent_core.linalg import match_dim, numerical_rank, polar_factor, polar_factor_of_product, ridge_solve
from latent_core.registry import Registry
from latent_core.relative import relative_projection
from latent_core.validation import (
    ArrayLike,
    all_finite,
    as_float,
    as_matrix,
    check_distinct,
    check_same_rows,
    describe,
    float32_rows,
    nonfinite_first,
    unit_rows,
)

_CHUNK_ELEMENTS = 1 << 22  # rows per transform chunk = this / max(Ds, Dt): ~16 MB per float32 intermediate
_CHUNK_ELEMENTS_GPU = 1 << 25  # on an accelerator, fewer and larger products (128 MB each): kernel launches add up

SCALINGS = ("standard", "isotropic", None)
# relative ridge strengths tried by shrinkage="cv" (alpha = value * sigma_max^2 of the design; 0 = exact solution)
SHRINKAGE_GRID = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)


class AnchorScaler:
    """Per-side normalisation fitted on anchors.

    ``standard``: subtract the per-dimension mean, divide by the per-dimension (population) std.
    ``isotropic``: subtract the mean, divide by one global scale, the RMS norm of the centred anchors.
    ``None``: identity. A zero scale (a constant dimension, or identical anchors) is replaced by 1, and a
    dimension whose anchor values are all equal is centred on that exact value (so it scales to exactly 0,
    not to rounding noise blown up to unit variance).
    """

    def __init__(self, mode: str | None = "standard") -> None:
        if not (mode is None or isinstance(mode, str)) or mode not in SCALINGS:
            raise InvalidParameterError(
                f"Unknown scaling {describe(mode)}; choose from 'standard', 'isotropic' or None."
            )
        self.mode = mode

    def fit(self, anchors: torch.Tensor) -> AnchorScaler:
        if self.mode is None:
            self.mean_ = torch.zeros(anchors.shape[1], dtype=anchors.dtype, device=anchors.device)
            self.scale_ = torch.ones_like(self.mean_)
            return self
        constant = (anchors == anchors[:1]).all(0)
        self.mean_ = torch.where(constant, anchors[0], anchors.mean(0))
        centred = anchors - self.mean_
        if self.mode == "standard":
            scale = centred.pow(2).mean(0).sqrt()
        else:
            scale = centred.pow(2).sum(1).mean().sqrt().expand(anchors.shape[1]).clone()
        informative = (scale > 0) & ~constant if self.mode == "standard" else scale > 0
        self.scale_ = torch.where(informative, scale, torch.ones_like(scale))
        return self

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean_) / self.scale_

    def inverse_transform(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.scale_ + self.mean_


def procrustes_fit(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``R`` minimising ``||source @ R - target||_F`` over orthogonal matrices (same dimension): ``U V^T`` from
    the SVD of ``S^T T``; with rank-deficient anchors, the partial isometry of
    :func:`latent_core.linalg.polar_factor` (computed by :func:`latent_core.linalg.polar_factor_of_product`)."""
    return polar_factor_of_product(source, target)


def nearest_orthogonal(matrix: torch.Tensor) -> torch.Tensor:
    """The orthogonal matrix nearest to a square ``matrix`` in Frobenius norm (``U V^T`` of its SVD); for a
    rank-deficient or non-square ``matrix``, the partial isometry of :func:`latent_core.linalg.polar_factor`."""
    return polar_factor(matrix)


def lstsq_fit(design: torch.Tensor, target: torch.Tensor, ridge: float = 1e-4, what: str = "anchors",
              shrinkage: float = 0.0) -> torch.Tensor:
    """``W`` minimising ``||design @ W - target||`` (:func:`latent_core.linalg.ridge_solve`); a RuntimeWarning
    when ``design`` is rank deficient and the ridge is used (not when a ``shrinkage`` ridge was asked for)."""
    solution, rank = ridge_solve(design, target, ridge, shrinkage)
    if rank < design.shape[1] and not shrinkage > 0:
        warnings.warn(
            f"The {what} are rank deficient (rank {rank} < {design.shape[1]} unknowns per output): using ridge "
            f"least squares (alpha = {ridge:g} * sigma_max^2). More anchors, or fewer dimensions, avoid this.",
            RuntimeWarning, stacklevel=3,
        )
    return solution


def _warn_if_degenerate(raw: torch.Tensor, scaled: torch.Tensor, scale: torch.Tensor, centred: bool) -> None:
    """A RuntimeWarning when the scaled source anchors span fewer directions than their number and dimension
    allow (collinear anchors, constant dimensions): the map is then undetermined on the missing directions.
    Fewer anchors than dimensions alone is not degenerate (see :func:`lstsq_fit` for that warning). The target
    side may be degenerate (a constant target dimension is reproduced, not guessed).

    A direction counts when its singular value is above what float32 rounding of the inputs could have made of a
    flat one: rounding moves each value by at most ``eps * |value|``, so (Weyl, with centring a projection) a
    singular value of the scaled anchors by at most ``eps * ||raw / scale||_F``. numpy's ``sigma_max * max(shape) *
    eps`` grows with the anchor count instead: at 39,553 anchors it is 4.7e-3 sigma_max, and it called a real
    direction of MPNet's sentence vectors (2.7e-3 sigma_max) degenerate."""
    distinct = int(torch.unique(raw, dim=0).shape[0])
    possible = min(distinct - int(centred), raw.shape[1])
    rounding = torch.finfo(torch.float32).eps * float(torch.linalg.matrix_norm(raw / scale))  # the inputs were float32
    rank = numerical_rank(scaled, torch.float32, tol=rounding)
    if rank < possible:
        warnings.warn(
            f"The source anchors are degenerate: they span {rank} directions where {distinct} distinct anchors in "
            f"{raw.shape[1]} dimensions could span {possible} (collinear anchors or constant dimensions). The map is "
            "undetermined on the other directions; pick more varied anchors.",
            RuntimeWarning, stacklevel=4,
        )


class Translator:
    """Base of the translators: scaling, padding and cropping; subclasses estimate the map.

    A subclass implements ``_fit_scaled(source [K, Ds], target [K, Dt])`` (scaled anchors, float64 where the
    device allows) and ``_map(source [N, Ds]) -> [N, >= Dt]`` (scaled; columns past Dt are cropped).
    """

    uses_shrinkage = True  # a least-squares map: ``shrinkage`` applies (Procrustes has no regression to shrink)

    def __init__(self, scaling: str | None = "standard", ridge: float = 1e-4,
                 shrinkage: float | str = 0.0) -> None:
        self.scaling = scaling
        self.ridge = ridge
        self.shrinkage = shrinkage

    def fit(self, source_anchors: ArrayLike, target_anchors: ArrayLike) -> Translator:
        """Estimate the map from parallel anchors ``[K, Ds]`` and ``[K, Dt]``; returns self."""
        source = as_matrix(source_anchors, "source_anchors")
        target = as_matrix(target_anchors, "target_anchors", device=source.device)
        check_same_rows(source, target, "source and target anchors")
        if source.shape[0] < 2:
            raise InvalidParameterError(f"Need at least 2 anchor pairs, got {source.shape[0]}.")
        self.ridge = as_float(self.ridge, "ridge", positive=True)
        if not (isinstance(self.shrinkage, str) and self.shrinkage == "cv"):
            self.shrinkage = as_float(self.shrinkage, "shrinkage")
            if not self.shrinkage >= 0:
                raise InvalidParameterError(f"shrinkage must be >= 0 or 'cv', got {self.shrinkage!r}.")
        check_distinct(source, "source anchors")
        check_distinct(target, "target anchors")
        dtype = torch.float32 if source.device.type == "mps" else torch.float64  # MPS has no float64
        source, target = source.to(dtype), target.to(dtype)  # fit in float64 where possible; cast back
        self.source_scaler_ = AnchorScaler(self.scaling).fit(source)
        self.target_scaler_ = AnchorScaler(self.scaling).fit(target)
        self.source_dim_, self.target_dim_ = source.shape[1], target.shape[1]
        self.width_ = max(self.source_dim_, self.target_dim_)
        scaled_source, scaled_target = self.source_scaler_.transform(source), self.target_scaler_.transform(target)
        _warn_if_degenerate(source, scaled_source, self.source_scaler_.scale_, centred=self.scaling is not None)
        self.shrinkage_ = (self._cross_validated_shrinkage(scaled_source, scaled_target)
                           if self.shrinkage == "cv" else float(self.shrinkage) if self.uses_shrinkage else 0.0)
        self._fit_scaled(scaled_source, scaled_target)
        return self

    def _cross_validated_shrinkage(self, source: torch.Tensor, target: torch.Tensor, folds: int = 5,
                                   seed: int = 0) -> float:
        """The :data:`SHRINKAGE_GRID` value whose fits on 4/5 of the (scaled) anchors translate the other fifth
        closest to their true targets: highest mean cosine in the target space, scaling undone (ties: the smaller
        value). ``shrinkage_scores_`` keeps every value's score. 0 with fewer than 10 anchors, or for a map with
        no regression (Procrustes)."""
        if not self.uses_shrinkage or source.shape[0] < 10:
            self.shrinkage_scores_ = {}
            return 0.0
        order = torch.randperm(source.shape[0], generator=torch.Generator().manual_seed(seed)).to(source.device)
        parts = order.chunk(folds)
        true = self.target_scaler_.inverse_transform(target)
        scores = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for value in SHRINKAGE_GRID:
                self.shrinkage_ = value
                total = 0.0
                for k, held in enumerate(parts):
                    kept = torch.cat([p for j, p in enumerate(parts) if j != k])
                    self._fit_scaled(source[kept], target[kept])
                    mapped = self.target_scaler_.inverse_transform(self._map(source[held])[:, : self.target_dim_])
                    total += float(torch.nn.functional.cosine_similarity(mapped, true[held], dim=1).sum())
                scores[value] = total / source.shape[0]
        self.shrinkage_scores_ = scores
        return max(SHRINKAGE_GRID, key=lambda value: (scores[value], -value))

    def _fit_scaled(self, source: torch.Tensor, target: torch.Tensor) -> None:
        raise NotImplementedError

    def _map(self, source: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _linear_form(self) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """``(W [Ds, Dt], b [Dt] or None)`` with ``_map(s)[:, :Dt] == s @ W + b`` on scaled rows; None when the map
        is not linear (the transform then scales, maps and unscales each chunk)."""
        return None

    def _folded(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """A linear map with both scalings folded in, as float32 on ``device``: ``(shift [Ds], W' [Ds, Dt],
        b' [Dt])`` with ``transform(x) = (x - shift) @ W' + b'``. Computed in float64 once per fit and device. The
        shift (the source mean rounded to float32) stays outside the product, so that a large common offset of the
        inputs cancels exactly (float32 inputs near the shift subtract without rounding) before the float32
        product, not after it; the mean's rounding error is folded into ``b'``."""
        cached = getattr(self, "_folded_cache", None)
        if cached is not None and cached[0] is self.source_scaler_ and cached[1] == device:
            return cached[2]
        form = self._linear_form()
        folded = None
        if form is not None:
            weight, bias = form
            source, target = self.source_scaler_, self.target_scaler_
            weight = weight[:, : self.target_dim_] / source.scale_[:, None] * target.scale_[None, :]
            offset = target.mean_ if bias is None else bias[: self.target_dim_] * target.scale_ + target.mean_
            # the shift in float32 is the mean rounded; the rounding (mean - shift) goes into the offset, in float64
            shift = source.mean_.to(torch.float32)
            offset = offset - (source.mean_ - shift.to(source.mean_.dtype)) @ weight
            folded = tuple(t.to(device=device, dtype=torch.float32).contiguous() for t in (shift, weight, offset))
        self._folded_cache = (self.source_scaler_, device, folded)
        return folded

    def transform(self, x_source: ArrayLike) -> torch.Tensor:
        """Translate ``[N, Ds]`` source embeddings into the target space: ``[N, Dt]`` float32.

        Row chunks are checked and mapped one at a time straight into the preallocated output, so memory stays at
        the output plus one chunk's intermediates and the input is never copied whole. A linear map (every
        translator but inverse relative projection) runs as one float32 ``addmm`` per chunk, with the scalings
        folded into its weight and bias (:meth:`_folded`); the others scale, map in float64 and unscale."""
        if not hasattr(self, "source_scaler_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(source_anchors, target_anchors).")
        x = as_matrix(x_source, "x_source", lazy=True)
        with nonfinite_first(x, "x_source"):
            if x.shape[1] != self.source_dim_:
                raise ShapeMismatchError(f"x_source has dimension {x.shape[1]}, the translator was fitted on "
                                         f"{self.source_dim_}.")
            mean = self.source_scaler_.mean_
            out = torch.empty(x.shape[0], self.target_dim_, dtype=torch.float32, device=x.device)
            folded = self._folded(mean.device)
            per_chunk = _CHUNK_ELEMENTS if mean.device.type == "cpu" else _CHUNK_ELEMENTS_GPU
            step = max(1, per_chunk // self.width_)
            if folded is not None:
                shift, weight, offset = folded
                buffer = torch.empty(min(step, x.shape[0]), self.source_dim_, dtype=torch.float32,
                                     device=mean.device)
            for start in range(0, x.shape[0], step):
                if folded is None:
                    rows = float32_rows(x, start, start + step, "x_source")  # float32 first, as the fit's inputs
                    scaled = self.source_scaler_.transform(rows.to(device=mean.device, dtype=mean.dtype))
                    mapped = self._map(scaled)[:, : self.target_dim_]
                    out[start : start + step] = self.target_scaler_.inverse_transform(mapped)
                    continue
                # checked through the output: a NaN or infinite input value makes its whole output row non-finite
                # (NaN * 0 and inf * 0 are NaN), so one finiteness pass over the output chunk replaces a pass over
                # the input; only then is the input chunk checked, for the precise error
                rows = float32_rows(x, start, start + step, "x_source", check=False)
                centred = torch.sub(rows.to(mean.device), shift, out=buffer[: rows.shape[0]])
                block = out[start : start + step]
                if out.device == mean.device:
                    torch.addmm(offset, centred, weight, out=block)
                else:
                    block.copy_(torch.addmm(offset, centred, weight))
                if not all_finite(block):
                    float32_rows(x, start, start + step, "x_source")  # raises for a non-finite input value
            return out

    def fit_transform(self, source_anchors: ArrayLike, target_anchors: ArrayLike,
                      x_source: ArrayLike | None = None) -> torch.Tensor:
        self.fit(source_anchors, target_anchors)
        return self.transform(source_anchors if x_source is None else x_source)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scaling={self.scaling!r})"


TRANSLATORS = Registry("translator")


def register_translator(name: str, *, column: str | None = None, live: bool = True):
    """Class decorator adding a :class:`Translator` subclass to :data:`TRANSLATORS` under ``name``.

    Args:
        column: its column in the stitching tables (``latent_core.experiments.report``); default ``name``.
        live: offered by the app's live stitching lab (fast enough to refit on every change).

    Raises:
        InvalidParameterError: ``name`` is taken, or the object is not a Translator subclass.
    """
    register = TRANSLATORS.register(name, column=column or name, live=live)

    def decorator(cls: type[Translator]) -> type[Translator]:
        if not (isinstance(cls, type) and issubclass(cls, Translator)):
            raise InvalidParameterError(f"register_translator({name!r}) needs a Translator subclass, got {cls!r}.")
        return register(cls)

    return decorator


@register_translator("procrustes", column="ortho")
class Procrustes(Translator):
    """Orthogonal Procrustes: the rotation/reflection that best maps the scaled source anchors onto the
    target's. Attributes after fit: ``rotation_`` ``[D, D]`` with D = max(Ds, Dt)."""

    uses_shrinkage = False

    def _fit_scaled(self, source, target):
        self.rotation_ = procrustes_fit(match_dim(source, self.width_), match_dim(target, self.width_))

    def _map(self, source):  # = match_dim(source, width) @ rotation_, cropped: the padded rows multiply zeros
        return source @ self.rotation_[: source.shape[1], : self.target_dim_]

    def _linear_form(self):
        return self.rotation_[: self.source_dim_, : self.target_dim_], None

    def fit_coupling(self, source: ArrayLike, target: ArrayLike, coupling: ArrayLike) -> Procrustes:
        """Fit on a soft correspondence instead of pairs: ``coupling [N, M]`` (non-negative weights, e.g. an
        optimal-transport plan) between every source row ``[N, Ds]`` and target row ``[M, Dt]``.

        Each side is scaled with its own statistics (all its rows), and the rotation maximises
        ``sum_ij P_ij <R^T s_i, t_j>``: the polar factor of ``S^T P T`` (Procrustes-Wasserstein). With a
        permutation as ``coupling`` this is the Procrustes fit on the pairs it names, up to the scaling."""
        source = as_matrix(source, "source")
        target = as_matrix(target, "target", device=source.device)
        weights = as_matrix(coupling, "coupling", device=source.device)
        if tuple(weights.shape) != (source.shape[0], target.shape[0]):
            raise ShapeMismatchError(f"coupling must be [{source.shape[0]}, {target.shape[0]}] (source rows x "
                                     f"target rows), got {list(weights.shape)}.")
        if (weights < 0).any() or not weights.sum() > 0:
            raise InvalidParameterError("coupling must be non-negative with a positive total.")
        dtype = torch.float32 if source.device.type == "mps" else torch.float64
        source, target, weights = source.to(dtype), target.to(dtype), weights.to(dtype)
        self.source_scaler_ = AnchorScaler(self.scaling).fit(source)
        self.target_scaler_ = AnchorScaler(self.scaling).fit(target)
        self.source_dim_, self.target_dim_ = source.shape[1], target.shape[1]
        self.width_ = max(self.source_dim_, self.target_dim_)
        scaled_source = match_dim(self.source_scaler_.transform(source), self.width_)
        scaled_target = match_dim(self.target_scaler_.transform(target), self.width_)
        self.rotation_ = polar_factor(scaled_source.T @ (weights / weights.sum()) @ scaled_target)
        return self


@register_translator("linear")
class LinearTranslator(Translator):
    """Least-squares linear map. Attributes after fit: ``weight_`` ``[Ds, Dt]``."""

    def _fit_scaled(self, source, target):
        self.weight_ = lstsq_fit(source, target, self.ridge, shrinkage=self.shrinkage_)

    def _map(self, source):
        return source @ self.weight_

    def _linear_form(self):
        return self.weight_, None


@register_translator("affine", live=False)
class AffineTranslator(Translator):
    """Least-squares affine map. Attributes after fit: ``weight_`` ``[Ds, Dt]``, ``bias_`` ``[Dt]``."""

    def _fit_scaled(self, source, target):
        design = torch.cat([source, torch.ones_like(source[:, :1])], dim=1)
        solution = lstsq_fit(design, target, self.ridge, shrinkage=self.shrinkage_)
        self.weight_, self.bias_ = solution[:-1], solution[-1]

    def _map(self, source):
        return source @ self.weight_ + self.bias_

    def _linear_form(self):
        return self.weight_, self.bias_


@register_translator("lortho", column="l-ortho", live=False)
class LOrthoTranslator(Translator):
    """Least squares, then the nearest orthogonal matrix. Attributes after fit: ``rotation_`` ``[D, D]``."""

    def _fit_scaled(self, source, target):
        weight = lstsq_fit(source, target, self.ridge, shrinkage=self.shrinkage_)  # [Ds, Dt]
        # the nearest orthogonal matrix to the zero-padded [D, D] square: the polar factor of the weight itself,
        # padded (the square's SVD is the weight's plus zeros, with the same rank threshold, max(Ds, Dt) = D),
        # at the cost of an SVD of [Ds, Dt] instead of [D, D]
        self.rotation_ = torch.zeros(self.width_, self.width_, dtype=weight.dtype, device=weight.device)
        self.rotation_[: weight.shape[0], : weight.shape[1]] = nearest_orthogonal(weight)

    def _map(self, source):  # = match_dim(source, width) @ rotation_, cropped: the padded rows multiply zeros
        return source @ self.rotation_[: source.shape[1], : self.target_dim_]

    def _linear_form(self):
        return self.rotation_[: self.source_dim_, : self.target_dim_], None


@register_translator("inverse_relative", column="inverse-relative")
class InverseRelativeProjection(Translator):
    """Translate through the relative space (Maiorca et al., 2024).

    ``r = cos-rel(x, source anchors)`` (after source scaling); then the target vector ``x_hat`` whose cosines
    to the (unit-normalised, scaled) target anchors ``A`` are ``r``: ``x_hat = argmin ||A x_hat - r||``;
    then ``x_hat`` is rescaled to the mean norm of the scaled target anchors and the target scaling undone.

    With K >= Dt anchors in general position the system is (over)determined and solved exactly by least
    squares. With fewer anchors it is underdetermined: we take the ridge solution with
    alpha = ``ridge`` * sigma_max(A)^2, which stays in the span of the target anchors (close to the
    minimum-norm solution); both by :func:`latent_core.linalg.ridge_solve`, without a warning. Downstream
    heads are assumed scale-invariant, as in the paper.

    Attributes after fit: ``source_anchors_`` ``[K, Ds]`` and ``target_anchors_`` ``[K, Dt]`` (scaled),
    ``decoder_`` ``[K, Dt]`` (``r @ decoder_`` solves the system), ``target_norm_``.
    """

    def _fit_scaled(self, source, target):
        self.source_anchors_ = source
        self.target_anchors_ = target
        unit = unit_rows(target, "target anchors")  # [K, Dt]
        identity = torch.eye(unit.shape[0], dtype=unit.dtype, device=unit.device)
        # x_hat = solve(unit, r)  =>  r @ decoder_
        self.decoder_ = ridge_solve(unit, identity, self.ridge, self.shrinkage_)[0].T
        self.target_norm_ = torch.linalg.vector_norm(target, dim=1).mean()

    def _map(self, source):
        rel = relative_projection(source.float(), self.source_anchors_.float(), "cosine").to(source.dtype)
        decoded = rel @ self.decoder_
        norms = torch.linalg.vector_norm(decoded, dim=1, keepdim=True).clamp_min(torch.finfo(decoded.dtype).tiny)
        return decoded / norms * self.target_norm_


def get_translator(name: str, **kwargs) -> Translator:
    """A new, unfitted translator by name (one of :data:`TRANSLATORS`: ``procrustes``, ``linear``, ``affine``,
    ``lortho``, ``inverse_relative`` and any registered since); keyword arguments (``scaling=``, ``ridge=``) go
    to its constructor."""
    return TRANSLATORS.get(name)(**kwargs)
