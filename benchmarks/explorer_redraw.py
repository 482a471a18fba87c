"""Explorer redraw times: the whole Streamlit script run (sidebar, services, figures) in AppTest, on the real
default encoders (MiniLM vs MPNet) with N=2000 BBC articles whose embeddings are cached (the first run encodes
them once). Each change is timed on its own script run; the target is 1 s for a PCA redraw.

Usage: python benchmarks/explorer_redraw.py [--repeat 3] [--no-umap]
Reports medians and their ratio to the 1 s target and to a rerun that changes nothing (one process, one run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_S = 1.0


def timed(at, change) -> float:
    change(at)
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    if at.exception or at.error:
        raise SystemExit(f"The app failed: {[e.value for e in at.exception] or [e.value for e in at.error]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-umap", action="store_true")
    args = parser.parse_args()
    from latent_core._compat.torchvision_ops import ensure_torchvision_importable

    ensure_torchvision_importable()
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=1800)
    at.query_params.update({"n": "2000"})
    start = time.perf_counter()
    at.run()
    print(f"first run (loads models; encodes N=2000 unless cached): {time.perf_counter() - start:.1f} s")

    def slider(value):
        return lambda t: t.slider(key="w_n_anchors").set_value(value)

    def select(key, value):
        return lambda t: t.selectbox(key=key).set_value(value)

    def segmented(key, value):
        return lambda t: t.segmented_control(key=key).set_value(value)

    rows = []
    baseline = statistics.median(timed(at, lambda t: None) for _ in range(args.repeat))
    rows.append(("rerun, nothing changed", baseline))
    counts = [250, 200, 150, 100, 50, 120, 180][: max(args.repeat, 1) + 1]
    rows.append(("anchor count (PCA)", statistics.median(timed(at, slider(c)) for c in counts)))
    projections = ["euclidean", "angular", "cosine+center", "l1", "cosine"][: max(args.repeat, 1) + 1]
    rows.append(("relative projection (PCA)", statistics.median(timed(at, select("w_projection", p))
                                                                 for p in projections)))
    rows.append(("colour by agreement (PCA)", timed(at, segmented("w_color_by", "agreement"))))
    timed(at, segmented("w_color_by", "label"))
    if not args.no_umap:
        rows.append(("switch to UMAP (first time in this process)", timed(at, segmented("w_map_kind", "umap"))))
        rows.append(("anchor count with UMAP on (new relative map)", timed(at, slider(90))))
        rows.append(("back to PCA", timed(at, segmented("w_map_kind", "pca"))))
        rows.append(("UMAP again (maps cached)", timed(at, segmented("w_map_kind", "umap"))))
    print(f"\n{'change':48s} {'seconds':>8s} {'/ 1 s target':>13s} {'/ no-change rerun':>18s}")
    for name, seconds in rows:
        print(f"{name:48s} {seconds:8.2f} {seconds / TARGET_S:13.2f} {seconds / baseline:18.2f}")


if __name__ == "__main__":
    main()
