"""Speed and memory of the lean core against bare references (a benchmark, not a test: numbers depend on the
machine; each ratio is measured in one run against its reference, candidates interleaved, median of repeats).

1. ``relative_projection`` (cosine) vs a bare ``normalize(x) @ normalize(a).T`` and vs latentis 0.0.8's
   ``cosine_proj`` (optional: ``pip install -r benchmarks/requirements-bench.txt``), at 200k x 768 against
   1,536 anchors and at 100k x 384 against 1,000 anchors.
2. Translator fits vs the textbook solvers on the same unscaled data (``scaling=None``): Procrustes vs
   ``scipy.linalg.orthogonal_procrustes``, linear vs ``numpy.linalg.lstsq``; time ratio and max |difference|.
3. Peak memory of ``relative_projection`` at N = 1M x 384 against 1,000 anchors, in a fresh process: the peak RSS
   increase against the output plus one chunk.

Every size is an argument, so tests run the functions tiny. Usage::

    python benchmarks/core_speed.py [--quick] [--only relative,fits,memory] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from latent_core.relative import relative_projection  # noqa: E402
from latent_core.translate import get_translator  # noqa: E402


def median_times(candidates: dict[str, Callable[[], object]], repeats: int = 5, warmup: bool = True) -> dict:
    """Median seconds per candidate; the candidates run interleaved (one of each per round), so a noisy machine
    slows them alike."""
    if warmup:
        for fn in candidates.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(max(1, repeats)):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def latentis_cosine() -> tuple[Callable | None, str]:
    """latentis 0.0.8's ``cosine_proj`` and "", or None and why it cannot be used."""
    try:
        from latent_core._compat.torchvision_ops import ensure_torchvision_importable

        ensure_torchvision_importable()  # latentis imports transformers, which imports torchvision
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from latentis.transform.projection import cosine_proj
    except Exception as exc:  # noqa: BLE001 - any import failure means "not measured"
        return None, f"latentis not importable: {type(exc).__name__}: {str(exc)[:120]}"
    return (lambda x, a: cosine_proj(x, anchors=a)), ""


def _bare_cosine(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x) @ torch.nn.functional.normalize(a).T


def relative_ratios(n: int = 200_000, d: int = 768, k: int = 1536, repeats: int = 5, seed: int = 0,
                    use_latentis: bool = True) -> dict:
    """``relative_projection`` (cosine) time against bare torch and latentis on the same ``[n, d]`` and
    ``[k, d]`` float32 inputs. Ratios above 1 mean ours is slower."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=generator)
    a = torch.randn(k, d, generator=generator)
    candidates = {"ours": lambda: relative_projection(x, a), "bare": lambda: _bare_cosine(x, a)}
    latentis, reason = latentis_cosine() if use_latentis else (None, "skipped")
    if latentis is not None:
        candidates["latentis"] = lambda: latentis(x, a)
    rows = slice(0, min(n, 2000))
    diff = float((relative_projection(x[rows], a) - _bare_cosine(x[rows], a)).abs().max())
    times = median_times(candidates, repeats)
    return {
        "n": n, "d": d, "k": k, "repeats": repeats, "seconds": times, "max_abs_diff_vs_bare": diff,
        "ratio_vs_bare": times["ours"] / times["bare"],
        "ratio_vs_latentis": times["ours"] / times["latentis"] if latentis is not None else None,
        "latentis_note": reason,
    }


def translator_fit_ratios(n: int = 2000, d_source: int = 768, d_target: int = 768, d_linear_target: int = 384,
                          repeats: int = 5, seed: int = 0) -> dict:
    """Procrustes and linear fits (``scaling=None``) against scipy / numpy on the same float32 data (given to the
    references as float64, as the translators fit in float64)."""
    from scipy.linalg import orthogonal_procrustes

    rng = np.random.default_rng(seed)
    source = rng.normal(size=(n, d_source)).astype(np.float32)
    target = rng.normal(size=(n, d_target)).astype(np.float32)
    linear_target = rng.normal(size=(n, d_linear_target)).astype(np.float32)
    source64, target64, linear64 = (v.astype(np.float64) for v in (source, target, linear_target))

    def ours(name, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return get_translator(name, scaling=None).fit(source, y)

    results = {}
    pairs = {
        "procrustes": (lambda: ours("procrustes", target), lambda: orthogonal_procrustes(source64, target64)[0],
                       "scipy.linalg.orthogonal_procrustes"),
        "linear": (lambda: ours("linear", linear_target),
                   lambda: np.linalg.lstsq(source64, linear64, rcond=None)[0], "numpy.linalg.lstsq"),
    }
    for name, (mine, reference, label) in pairs.items():
        times = median_times({"ours": mine, "reference": reference}, repeats)
        fitted, expected = mine(), reference()
        got = (fitted.rotation_ if name == "procrustes" else fitted.weight_).double().cpu().numpy()
        got = got[: expected.shape[0], : expected.shape[1]]
        results[name] = {"seconds": times, "ratio": times["ours"] / times["reference"], "reference": label,
                         "max_abs_diff": float(np.abs(got - expected).max()), "n": n}
    return results


_MEMORY_CHILD = r"""
import json, resource, sys
import torch
sys.path.insert(0, sys.argv[5])
from latent_core.relative import _CHUNK_ELEMENTS, relative_projection
n, d, k, chunk = (int(v) for v in sys.argv[1:5])
torch.manual_seed(0)
x = torch.empty(n, d)
for start in range(0, n, 65536):  # filled in place: no temporary copy inflates the baseline peak
    x[start : start + 65536].normal_()
anchors = torch.randn(k, d)
relative_projection(x[:8], anchors)  # libraries and allocator warmed up before the baseline
def rss():  # current resident bytes (ru_maxrss is the peak so far, which import-time transients can inflate)
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before, peak_before = rss(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
out = relative_projection(x, anchors, chunk_size=None if chunk == 0 else chunk)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
rows = chunk if chunk else max(1, _CHUNK_ELEMENTS // max(1, d // 2))  # relative._project's fast-path default
print(json.dumps({"before": before, "peak": peak, "output": out.numel() * 4, "chunk": min(rows, n) * d * 4,
                  "resolved": peak > peak_before}))
"""


def peak_memory(n: int = 1_000_000, d: int = 384, k: int = 1000, chunk_size: int | None = None,
                timeout: float = 600) -> dict:
    """Peak RSS increase of one ``relative_projection`` call in a fresh process, against the output plus one
    chunk (``ratio`` <= ~1: memory stays at the output plus one chunk; bytes, and MiB for reading)."""
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(n), str(d), str(k), str(chunk_size or 0), str(ROOT)],
        capture_output=True, text=True, timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"peak_memory child failed: {result.stderr[-800:]}")
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    increase = measured["peak"] - measured["before"]
    bound = measured["output"] + measured["chunk"]
    mib = 2**20
    return {"n": n, "d": d, "k": k, "increase_mib": increase / mib, "output_mib": measured["output"] / mib,
            "chunk_mib": measured["chunk"] / mib, "bound_mib": bound / mib, "ratio": increase / bound,
            "resolved": measured["resolved"]}  # False: the call's peak stayed under an earlier one (an upper bound)


def table(relative: list[dict] | None = None, fits: dict | None = None, memory: dict | None = None) -> str:
    """The results as a markdown table."""
    lines = ["| check | ours | reference | ratio (ours / reference) | note |", "|---|---|---|---|---|"]
    for r in relative or []:
        size = f"{r['n']:,} x {r['d']} vs {r['k']:,} anchors"
        s = r["seconds"]
        lines.append(f"| relative cosine {size} | {s['ours']:.3f} s | bare torch {s['bare']:.3f} s | "
                     f"{r['ratio_vs_bare']:.2f} | max abs diff {r['max_abs_diff_vs_bare']:.1e}; "
                     f"median of {r['repeats']} |")
        if r["ratio_vs_latentis"] is None:
            lines.append(f"| relative cosine {size} | | latentis `cosine_proj` | not measured | {r['latentis_note']} |")
        else:
            lines.append(f"| relative cosine {size} | {s['ours']:.3f} s | latentis `cosine_proj` "
                         f"{s['latentis']:.3f} s | {r['ratio_vs_latentis']:.2f} | latentis 0.0.8 |")
    for name, r in (fits or {}).items():
        s = r["seconds"]
        lines.append(f"| {name} fit, {r['n']:,} pairs, scaling=None | {s['ours'] * 1e3:.1f} ms | {r['reference']} "
                     f"{s['reference'] * 1e3:.1f} ms | {r['ratio']:.2f} | max abs diff {r['max_abs_diff']:.1e} |")
    if memory:
        m = memory
        lines.append(f"| peak memory, relative cosine {m['n']:,} x {m['d']} vs {m['k']:,} anchors | "
                     f"+{m['increase_mib']:.0f} MiB RSS | output {m['output_mib']:.0f} MiB + one chunk "
                     f"{m['chunk_mib']:.0f} MiB | {m['ratio']:.2f} | fresh process, peak RSS minus RSS before"
                     f"{'' if m['resolved'] else '; below an earlier peak: an upper bound'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="relative,fits,memory", help="comma-separated parts to run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--no-latentis", action="store_true")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    scale = 100 if args.quick else 1
    relative = fits = memory = None
    if "relative" in parts:
        relative = [relative_ratios(200_000 // scale, 768, 1536, args.repeats, use_latentis=not args.no_latentis),
                    relative_ratios(100_000 // scale, 384, 1000, args.repeats, use_latentis=not args.no_latentis)]
    if "fits" in parts:
        sizes = dict(n=300, d_source=64, d_target=64, d_linear_target=32) if args.quick else {}
        fits = translator_fit_ratios(**sizes, repeats=args.repeats)
    if "memory" in parts:
        memory = peak_memory(1_000_000 // scale)
    print(table(relative, fits, memory))


if __name__ == "__main__":
    main()
