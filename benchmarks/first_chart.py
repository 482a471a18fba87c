"""Time to the first chart from a warm cache, against a bare Streamlit page with one Plotly chart of the same size.

Acceptance: the app's first chart from a warm cache takes at most 2x the bare page's. Both are timed the same way,
in one run and in alternating order, from process start to the first ``stPlotlyChart`` with its points drawn
(WebGL canvas or SVG points) in headless Chromium:

  ours  ``python -m app.launch`` (Streamlit in the launcher's process, ``app/main.py``) on a cache folder warmed
        by one discarded launch; the default scenario's first map
  ref   ``python -m streamlit run bare.py`` with the same server flags: ``import plotly`` and ONE scatter of 2,225
        random points (the default scenario's map: BBC News), 480 px high, in one of two columns of a wide page (as
        the app's panels). Its trace type is the app's for that many points (``SVG_MAX_POINTS``): ``go.Scatter``
        (SVG) today. In headless Chromium, where WebGL is software-rendered, an SVG page draws 0.6 s sooner than
        the same page with ``go.Scattergl``, so a WebGL reference would flatter the app.

Both use compiled bytecode: the app's modules are compiled first (``compileall``), as pip compiles the installed
packages the bare page imports (a machine with ``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile them at every
launch).

Usage: python benchmarks/first_chart.py [--repeat N] [--quick]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

from app.components.projection import SVG_MAX_POINTS  # noqa: E402
from benchmarks.startup import ARGS, CHART, DRAWN, time_to_condition  # noqa: E402

N_POINTS = 2225  # the default scenario's map (BBC News)
HEIGHT = 480  # app.components.projection.scatter_panel's default height
TRACE = "Scatter" if N_POINTS <= SVG_MAX_POINTS else "Scattergl"  # what the app draws for N_POINTS
SERVER_FLAGS = ["--server.address", "127.0.0.1", "--server.fileWatcherType", "none", "--server.headless", "true",
                "--browser.gatherUsageStats", "false"]
BARE_PAGE = f'''\
import numpy as np
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="bare", layout="wide")
xy = np.random.default_rng(0).normal(size=({N_POINTS}, 2))
figure = go.Figure(go.{TRACE}(x=xy[:, 0], y=xy[:, 1], mode="markers", marker={{"size": 6, "opacity": 0.8}}))
figure.update_layout(height={HEIGHT}, margin={{"l": 10, "r": 10, "t": 50, "b": 10}}, title="bare")
left, right = st.columns(2)
with left:
    st.plotly_chart(figure)
'''
FIRST_CHART = f"[...document.querySelectorAll('{CHART}')].some({DRAWN})"


def time_to_first_chart(browser, argv: list[str], env: dict[str, str], timeout_s: float = 600) -> float:
    """Seconds from starting ``argv + --server.port P`` to the first drawn Plotly chart in a new page."""
    return time_to_condition(browser, argv, env, FIRST_CHART, viewport={"width": 1400, "height": 1000},
                             timeout_s=timeout_s)


def first_chart_vs_bare(repeat: int = 3, quick: bool = False, cache_dir: str | os.PathLike | None = None) -> dict:
    """Median seconds to the first chart, ours (warm cache) and the bare page, alternating order; ``ratio`` = ours/ref.

    ``cache_dir``: the app's cache folder (default: ``LATENT_CACHE_DIR``, else a temporary folder). Either way it
    is warmed by one discarded launch first (a temporary folder's warm-up is a cold start: minutes). ``quick``: one
    timed launch of each.
    """
    from playwright.sync_api import sync_playwright

    repeat = 1 if quick else max(1, int(repeat))
    ours: list[float] = []
    ref: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        folder = cache_dir or os.environ.get("LATENT_CACHE_DIR") or str(Path(tmp) / "cache")
        env = {**os.environ, "LATENT_CACHE_DIR": str(folder)}
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_PAGE)
        compileall.compile_dir(ROOT / "app", quiet=1)
        compileall.compile_dir(ROOT / "latent_core", quiet=1)
        ours_argv = [sys.executable, "-m", "app.launch", *SERVER_FLAGS]
        ref_argv = [sys.executable, "-m", "streamlit", "run", str(bare), *SERVER_FLAGS]
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            warmup = {"ours": time_to_first_chart(browser, ours_argv, env),  # discarded: warms cache, .pyc, page cache
                      "ref": time_to_first_chart(browser, ref_argv, env)}
            for round_ in range(repeat):
                order = [("ours", ours_argv, ours), ("ref", ref_argv, ref)]
                for _, argv, times in order if round_ % 2 == 0 else order[::-1]:
                    times.append(time_to_first_chart(browser, argv, env))
        finally:
            browser.close()
    ours_s, ref_s = statistics.median(ours), statistics.median(ref)
    ratio = ours_s / ref_s
    return {"ours_s": round(ours_s, 2), "ref_s": round(ref_s, 2), "ratio": round(ratio, 2), "target": 2.0,
            "passed": ratio <= 2.0, "ours_all_s": [round(t, 2) for t in ours], "ref_all_s": [round(t, 2) for t in ref],
            "warmup_s": {name: round(t, 2) for name, t in warmup.items()},
            "note": (f"process start -> first stPlotlyChart with its points drawn in headless Chromium; ours = "
                     f"python -m app.launch on a warm cache ({folder}), ref = streamlit run of a page with one "
                     f"go.{TRACE} of {N_POINTS} points, {HEIGHT} px; medians of {repeat} alternating launches each "
                     f"after one discarded launch of each")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one timed launch of each")
    args = parser.parse_args()
    result = first_chart_vs_bare(repeat=args.repeat, quick=args.quick)
    for name, value in result.items():
        print(f"{name:12s} {value}")


if __name__ == "__main__":
    main()
