"""Alignment against the number of samples: each metric on seeded random subsamples of a log-spaced ladder of sizes.

k-NN alignment is not a constant of two encoders: with more samples the neighbourhoods get finer and mutual k-NN
falls (Koepke et al., 2026). This module measures how far.

Example:
    >>> frame = alignment_vs_n(a, b, ["mutual k-NN", "linear CKA"])      # size, seed, metric, value
    >>> summarise(frame)                                                 # metric, size, mean, low, high
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from latent_core.errors import InvalidParameterError
from latent_core.explore import METRICS
from latent_core.metrics import shared_neighbours
from latent_core.validation import ArrayLike, as_int, as_matrix, check_same_rows

DEFAULT_METRICS = ("mutual k-NN", "Jaccard@k", "linear CKA")  # a few seconds at 2,225 samples; add "CKNNA" at will
MIN_SIZE = 64


def size_ladder(n: int, *, start: int = MIN_SIZE, k: int = 0) -> list[int]:
    """Sizes ``start, 2 start, 4 start, ...`` below ``n``, then ``n`` itself; only sizes larger than ``k + 1`` (a
    k-NN metric needs ``k < size``). ``[n]`` alone when ``n <= start``."""
    n, start, k = as_int(n, "n", minimum=1), as_int(start, "start", minimum=2), as_int(k, "k", minimum=0)
    sizes = []
    size = start
    while size < n:
        sizes.append(size)
        size *= 2
    return [s for s in [*sizes, n] if s > k + 1]


def _functions(metrics: Sequence[str] | Mapping[str, Callable]) -> dict[str, Callable]:
    if isinstance(metrics, Mapping):
        return dict(metrics)
    if isinstance(metrics, str):
        metrics = [metrics]
    functions = {name: METRICS.get(name) for name in metrics}  # an unknown name is an UnknownNameError
    if not functions:
        raise InvalidParameterError("Choose at least one metric.")
    return functions


def alignment_vs_n(x: ArrayLike, y: ArrayLike, metrics: Sequence[str] | Mapping[str, Callable] = DEFAULT_METRICS,
                   *, sizes: Iterable[int] | None = None, seeds: Iterable[int] = (0, 1, 2),
                   k: int = 10) -> pd.DataFrame:
    """Each metric on random subsamples of ``x: [N, D1]`` and ``y: [N, D2]`` (the same rows on both sides).

    Args:
        metrics: names of :data:`latent_core.explore.METRICS`, or name -> ``fn(x, y, k) -> float``.
        sizes: subsample sizes (each in ``(k + 1, N]``); default :func:`size_ladder`.
        seeds: one subsample per size and seed, drawn without replacement by ``numpy.random.default_rng(seed)``.
            At the full size every seed draws every row, so the metric is computed once and repeated per seed.
        k: neighbours for the k-NN metrics, the same at every size.

    Returns:
        A tidy frame, one row per (size, seed, metric): ``size``, ``seed``, ``metric``, ``value``.

    Raises:
        ShapeMismatchError: different row counts. InvalidParameterError: a size outside ``(k + 1, N]``, no seeds,
        no metrics; UnknownNameError: a metric name that is not registered.
    """
    x, y = as_matrix(x, "x"), as_matrix(y, "y")
    check_same_rows(x, y, "x and y")
    n, k = x.shape[0], as_int(k, "k", minimum=1)
    functions = _functions(metrics)
    sizes = size_ladder(n, k=k) if sizes is None else sorted({as_int(s, "size", minimum=1) for s in sizes})
    bad = [s for s in sizes if not k + 1 < s <= n]
    if bad or not sizes:
        raise InvalidParameterError(f"Sizes must lie in ({k + 1}, {n}] (more samples than k + 1), got {bad or sizes}.")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise InvalidParameterError("Give at least one seed.")
    x_np, y_np = x.cpu().numpy(), y.cpu().numpy()
    rows = []
    for size in sizes:
        full = None
        for seed in seeds:
            if size == n and full is not None:
                rows.extend({**row, "seed": seed} for row in full)
                continue
            index = np.arange(n) if size == n else np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
            xs, ys = x_np[index], y_np[index]
            with shared_neighbours():  # the k-NN metrics share one neighbour pass per side
                found = [{"size": size, "seed": seed, "metric": name, "value": float(function(xs, ys, k))}
                         for name, function in functions.items()]
            rows.extend(found)
            if size == n:
                full = found
    return pd.DataFrame(rows, columns=["size", "seed", "metric", "value"])


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Per metric and size over the seeds of :func:`alignment_vs_n`: ``metric``, ``size``, ``mean``, ``low`` (the
    smallest), ``high`` (the largest), ``seeds`` (how many)."""
    grouped = frame.groupby(["metric", "size"], sort=False)["value"]
    out = grouped.agg(mean="mean", low="min", high="max", seeds="count").reset_index()
    order = {name: i for i, name in enumerate(dict.fromkeys(frame["metric"]))}
    return out.sort_values(["metric", "size"], key=lambda c: c.map(order) if c.name == "metric" else c,
                           ignore_index=True)
