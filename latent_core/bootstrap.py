"""Confidence intervals for metrics that compare two spaces of the same N samples, by resampling SAMPLES (a row of
both spaces together).

Three ways, because what a resample means differs between metrics:

- ``"scores"`` (:func:`bootstrap_mean_ci`): the metric is the mean of per-sample scores computed once on all N
  samples (mutual k-NN, Jaccard@k, MRR, top-1, mean rank, paired cosine: each sample's neighbours and retrieval
  candidates are the full set). The percentile bootstrap of that mean: draw N samples with replacement, average
  their scores. No metric is recomputed, so a resampled duplicate can never become its own neighbour. The interval
  is about which samples were measured, with the neighbour sets held fixed.
- ``"rows"``: the classic percentile bootstrap of a whole metric: draw N rows with replacement and recompute. Fine
  for metrics that treat a duplicated row as a weight (linear CKA, SVCCA); wrong for neighbourhood and unbiased
  kernel metrics, where a duplicate is a perfect neighbour of its copy and pairs ``i != j`` are assumed distinct.
- ``"subsample"``: draw ``m`` distinct rows (``m = N // 2``, at most ``max_samples``) without replacement and
  recompute, the subsampling interval (Politis & Romano, 1994) for any metric, duplicates impossible. The
  deviations of the replicates from their own mean are scaled by ``sqrt(m / (N - m))``, the ratio of the standard
  error of a mean of N samples to that of a mean of m distinct samples out of N (it is 1 for half-samples), and
  added to the full-sample value: the interval keeps the spread of an estimate at N and does not inherit the
  drift of metrics that change with N (k-NN metrics fall as N grows, see :mod:`latent_core.scaling`).

Random draws come from ``numpy.random.default_rng(seed)``: ``"rows"`` and ``"scores"`` draw
``rng.integers(0, N, size=(n_boot, N))`` at once, so the same seed gives the same resamples in both; percentiles
are ``numpy.percentile``'s (linear interpolation).

Example:
    >>> bootstrap_ci(lambda x, y: linear_cka(x, y), a, b, method="subsample", n_boot=100, max_samples=500)
    Interval(value=0.74, low=0.72, high=0.76, n_boot=100, level=0.95, method='subsample', n_resampled=500)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from latent_core.errors import InvalidParameterError, NonFiniteError, ShapeMismatchError
from latent_core.validation import ArrayLike, as_int

METHODS = ("scores", "rows", "subsample")


@dataclass(frozen=True)
class Interval:
    """A metric's value on all samples and its bootstrap confidence interval ``[low, high]`` at ``level``.

    ``n_resampled`` is the number of samples in each resample (N, or m for ``"subsample"``)."""

    value: float
    low: float
    high: float
    n_boot: int
    level: float
    method: str
    n_resampled: int

    @property
    def width(self) -> float:
        return self.high - self.low

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _check_level(level: float) -> float:
    try:
        level = float(level)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"level must be a number in (0, 1), got {level!r}.") from None
    if not 0 < level < 1:
        raise InvalidParameterError(f"level must be in (0, 1) (e.g. 0.95), got {level}.")
    return level


def _percentiles(replicates: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def _finite(value, what: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise NonFiniteError(f"{what} is not finite ({value}): no interval can be drawn around it.")
    return value


def _as_numpy(x: ArrayLike, name: str) -> np.ndarray:
    if torch.is_tensor(x):
        x = x.detach().cpu().numpy()
    array = np.asarray(x)
    if array.ndim != 2:
        raise ShapeMismatchError(f"{name} must be a matrix [N, D], got shape {array.shape}.")
    return array


def bootstrap_mean_ci(scores: ArrayLike, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> Interval:
    """Percentile bootstrap interval of the mean of per-sample ``scores: [N]`` (method ``"scores"``).

    Raises:
        InvalidParameterError: ``n_boot < 1``, ``level`` outside (0, 1), or no scores.
        ShapeMismatchError: ``scores`` not 1-D.
        NonFiniteError: a score is NaN or infinite.
    """
    if torch.is_tensor(scores):
        scores = scores.detach().cpu().numpy()
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ShapeMismatchError(f"scores must be 1-D (one per sample), got shape {scores.shape}.")
    if scores.size == 0:
        raise InvalidParameterError("A bootstrap needs at least 1 sample, got 0.")
    if not np.isfinite(scores).all():
        raise NonFiniteError("The per-sample scores contain NaN or infinite values.")
    n_boot, level = as_int(n_boot, "n_boot", minimum=1), _check_level(level)
    n = scores.size
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    low, high = _percentiles(scores[draws].mean(1), level)
    return Interval(float(scores.mean()), low, high, n_boot, level, "scores", n)


def bootstrap_ci(metric: Callable[[np.ndarray, np.ndarray], float], x: ArrayLike, y: ArrayLike, *,
                 n_boot: int = 200, level: float = 0.95, seed: int = 0, method: str = "rows",
                 max_samples: int | None = None, value: float | None = None) -> Interval:
    """The metric on all samples and its bootstrap interval over samples.

    Args:
        metric: ``f(x [n, D1], y [n, D2]) -> float`` on numpy rows (for ``method="scores"``: ``-> [n]`` per-sample
            scores, whose mean is the metric).
        x, y: ``[N, D1]``, ``[N, D2]`` the same N samples in two spaces.
        n_boot: number of resamples.
        level: the interval's coverage, e.g. 0.95.
        seed: seeds ``numpy.random.default_rng``.
        method: ``"rows"``, ``"subsample"`` or ``"scores"`` (see the module's docstring for which fits which metric).
        max_samples: ``"subsample"`` only: at most this many rows per resample (bounds the cost of kernel metrics).
        value: the metric on all samples when the caller already has it (saves one evaluation).

    Raises:
        ShapeMismatchError: ``x``/``y`` not matrices, or different row counts.
        InvalidParameterError: an unknown method, ``n_boot < 1``, ``level`` outside (0, 1), too few samples to
            resample, ``max_samples`` with a method that does not use it.
        NonFiniteError: the metric is NaN or infinite on all samples or on a resample.
    """
    if method not in METHODS:
        raise InvalidParameterError(f"Unknown bootstrap method {method!r}; choose one of {', '.join(METHODS)}.")
    x, y = _as_numpy(x, "x"), _as_numpy(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ShapeMismatchError(f"x and y must hold the same samples: {x.shape[0]} rows vs {y.shape[0]}.")
    if max_samples is not None and method != "subsample":
        raise InvalidParameterError(f"max_samples applies to method='subsample' only, not {method!r}.")
    n_boot, level = as_int(n_boot, "n_boot", minimum=1), _check_level(level)
    if method == "scores":
        return bootstrap_mean_ci(metric(x, y), n_boot=n_boot, level=level, seed=seed)
    n = x.shape[0]
    value = _finite(metric(x, y) if value is None else value, "The metric on all samples")
    rng = np.random.default_rng(seed)
    if method == "rows":
        if n < 2:
            raise InvalidParameterError(f"A bootstrap needs at least 2 samples, got {n}.")
        draws = rng.integers(0, n, size=(n_boot, n))
        replicates = np.array([_finite(metric(x[d], y[d]), "The metric on a resample") for d in draws])
        low, high = _percentiles(replicates, level)
        return Interval(value, low, high, n_boot, level, method, n)
    m = n // 2 if max_samples is None else min(n // 2, as_int(max_samples, "max_samples", minimum=2))
    if m < 2:
        raise InvalidParameterError(f"Subsampling needs at least 4 samples (half of them per resample), got {n}.")
    replicates = np.array([_finite(metric(x[d], y[d]), "The metric on a subsample")
                           for d in (np.sort(rng.choice(n, m, replace=False)) for _ in range(n_boot))])
    scale = math.sqrt(m / (n - m))
    low, high = _percentiles(replicates - replicates.mean(), level)
    return Interval(value, value + scale * low, value + scale * high, n_boot, level, method, m)
