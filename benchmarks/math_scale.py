"""Scale checks for the math (a benchmark, not a test: numbers depend on the machine).

1. relative_projection memory: peak RSS of a fresh process that builds x [N, D] and projects it on K
   anchors, chunked (default) vs one chunk (chunk_size=N). Reported as MB above the inputs+output.
2. Blockwise k-NN metrics at N=100k (an N x N float32 matrix would need 40 GB): time of mutual_knn.
3. Relative projection throughput (cosine, 20000 x 384 against 1000 anchors) and Procrustes (1000 pairs, d=384).

Usage: python benchmarks/math_scale.py [--n-memory 200000] [--n-knn 100000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, torch
from latent_core.relative import relative_projection
n, d, k, chunk = (int(a) for a in sys.argv[1:5])
torch.manual_seed(0)
x = torch.randn(n, d)
anchors = torch.randn(k, d)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = relative_projection(x, anchors, chunk_size=None if chunk == 0 else chunk)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"before_mb": before, "peak_mb": peak, "output_mb": out.numel() * 4 / 2**20}))
"""


def peak_memory(n: int, d: int, k: int, chunk: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(d), str(k), str(chunk)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-memory", type=int, default=200_000)
    parser.add_argument("--n-knn", type=int, default=100_000)
    args = parser.parse_args()
    import torch

    from latent_core.metrics import mutual_knn
    from latent_core.relative import relative_projection
    from latent_core.translate import Procrustes

    n, d, k = args.n_memory, 768, 1000
    chunked, single = peak_memory(n, d, k, 0), peak_memory(n, d, k, n)
    extra_chunked = chunked["peak_mb"] - chunked["before_mb"] - chunked["output_mb"]
    extra_single = single["peak_mb"] - single["before_mb"] - single["output_mb"]
    print(f"relative_projection N={n} D={d} K={k}: output {chunked['output_mb']:.0f} MB; extra peak memory "
          f"chunked {extra_chunked:.0f} MB vs one chunk {extra_single:.0f} MB "
          f"(ratio {extra_single / max(extra_chunked, 1):.1f}x)")

    torch.manual_seed(0)
    x = torch.randn(args.n_knn, 64)
    y = x + 0.5 * torch.randn_like(x)
    start = time.perf_counter()
    value = mutual_knn(x, y, k=10)
    print(f"mutual_knn N={args.n_knn} D=64 k=10: {time.perf_counter() - start:.1f} s (value {value:.3f}); "
          f"an N x N float32 matrix would be {args.n_knn**2 * 4 / 2**30:.0f} GiB")

    x, anchors = torch.randn(20_000, 384), torch.randn(1000, 384)
    relative_projection(x, anchors)
    start = time.perf_counter()
    for _ in range(5):
        relative_projection(x, anchors)
    rel_ms = (time.perf_counter() - start) / 5 * 1000
    a, b = torch.randn(1000, 384), torch.randn(1000, 384)
    start = time.perf_counter()
    for _ in range(5):
        Procrustes().fit(a, b)
    fit_ms = (time.perf_counter() - start) / 5 * 1000
    print(f"cosine relative_projection 20000x384 vs 1000 anchors: {rel_ms:.0f} ms; "
          f"Procrustes fit (standard scaling, float64) 1000 pairs d=384: {fit_ms:.0f} ms")


if __name__ == "__main__":
    main()
