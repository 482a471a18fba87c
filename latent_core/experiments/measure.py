"""``measure``: every registered metric between two encoders on one dataset, with bootstrap intervals, and
optionally alignment against the number of samples.

``python -m latent_core.experiments measure --a st:sentence-transformers/all-MiniLM-L6-v2
--b st:sentence-transformers/all-mpnet-base-v2 --dataset bbc --boot 200 --ladder --out results/measure``
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from latent_core.anchors import select_anchors
from latent_core.data import load_dataset
from latent_core.errors import ConfigError
from latent_core.explore import compute_views, kernel_note, metric_intervals, pairs
from latent_core.scaling import DEFAULT_METRICS, alignment_vs_n, summarise

BOOT_SAMPLES = 1000  # rows per subsample when a metric is recomputed (the kernel CKAs build m x m kernels)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--a", required=True, help="encoder spec of space A")
    parser.add_argument("--b", required=True, help="encoder spec of space B")
    parser.add_argument("--dataset", required=True, help="dataset spec, e.g. bbc")
    parser.add_argument("--n", type=int, default=None, help="a stratified subsample of N samples (default: all)")
    parser.add_argument("--k", type=int, default=10, help="neighbours for the k-NN metrics (default 10)")
    parser.add_argument("--anchors", type=int, default=300, help="anchors of the relative and translated views")
    parser.add_argument("--translator", default="procrustes", help="translator of B into A (default procrustes)")
    parser.add_argument("--boot", type=int, default=200, help="bootstrap resamples per interval (default 200)")
    parser.add_argument("--boot-samples", type=int, default=BOOT_SAMPLES,
                        help=f"rows per subsample for recomputed metrics (default {BOOT_SAMPLES})")
    parser.add_argument("--level", type=float, default=0.95, help="interval coverage (default 0.95)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample, anchors and resamples")
    parser.add_argument("--ladder", action="store_true", help="also measure alignment vs N (absolute A vs B)")
    parser.add_argument("--ladder-metrics", default=",".join(DEFAULT_METRICS),
                        help="comma-separated metrics for --ladder")
    parser.add_argument("--out", default=None, help="folder for metrics.csv, metrics.md (and alignment_vs_n.*)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


@dataclass
class Measurement:
    intervals: pd.DataFrame  # comparison, metric, value, low, high, method, n_resampled, n_boot, k
    ladder: pd.DataFrame | None  # size, seed, metric, value
    note: str | None  # the kernel metrics' subsample, when there is one


def _check(args: argparse.Namespace) -> None:
    if args.n is not None and args.n < 4:
        raise ConfigError(f"--n must be at least 4, got {args.n}.")
    for name in ("k", "anchors", "boot", "boot_samples"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}.")


def measure(args: argparse.Namespace) -> Measurement:
    from latent_core.experiments.run import check_encoders, embed

    _check(args)
    dataset = load_dataset(args.dataset, n=args.n, seed=args.seed)
    check_encoders([(args.a, "items"), (args.b, "items")], dataset, args.dataset)
    a = embed(args.a, dataset, verbose=not args.quiet).numpy()
    b = embed(args.b, dataset, verbose=not args.quiet).numpy()
    n = len(dataset)
    if n < 4:
        raise ConfigError(f"The dataset {args.dataset!r} has {n} samples; measuring needs at least 4.")
    anchors = select_anchors(a, min(args.anchors, n - 1), "random", seed=args.seed)
    views = compute_views(a, b, anchors, translator=args.translator)
    intervals = metric_intervals(a, b, views, args.k, n_boot=args.boot, level=args.level, seed=args.seed,
                                 max_samples=args.boot_samples)
    ladder = None
    if args.ladder:
        metrics = [m.strip() for m in args.ladder_metrics.split(",") if m.strip()]
        x, y = pairs(a, b, views)["absolute"]
        ladder = alignment_vs_n(x, y, metrics, k=min(args.k, n - 2))
    return Measurement(intervals, ladder, kernel_note(n))


def table(measurement: Measurement, level: float) -> str:
    """The intervals as a Markdown table (one row per comparison and metric)."""
    frame = measurement.intervals
    percent = f"{level:.0%}"
    lines = [f"| comparison | metric | value | {percent} interval | method |", "|---|---|---|---|---|"]
    lines += [f"| {r.comparison} | {r.metric} | {r.value:.4f} | [{r.low:.4f}, {r.high:.4f}] | {r.method} |"
              for r in frame.itertuples()]
    if measurement.ladder is not None:
        lines += ["", "Alignment vs N (absolute A vs B; mean [min, max] over seeds)", "",
                  "| metric | N | mean | range |", "|---|---|---|---|"]
        lines += [f"| {r.metric} | {r.size} | {r.mean:.4f} | [{r.low:.4f}, {r.high:.4f}] |"
                  for r in summarise(measurement.ladder).itertuples()]
    if measurement.note:
        lines += ["", measurement.note]
    return "\n".join(lines) + "\n"


def write(measurement: Measurement, text: str, out: str | Path) -> list[Path]:
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / "metrics.csv", folder / "metrics.md"]
        measurement.intervals.to_csv(paths[0], index=False)
        paths[1].write_text(text)
        if measurement.ladder is not None:
            paths.append(folder / "alignment_vs_n.csv")
            measurement.ladder.to_csv(paths[-1], index=False)
    except OSError as error:
        raise ConfigError(f"Cannot write the results to {folder}: {error.strerror or error}.") from None
    return paths
