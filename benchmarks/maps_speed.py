"""How fast the explorer's 2-D maps follow a control, against the bare libraries in the same process.

- ``redraw_vs_bare("umap")``: the explorer's map redraw after an anchor-count change with UMAP on (the Spaces
  page's service code: new relative views, then every panel's map; warm process, warm start from the previous
  anchor set's map) vs a bare umap-learn ``UMAP().fit(rel_a)`` + ``transform(rel_b)`` of the same data. Target
  ratio <= 0.25.
- ``redraw_vs_bare("tsne")``: the same with t-SNE vs a plain openTSNE ``TSNE().fit(rel_a)`` + ``transform(rel_b)``.
  Target ratio <= 0.25.
- ``first_vs_warm_umap()``: the first UMAP map in a new process (numba's compiled code cached on disk) vs the same
  map in a warm process. Target ratio <= 2.

Data: the default scenario's bundled embeddings (2,225 BBC articles, MiniLM vs MPNet; ``n`` takes the first n rows,
so tests can run tiny). Usage: ``python benchmarks/maps_speed.py [--n 2225] [--repeat 1]`` prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGETS = {"umap": 0.25, "tsne": 0.25, "first": 2.0}


def default_spaces(n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A ``[N, 384]`` (MiniLM) and B ``[N, 768]`` (MPNet) of the default scenario (bundled cache), first ``n`` rows."""
    from latent_core._compat.torchvision_ops import ensure_torchvision_importable

    ensure_torchvision_importable()
    from latent_core.config import DEFAULT_SCENARIO
    from latent_core.data import load_dataset
    from latent_core.embed import embed_dataset
    from latent_core.encoders import get_encoder

    scenario = DEFAULT_SCENARIO
    data = load_dataset(scenario.dataset, n=scenario.n_samples, seed=scenario.seed)
    a = embed_dataset(get_encoder(scenario.encoder_a), data).cpu().numpy()
    b = embed_dataset(get_encoder(scenario.encoder_b), data).cpu().numpy()
    return (a, b) if n is None else (a[:n], b[:n])


def _anchors(n: int, count: int, seed: int = 0) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n, size=min(count, n), replace=False))


def _views(a, b, anchors):
    from latent_core.explore import compute_views

    return compute_views(a, b, anchors, projection="cosine", translator="procrustes")


def _explorer_maps(a, b, views, kind: str, seed: int, memo) -> dict[str, np.ndarray]:
    """The Spaces page's map work after an anchor change: ``panel_maps``' computation (its service code, outside a
    Streamlit session) on the new views."""
    from app.services import spaces
    from latent_core.config import DEFAULT_SCENARIO

    ex = SimpleNamespace(a=a, b=b, views=views, settings=SimpleNamespace(seed=seed, scenario=(DEFAULT_SCENARIO,
                                                                                              len(a))))
    key = ("bench", tuple(int(i) for i in views.anchor_idx), kind)
    return spaces._fill_maps(memo, key, ex, kind, None)


def _bare(kind: str, rel_a: np.ndarray, rel_b: np.ndarray, seed: int) -> None:
    """The plain library: fit on relative A, place relative B (defaults, as a user would call it)."""
    if kind == "umap":
        from latent_core.maps import _import_umap

        reducer = _import_umap().UMAP(random_state=seed, n_jobs=1, n_neighbors=min(15, len(rel_a) - 1))
        reducer.fit(rel_a)
        reducer.transform(rel_b)
    else:
        from openTSNE import TSNE

        TSNE(random_state=seed, perplexity=min(30.0, (len(rel_a) - 1) / 3)).fit(rel_a).transform(rel_b)


def redraw_vs_bare(kind: str = "umap", n: int | None = None, k_before: int = 300, k_after: int = 250,
                   repeat: int = 1, seed: int = 0, spaces: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Seconds of the explorer's map redraw (anchor count ``k_before`` -> ``k_after``, warm process: the absolute
    maps fitted earlier in it) and of the bare library's fit + transform on the same relative views; medians over
    ``repeat``. Anchor sets are drawn afresh each run, so no map comes from the disk cache. Returns a dict with
    ``explorer_s`` (maps), ``views_s`` (the new relative views and translation, the same for every map kind),
    ``bare_s`` and ``ratio`` (``explorer_s / bare_s``)."""
    from collections import OrderedDict

    warnings.filterwarnings("ignore")
    a, b = spaces if spaces is not None else default_spaces(n)
    memo: OrderedDict = OrderedDict()
    fresh = time.time_ns() % 2**31  # anchor sets no earlier run has cached on disk

    def anchor_views(count: int, offset: int):
        return _views(a, b, _anchors(len(a), count, fresh + offset))

    _explorer_maps(a, b, anchor_views(k_before, 0), kind, seed, memo)  # warm-up: compiles, fits the absolute maps
    _explorer_maps(a, b, anchor_views(k_after, 99), kind, seed, memo)  # ... and the warm-start path
    warm_up = anchor_views(k_after, 98)
    _bare(kind, warm_up.rel_a, warm_up.rel_b, seed)  # the bare path warm too
    explorer, views_s, bare = [], [], []
    for r in range(repeat):
        memo.clear()
        _explorer_maps(a, b, anchor_views(k_before, 0), kind, seed, memo)  # the map the user saw before the change
        start = time.perf_counter()
        views = anchor_views(k_after, 1 + r)
        views_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        _explorer_maps(a, b, views, kind, seed, memo)
        explorer.append(time.perf_counter() - start)
        start = time.perf_counter()
        _bare(kind, views.rel_a, views.rel_b, seed)
        bare.append(time.perf_counter() - start)
    explorer_s, bare_s = float(np.median(explorer)), float(np.median(bare))
    return {"explorer_s": explorer_s, "views_s": float(np.median(views_s)), "bare_s": bare_s,
            "ratio": explorer_s / bare_s}


_CHILD = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, {root!r})
start = time.perf_counter()
from benchmarks.maps_speed import default_spaces
from latent_core.maps import map_2d
a, _ = default_spaces({n!r})
t0 = time.perf_counter()
map_2d("umap", a, [a[: len(a) // 2] + 0.01], cache=False)
first = time.perf_counter() - t0
t0 = time.perf_counter()
map_2d("umap", a + 0.001, [a[: len(a) // 2] + 0.02], cache=False)
warm = time.perf_counter() - t0
print(json.dumps({{"first_s": first, "warm_s": warm}}))
"""


def first_vs_warm_umap(n: int | None = None) -> dict:
    """Seconds of the first UMAP map (fit + transform) in a new process, numba's cache on disk (``NUMBA_CACHE_DIR``:
    as the launcher and tests set it; filled by an earlier process), vs the same work once warm in that process."""
    from latent_core.config import cache_subdir

    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(cache_subdir("numba")))
    code = _CHILD.format(root=str(ROOT), n=n)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)  # fills the disk cache
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["ratio"] = result["first_s"] / result["warm_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="rows of the default scenario (default: all 2225)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    spaces = default_spaces(args.n)
    rows = []
    for kind, label in (("umap", "UMAP"), ("tsne", "t-SNE")):
        r = redraw_vs_bare(kind, repeat=args.repeat, spaces=spaces)
        rows.append((f"anchor change, {label}: explorer's maps / bare fit + transform", r["explorer_s"], r["bare_s"],
                     r["ratio"], TARGETS[kind]))
        rows.append((f"  (same, with the new views: {r['views_s']:.2f} s)", r["explorer_s"] + r["views_s"],
                     r["bare_s"], (r["explorer_s"] + r["views_s"]) / r["bare_s"], TARGETS[kind]))
    r = first_vs_warm_umap(args.n)
    rows.append(("first UMAP in a new process (numba cache on disk) / warm", r["first_s"], r["warm_s"], r["ratio"],
                 TARGETS["first"]))
    print(f"N = {len(spaces[0])}, {os.cpu_count()} CPUs\n")
    print("| measurement | ours (s) | reference (s) | ratio | target |")
    print("|---|---:|---:|---:|---:|")
    for name, ours, reference, ratio, target in rows:
        print(f"| {name} | {ours:.2f} | {reference:.2f} | {ratio:.2f} | <= {target:g} |")


if __name__ == "__main__":
    main()
