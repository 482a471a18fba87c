"""Relative projection and translation on one torch device against that device's own matmul throughput.

The reference is the bare product the operation cannot avoid, timed on the same device in the same run:
``x @ a.T`` ([N, D] x [D, K]) for the relative projection, ``x @ R`` ([N, D] x [D, D]) for a fitted Procrustes
translation. The ratio is ours / bare (1.0: as fast as the matmul alone); the achieved TFLOP/s of both are in the
note. Inputs live on the device before timing (no host transfer is timed); CUDA work is synchronised.

``make bench`` runs it on CUDA when a GPU is present (``benchmarks/gpu.sh`` on a GPU machine); the tests run it
tiny on the CPU, where the numbers mean nothing.

Usage: python benchmarks/device_speed.py [--device cuda] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from latent_core.relative import relative_projection  # noqa: E402
from latent_core.translate import get_translator  # noqa: E402

FULL = {"n": 1_000_000, "d": 768, "k": 1536, "anchors": 3000}
QUICK = {"n": 4000, "d": 64, "k": 96, "anchors": 200}


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_median(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median seconds of ``fn`` on ``device`` (one warm-up call; CUDA synchronised around each call)."""
    fn()
    _synchronise(device)
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        _synchronise(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def device_ratios(device: str | torch.device = "cuda", *, quick: bool = False, repeats: int = 5,
                  seed: int = 0) -> dict[str, dict]:
    """``{"relative": ..., "translation": ...}``, each with ``ours_s``, ``bare_s``, ``ratio``, ``ours_tflops``,
    ``bare_tflops``, ``max_abs_diff`` (ours against the bare product, on the first rows) and the sizes."""
    device = torch.device(device)
    sizes = QUICK if quick else FULL
    n, d, k = sizes["n"], sizes["d"], sizes["k"]
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=generator).to(device)
    anchors = torch.randn(k, d, generator=generator).to(device)
    results = {}

    unit_anchors_t = torch.nn.functional.normalize(anchors).T.contiguous()
    ours_s = device_median(lambda: relative_projection(x, anchors), device, repeats)
    bare_s = device_median(lambda: x @ unit_anchors_t, device, repeats)
    rows = slice(0, min(n, 2000))
    expected = torch.nn.functional.normalize(x[rows]) @ unit_anchors_t
    flops = 2.0 * n * d * k
    results["relative"] = {
        "ours_s": ours_s, "bare_s": bare_s, "ratio": ours_s / bare_s, "ours_tflops": flops / ours_s / 1e12,
        "bare_tflops": flops / bare_s / 1e12, "n": n, "d": d, "k": k,
        "max_abs_diff": float((relative_projection(x[rows], anchors) - expected).abs().max()),
    }

    source = torch.randn(sizes["anchors"], d, generator=generator).to(device)
    target = torch.randn(sizes["anchors"], d, generator=generator).to(device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        translator = get_translator("procrustes", scaling=None).fit(source, target)
    rotation = translator.rotation_.to(device=device, dtype=torch.float32).contiguous()
    ours_s = device_median(lambda: translator.transform(x), device, repeats)
    bare_s = device_median(lambda: x @ rotation, device, repeats)
    flops = 2.0 * n * d * d
    results["translation"] = {
        "ours_s": ours_s, "bare_s": bare_s, "ratio": ours_s / bare_s, "ours_tflops": flops / ours_s / 1e12,
        "bare_tflops": flops / bare_s / 1e12, "n": n, "d": d, "k": d,
        "max_abs_diff": float((translator.transform(x[rows]).to(device) - x[rows] @ rotation).abs().max()),
    }
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    for name, row in device_ratios(args.device, quick=args.quick, repeats=args.repeats).items():
        print(f"{name:12s} n={row['n']:,} d={row['d']} k={row['k']}: ours {row['ours_s']:.4f} s "
              f"({row['ours_tflops']:.2f} TFLOP/s), bare matmul {row['bare_s']:.4f} s ({row['bare_tflops']:.2f} "
              f"TFLOP/s), ratio {row['ratio']:.3f}, max abs diff {row['max_abs_diff']:.1e}")


if __name__ == "__main__":
    main()
