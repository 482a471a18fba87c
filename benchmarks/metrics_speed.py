"""Mutual k-NN + Jaccard@10 at N = 100k against bare torch code computing both from one pair of neighbour lists.

  ours  what the explorer's metrics table does per comparison (``latent_core.explore.space_metrics``): inside
        ``shared_neighbours()``, ``mutual_knn(x, y, 10)`` then ``jaccard_at_k(x, y, 10)`` (one k-NN pass per space);
        ``knn_overlap_scores`` (the same in one call) is timed too, and the two separate calls without the shared
        lists (two k-NN passes per space) when ``unshared=True``
  bare  normalise, blocked ``x @ x.T`` + ``topk`` over blocks of rows for each space once, then the per-row overlap by
        sorting the concatenated neighbour lists and counting equal neighbours

Target: ours / bare <= 1.1, equal values, peak memory far below N x N (100k^2 float32 = 40 GB).

Usage: python benchmarks/metrics_speed.py [--n N] [--quick] [--repeat R] [--unshared]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

BARE_BLOCK_ROWS = 256


class PeakRSS:
    """Peak resident memory above the level at entry (MB), sampled from /proc/self/statm every 10 ms."""

    def __enter__(self):
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())
        self.mb = (self.peak - self.base) / 2**20

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    def _watch(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._rss())


def spaces(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``x``: points near a 32-dimensional subspace of R^d; ``y``: x rotated, plus noise (non-trivial overlap)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 32)).astype(np.float32) @ rng.normal(size=(32, d)).astype(np.float32)
    x += 0.5 * rng.normal(size=(n, d)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    y = x @ rotation.astype(np.float32) + 1.5 * rng.normal(size=(n, d)).astype(np.float32)
    return x, y


def bare_knn(x: torch.Tensor, k: int, block: int = BARE_BLOCK_ROWS) -> torch.Tensor:
    unit = torch.nn.functional.normalize(x, dim=1)
    out = torch.empty(len(x), k, dtype=torch.long)
    for start in range(0, len(x), block):
        sims = unit[start : start + block] @ unit.T
        rows = torch.arange(sims.shape[0])
        sims[rows, rows + start] = float("-inf")
        out[start : start + block] = sims.topk(k, dim=1).indices
    return out


def bare_scores(x: torch.Tensor, y: torch.Tensor, k: int) -> dict[str, float]:
    both = torch.cat([bare_knn(x, k), bare_knn(y, k)], dim=1).sort(dim=1).values  # each list has distinct indices
    inter = (both[:, 1:] == both[:, :-1]).sum(1)
    return {"mutual_knn": float((inter.float() / k).mean()),
            "jaccard": float((inter.double() / (2 * k - inter.double())).mean())}


def _timed(function):
    with PeakRSS() as memory:
        start = time.perf_counter()
        value = function()
        seconds = time.perf_counter() - start
    return value, seconds, memory.mb


def knn_metrics_vs_bare(n: int = 100_000, d: int = 384, k: int = 10, quick: bool = False, repeat: int = 1,
                        unshared: bool = False) -> dict:
    """Seconds (best of ``repeat``, in alternating order), values and peak memory of mutual k-NN + Jaccard@k, ours
    vs bare torch. ``quick``: N = 3000, and also the one-call and unshared variants; ``unshared``: also time the two
    separate calls without shared k-NN lists (two passes per space)."""
    from latent_core import metrics

    if quick:
        n = 3000
    x_np, y_np = spaces(n, d)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)

    def ours_app_path():
        with metrics.shared_neighbours():
            return {"mutual_knn": metrics.mutual_knn(x, y, k), "jaccard": metrics.jaccard_at_k(x, y, k)}

    variants = {"bare": lambda: bare_scores(x, y, k), "ours": ours_app_path}
    if quick:
        variants["ours_one_call"] = lambda: metrics.knn_overlap_scores(x, y, k)
    if unshared or quick:
        variants["ours_unshared"] = lambda: {"mutual_knn": metrics.mutual_knn(x, y, k),
                                             "jaccard": metrics.jaccard_at_k(x, y, k)}
    results: dict[str, tuple] = {}
    for round_ in range(max(1, repeat)):
        names = list(variants) if round_ % 2 == 0 else list(variants)[::-1]
        for name in names:
            value, seconds, mb = _timed(variants[name])
            if name not in results or seconds < results[name][1]:
                results[name] = (value, seconds, max(mb, results.get(name, (0, 0, 0))[2]))
    bare_value = results["bare"][0]
    max_diff = max(abs(value[name] - bare_value[name]) for value, _, _ in results.values() for name in value)
    out = {"n": n, "d": d, "k": k, "threads": torch.get_num_threads(),
           "bare_s": round(results["bare"][1], 2), "ours_s": round(results["ours"][1], 2),
           "ratio": round(results["ours"][1] / results["bare"][1], 3), "target": 1.1,
           "mutual_knn": round(bare_value["mutual_knn"], 6), "jaccard": round(bare_value["jaccard"], 6),
           "max_abs_diff": max_diff, "values_equal": max_diff <= 1e-6,
           "peak_mb": {name: round(mb, 1) for name, (_, _, mb) in results.items()},
           "n_by_n_float32_mb": round(n * n * 4 / 2**20),
           "block_rows": {"ours": max(1, metrics._BLOCK_ELEMENTS // n), "bare": BARE_BLOCK_ROWS}}
    for name in ("ours_one_call", "ours_unshared"):
        if name in results:
            out[f"{name}_s"] = round(results[name][1], 2)
    out["passed"] = out["ratio"] <= 1.1 and out["values_equal"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=384)
    parser.add_argument("--quick", action="store_true", help="N = 3000")
    parser.add_argument("--repeat", type=int, default=1, help="best of this many, alternating order")
    parser.add_argument("--unshared", action="store_true", help="also time the two calls without shared k-NN lists")
    args = parser.parse_args()
    result = knn_metrics_vs_bare(n=args.n, d=args.d, quick=args.quick, repeat=args.repeat,
                                 unshared=args.unshared)
    for name, value in result.items():
        print(f"{name:16s} {value}")


if __name__ == "__main__":
    main()
