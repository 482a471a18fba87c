"""Few and zero anchors, measured: how far a few known pairs (bootstrap) or none at all (unsupervised alignment)
get two encoders' spaces, against true parallel anchors and against no stitching at all.

Protocol (per seed, the same index sets for both directions):

- A stratified test set of ``test_size`` samples that the matching never sees; the rest is the *pool*.
- A is the target side: its head (``latent_core.heads``) is trained on A's pool samples with their labels. B is the
  source side. Stitched accuracy = A's head on ``correspondence.translator.transform(B[test])``.
- ``sides="same"``: source = B[pool] and target = A[pool], each in its own seeded random order that the
  algorithm is not told (the truth is kept to score the pairs). ``sides="different"``: the pool minus
  ``n_seed_pairs`` set-aside samples is split into two disjoint halves, source = B[half 1], target = A[half 2];
  no sample has a counterpart on the other side. In bootstrap mode the ``n_seed_pairs`` known pairs are samples
  present on both sides (in "same", drawn from the pool; in "different", the set-aside samples added to both).
- ``mode="bootstrap"``: :func:`latent_core.correspondence.bootstrap_anchors` from the known pairs;
  ``mode="unsupervised"``: :func:`latent_core.correspondence.align_unpaired`, no pairs at all.
- Baselines on the same split and head: no-stitch (A's head on A[test]) and ``true_anchors`` true parallel anchors
  (drawn at random from the pool, the anchors :func:`latent_core.stitching.split_indices` sets aside) with
  Procrustes.
- "Both directions": the run is repeated with the two spaces swapped (``direction`` "forward": head on
  ``space_a``, ``space_b`` stitched; "reverse": head on ``space_b``, ``space_a`` stitched).

The vec2vec retrieval metrics (top-1, mean rank, mean cosine of translated B[test] against A[test]) need the test
samples' true counterparts, which exist in both settings (the test samples are the same samples on both sides),
so they are reported for every row; ``exact`` (the fraction of pairs joining a sample to itself) only means
something when the two sides hold the same samples and is nan for ``sides="different"``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from latent_core.errors import InvalidParameterError, ShapeMismatchError
from latent_core.heads import make_head
from latent_core.metrics import matching_quality, retrieval_scores
from latent_core.stitching import chance_rate, split_indices
from latent_core.translate import get_translator
from latent_core.validation import ArrayLike, as_int, as_matrix, check_same_rows, describe

MODES = ("bootstrap", "unsupervised")
SIDES = ("same", "different")
DIRECTIONS = ("forward", "reverse")
METRICS = ("accuracy", "ratio_true", "ratio_no_stitch", "exact", "purity", "top1", "mean_rank", "mean_cosine",
           "n_pairs", "seconds")
"""The per-run numbers :func:`summarize` averages (with ``no_stitch`` and ``true_accuracy``, the baselines)."""


@dataclass(frozen=True)
class Setting:
    """What one alignment is given: dataset rows on each side (in the order shown to the algorithm) and, in
    bootstrap mode, the known pairs as (source position, target position)."""

    sides: str
    mode: str
    source_rows: np.ndarray
    target_rows: np.ndarray
    seed_pairs: np.ndarray | None


def _positions(rows: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Where each of ``wanted`` sits in ``rows`` (every one is there)."""
    order = np.argsort(rows)
    return order[np.searchsorted(rows, wanted, sorter=order)]


def plan_settings(pool: np.ndarray, *, modes: Sequence[str], sides: Sequence[str], n_seed_pairs: int,
                  seed: int) -> list[Setting]:
    """The inputs of every (sides, mode) alignment of one seed, drawn from the pool rows only (seeded)."""
    rng = np.random.default_rng([seed, 12])
    pool = np.asarray(pool)
    settings = []
    for side in sides:
        if side == "same":
            source_rows, target_rows = rng.permutation(pool), rng.permutation(pool)
            known = rng.choice(pool, size=n_seed_pairs, replace=False)
        else:
            shuffled = rng.permutation(pool)
            known, rest = shuffled[:n_seed_pairs], shuffled[n_seed_pairs:]
            half = len(rest) // 2
            halves = rest[:half], rest[half:2 * half]
        for mode in modes:
            if side == "different":
                extra = known if mode == "bootstrap" else known[:0]
                source_rows = rng.permutation(np.concatenate([halves[0], extra]))
                target_rows = rng.permutation(np.concatenate([halves[1], extra]))
            seed_pairs = None
            if mode == "bootstrap":
                seed_pairs = np.stack([_positions(source_rows, known), _positions(target_rows, known)], 1)
                seed_pairs = seed_pairs.astype(np.int64)
            settings.append(Setting(side, mode, source_rows, target_rows, seed_pairs))
    return settings


def _choices(values, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    values = (values,) if isinstance(values, str) else tuple(values)
    if not values or any(not isinstance(v, str) or v not in allowed for v in values):
        raise InvalidParameterError(f"{what} must be a non-empty list of {', '.join(map(repr, allowed))}, "
                                    f"got {describe(values)}.")
    return tuple(dict.fromkeys(values))


def _info(info) -> str:
    """The correspondence's ``info`` as JSON (numbers and strings only)."""
    def plain(value):
        if isinstance(value, np.generic) or (torch.is_tensor(value) and value.numel() == 1):
            return value.item()
        return value if isinstance(value, str | int | float | bool) or value is None else repr(value)

    return json.dumps({str(k): plain(v) for k, v in dict(info or {}).items()}, sort_keys=True)


def _align(setting: Setting, source: torch.Tensor, target: torch.Tensor, seed: int, bootstrap_kwargs: dict,
           unpaired_kwargs: dict):
    from latent_core import correspondence  # POT and scipy load on first use

    if setting.mode == "bootstrap":
        return correspondence.bootstrap_anchors(source, target, setting.seed_pairs, seed=seed, **bootstrap_kwargs)
    return correspondence.align_unpaired(source, target, seed=seed, **unpaired_kwargs)


def _accuracy(head, x: torch.Tensor, y: np.ndarray) -> float:
    return float((head.predict(x.numpy()) == y).mean())


def alignment_benchmark(space_a: ArrayLike, space_b: ArrayLike, labels: ArrayLike, *,
                        modes: Sequence[str] = MODES, sides: Sequence[str] = SIDES, n_seed_pairs: int = 10,
                        test_size: int | float = 900, true_anchors: int = 300, seeds: Sequence[int] = (0, 1, 2),
                        head: str = "logreg", bootstrap_kwargs: dict | None = None,
                        unpaired_kwargs: dict | None = None,
                        progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Bootstrap and unsupervised alignment of two spaces of the same N samples, scored by stitching (see the
    module docstring for the protocol).

    Args:
        space_a, space_b: ``[N, Da]`` and ``[N, Db]`` embeddings of the same samples (row i = sample i).
        labels: ``[N]`` class labels.
        modes: of ``"bootstrap"`` (``n_seed_pairs`` known pairs) and ``"unsupervised"`` (none).
        sides: of ``"same"`` (both sides hold the pool, order hidden) and ``"different"`` (disjoint halves).
        true_anchors: the size of the true-anchor Procrustes baseline.
        bootstrap_kwargs, unpaired_kwargs: passed on to ``bootstrap_anchors`` / ``align_unpaired``.
        progress: ``progress(done, total)`` after each alignment.

    Returns:
        One row per (seed, direction, sides, mode): ``accuracy`` (stitched), ``no_stitch``, ``true_accuracy``
        (``true_anchors`` true pairs, Procrustes), ``ratio_true`` and ``ratio_no_stitch`` (accuracy over each),
        ``exact``, ``purity``, ``n_pairs`` (:func:`latent_core.metrics.matching_quality`), ``top1``,
        ``mean_rank``, ``mean_cosine`` (:func:`latent_core.metrics.retrieval_scores` on the test set) and the
        baseline's ``true_top1`` / ``true_mean_rank`` / ``true_mean_cosine``, ``seconds`` (the alignment
        call), the correspondence's ``method``, ``matching`` and ``details`` (its ``info`` as JSON), and the sizes.
    """
    a = as_matrix(space_a, "space_a").cpu().float()
    b = as_matrix(space_b, "space_b").cpu().float()
    check_same_rows(a, b, "space_a and space_b")
    y = labels.detach().cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
    if y.ndim != 1 or len(y) != a.shape[0]:
        raise ShapeMismatchError(f"labels must have one entry per sample ({a.shape[0]}), got shape {y.shape}.")
    modes, sides = _choices(modes, MODES, "modes"), _choices(sides, SIDES, "sides")
    n_seed_pairs = as_int(n_seed_pairs, "n_seed_pairs", minimum=3)
    true_anchors = as_int(true_anchors, "true_anchors", minimum=2)
    seeds = [as_int(seed, "seed", minimum=0) for seed in seeds]
    if not seeds:
        raise InvalidParameterError("seeds must hold at least one seed.")
    bootstrap_kwargs, unpaired_kwargs = dict(bootstrap_kwargs or {}), dict(unpaired_kwargs or {})
    total, done, rows = len(seeds) * len(DIRECTIONS) * len(modes) * len(sides), 0, []
    for seed in seeds:
        anchors, train, test = split_indices(y, n_anchors=true_anchors, test_size=test_size, seed=seed)
        pool = np.sort(np.concatenate([anchors, train]))
        if n_seed_pairs * 3 > len(pool):
            raise InvalidParameterError(f"The pool beside the test set holds {len(pool)} samples: too few for "
                                        f"{n_seed_pairs} known pairs and two halves.")
        settings = plan_settings(pool, modes=modes, sides=sides, n_seed_pairs=n_seed_pairs, seed=seed)
        y_test = y[test]
        for direction in DIRECTIONS:
            target_space, source_space = (a, b) if direction == "forward" else (b, a)
            classifier = make_head(head, seed).fit(target_space[pool].numpy(), y[pool])
            no_stitch = _accuracy(classifier, target_space[test], y_test)
            baseline = get_translator("procrustes").fit(source_space[anchors], target_space[anchors])
            baseline_test = baseline.transform(source_space[test])
            true_accuracy = _accuracy(classifier, baseline_test, y_test)
            true_retrieval = retrieval_scores(baseline_test, target_space[test])
            common = {"seed": seed, "direction": direction, "no_stitch": no_stitch, "true_accuracy": true_accuracy,
                      **{f"true_{k}": v for k, v in true_retrieval.items()}, "n_pool": len(pool),
                      "n_test": len(test), "n_true_anchors": len(anchors), "chance": chance_rate(y[pool])}
            for setting in settings:
                source, target = source_space[setting.source_rows], target_space[setting.target_rows]
                start = time.perf_counter()
                found = _align(setting, source, target, seed, bootstrap_kwargs, unpaired_kwargs)
                seconds = time.perf_counter() - start
                translated = found.translator.transform(source_space[test])
                accuracy = _accuracy(classifier, translated, y_test)
                pairs = np.asarray(found.pairs, dtype=np.int64).reshape(-1, 2)
                quality = matching_quality(pairs, setting.source_rows, setting.target_rows,
                                           y[setting.source_rows], y[setting.target_rows])
                rows.append({
                    **common, "sides": setting.sides, "mode": setting.mode, "method": found.method,
                    "matching": found.matching, "accuracy": accuracy,
                    "ratio_true": accuracy / true_accuracy if true_accuracy else float("nan"),
                    "ratio_no_stitch": accuracy / no_stitch if no_stitch else float("nan"),
                    "exact": quality["exact"] if setting.sides == "same" else float("nan"),
                    "purity": quality["purity"], "n_pairs": quality["n_pairs"],
                    **retrieval_scores(translated, target_space[test]), "seconds": seconds,
                    "n_source": len(setting.source_rows), "n_target": len(setting.target_rows),
                    "n_seed_pairs": 0 if setting.seed_pairs is None else len(setting.seed_pairs),
                    "details": _info(found.info),
                })
                done += 1
                if progress is not None:
                    progress(done, total)
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame, by: Sequence[str] = ("sides", "mode")) -> pd.DataFrame:
    """Means over seeds and directions per ``by`` group (order of first appearance kept), with ``runs`` (how many
    rows) and ``min_ratio_true`` / ``min_ratio_no_stitch`` (the worst seed and direction)."""
    columns = [c for c in (*METRICS, "no_stitch", "true_accuracy", "true_top1", "true_mean_rank",
                           "true_mean_cosine") if c in results]
    grouped = results.groupby(list(by), sort=False)
    summary = grouped[columns].mean()
    summary["min_ratio_true"] = grouped.ratio_true.min()
    summary["min_ratio_no_stitch"] = grouped.ratio_no_stitch.min()
    summary["runs"] = grouped.size()
    return summary.reset_index()
