"""Encoding through the library against sentence-transformers alone, and a cache hit against encoding (a benchmark,
not a test: the numbers depend on the machine).

1. :func:`encoding_overhead`: ``latent_core.embed.embed_dataset`` on a cache miss (into an empty temporary cache
   folder, so it also hashes the dataset... once, writes the ``.npy`` and its sha256) of ``n`` BBC articles with the
   offline all-MiniLM-L6-v2, against ``SentenceTransformer.encode(texts, batch_size=<same>)`` on the same texts,
   with the same loaded model and thread count. The two run interleaved, the order alternating per round; medians.
   Also the max |difference| of the two embeddings.
2. :func:`cache_hit_speedup`: ``embed_dataset`` answering from the disk cache (a fresh ``EmbeddingCache`` object
   each time, as a new server process gets: it reads the ``.npy`` and checks its sha256) against encoding.

Usage::

    python benchmarks/encoding_speed.py [--quick] [--n 400] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from latent_core._compat.torchvision_ops import ensure_torchvision_importable  # noqa: E402

ensure_torchvision_importable()

from latent_core.cache import EmbeddingCache  # noqa: E402
from latent_core.config import DEFAULT_BATCH_SIZE  # noqa: E402
from latent_core.data import load_dataset  # noqa: E402
from latent_core.embed import embed_dataset  # noqa: E402
from latent_core.encoders import get_encoder  # noqa: E402

ENCODER = "st:sentence-transformers/all-MiniLM-L6-v2"
QUICK_N = 24


def _setup(n: int, seed: int = 0):
    data = load_dataset("bbc", n=n, seed=seed)
    data.fingerprint  # noqa: B018 - hashed once, as the app's cached Dataset has it
    return data, get_encoder(ENCODER, device="cpu")


def _ours(encoder, data, batch_size: int) -> tuple[float, np.ndarray]:
    with tempfile.TemporaryDirectory(prefix="bench-encode-") as tmp:
        cache = EmbeddingCache(root=tmp, bundled=[])
        start = time.perf_counter()
        out = embed_dataset(encoder, data, cache=cache, batch_size=batch_size)
        return time.perf_counter() - start, out.numpy()


def _direct(model, texts: list[str], batch_size: int) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    return time.perf_counter() - start, out


def encoding_overhead(n: int = 400, quick: bool = False, repeats: int = 3,
                      batch_size: int = DEFAULT_BATCH_SIZE) -> dict:
    """``embed_dataset`` (cache miss) vs bare ``SentenceTransformer.encode`` on ``n`` BBC articles.

    Returns ``ours_s``, ``reference_s`` (medians), ``ratio`` (median of the per-round ratios), ``max_abs_diff``,
    ``rounds`` (every time), ``n``, ``threads`` and ``note``.
    """
    if quick:
        n, repeats = min(n, QUICK_N), 1
    import torch

    data, encoder = _setup(n)
    model, threads = encoder.model, torch.get_num_threads()  # the model is loaded once, shared by both sides
    texts = list(data.items)
    _ours(encoder, data, batch_size)  # warm-up: first-call costs (allocator, tokenizer) are not the library's
    _direct(model, texts, batch_size)
    ours, direct, ratios, diff = [], [], [], 0.0
    for round_ in range(max(1, repeats)):
        if round_ % 2 == 0:
            t_ours, a = _ours(encoder, data, batch_size)
            t_direct, b = _direct(model, texts, batch_size)
        else:
            t_direct, b = _direct(model, texts, batch_size)
            t_ours, a = _ours(encoder, data, batch_size)
        ours.append(t_ours)
        direct.append(t_direct)
        ratios.append(t_ours / t_direct)
        diff = max(diff, float(np.abs(a - b).max()))
    return {
        "n": n, "threads": threads, "batch_size": batch_size,
        "ours_s": statistics.median(ours), "reference_s": statistics.median(direct),
        "ratio": statistics.median(ratios), "max_abs_diff": diff,
        "rounds": {"ours": ours, "reference": direct},
        "note": f"{n} BBC articles, all-MiniLM-L6-v2, batch {batch_size}, {threads} torch threads; ours = "
                "embed_dataset on a cache miss (dataset hash cached, writes .npy + sha256), reference = "
                f"SentenceTransformer.encode on the same loaded model; max abs diff {diff:.1e}",
    }


def cache_hit_speedup(n: int = 400, quick: bool = False, repeats: int = 5, encode_s: float | None = None,
                      batch_size: int = DEFAULT_BATCH_SIZE) -> dict:
    """A cache hit of ``embed_dataset`` (fresh ``EmbeddingCache`` each time) vs encoding the same ``n`` articles.

    ``encode_s``: the encoding time if already measured (e.g. :func:`encoding_overhead`'s ``ours_s``); otherwise one
    cache miss is timed. Returns ``ours_s`` (median hit), ``reference_s`` (encoding), ``ratio`` = hit / encode,
    ``speedup`` and ``note``.
    """
    if quick:
        n, repeats = min(n, QUICK_N), 2
    data, encoder = _setup(n)
    with tempfile.TemporaryDirectory(prefix="bench-hit-") as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # a hit that warned would not be a hit
            start = time.perf_counter()
            first = embed_dataset(encoder, data, cache=EmbeddingCache(root=tmp, bundled=[]), batch_size=batch_size)
            miss_s = time.perf_counter() - start
            hits = []
            for _ in range(max(1, repeats)):
                start = time.perf_counter()
                again = embed_dataset(encoder, data, cache=EmbeddingCache(root=tmp, bundled=[]))
                hits.append(time.perf_counter() - start)
                assert np.array_equal(first.numpy(), again.numpy())
    reference = encode_s if encode_s is not None else miss_s
    hit = statistics.median(hits)
    return {
        "n": n, "ours_s": hit, "reference_s": reference, "ratio": hit / reference, "speedup": reference / hit,
        "rounds": hits,
        "note": f"{n} x {encoder.dim} float32: hit = fresh EmbeddingCache, read .npy + verify its sha256 + "
                f"copy to a tensor ({reference / hit:.0f}x faster than encoding)",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    overhead = encoding_overhead(args.n, quick=args.quick, repeats=args.repeats)
    print(f"encoding overhead: ours {overhead['ours_s']:.2f} s, direct {overhead['reference_s']:.2f} s, "
          f"ratio {overhead['ratio']:.3f}, max abs diff {overhead['max_abs_diff']:.1e}")
    hit = cache_hit_speedup(args.n, quick=args.quick, encode_s=overhead["ours_s"])
    print(f"cache hit: {hit['ours_s'] * 1000:.1f} ms vs encoding {hit['reference_s']:.2f} s, "
          f"ratio {hit['ratio']:.4f} ({hit['speedup']:.0f}x)")
    if args.json:
        args.json.write_text(json.dumps({"overhead": overhead, "cache_hit": hit}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
