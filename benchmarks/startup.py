"""Time from `python -m app.launch` to the default scenario's two charts drawn in headless Chromium.

Runs, in one go on this machine (ratios are what to compare; the machine is shared and noisy):
  cold   empty cache folder: unzip MPNet, hash weights, load models, read the bundled embeddings
  warm   the same cache folder again
  encode (with --encode) empty cache and no bundled embeddings: encodes 2225 articles with both models

Usage: python benchmarks/startup.py [--encode] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHART = '[data-testid="stPlotlyChart"]'
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_to_condition(browser, argv: list[str], env: dict[str, str], condition: str, *,
                      viewport: dict | None = None, timeout_s: float = 600) -> float:
    """Seconds from starting the server ``argv + --server.port P`` until ``condition`` (a JavaScript expression)
    holds in a new page of ``browser``; the server is stopped afterwards."""
    port = _port()
    start = time.perf_counter()
    process = subprocess.Popen([*argv, "--server.port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{argv} exited with {process.returncode} before serving")
            if time.perf_counter() - start > timeout_s:
                raise TimeoutError(f"{argv} did not serve within {timeout_s} s")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.05)
        page = browser.new_page(viewport=viewport) if viewport else browser.new_page()
        page.goto(url)
        page.wait_for_function(condition, timeout=timeout_s * 1000, polling=50)
        elapsed = time.perf_counter() - start
        page.close()
        return elapsed
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


# a chart whose points are drawn: a WebGL canvas (go.Scattergl) or SVG points (go.Scatter)
DRAWN = "c => c.querySelector('canvas') || c.querySelector('.scatterlayer .point')"
# both spaces drawn (the first chart alone is not "both spaces shown")
BOTH_CHARTS = f"[...document.querySelectorAll('{CHART}')].filter({DRAWN}).length >= 2"


def time_to_charts(browser, env: dict[str, str]) -> float:
    argv = [sys.executable, "-m", "app.launch", "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    return time_to_condition(browser, argv, env, BOTH_CHARTS)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--encode", action="store_true", help="also time the no-bundled, encode-everything start")
    parser.add_argument("--repeat", type=int, default=2, help="warm repetitions")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results: list[tuple[str, float]] = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as tmp:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        env = {**os.environ, "LATENT_CACHE_DIR": str(Path(tmp) / "cache")}
        results.append(("cold (empty cache, bundled embeddings)", time_to_charts(browser, env)))
        for _ in range(args.repeat):
            results.append(("warm", time_to_charts(browser, env)))
        if args.encode:
            env_encode = {**env, "LATENT_CACHE_DIR": str(Path(tmp) / "cache2"), "LATENT_BUNDLED_DIR": ""}
            results.append(("cold, encoding everything", time_to_charts(browser, env_encode)))
        browser.close()
    warm = min(t for name, t in results if name == "warm")
    print(f"{'start':45s} {'seconds':>8s} {'x warm':>7s}")
    for name, seconds in results:
        print(f"{name:45s} {seconds:8.1f} {seconds / warm:7.2f}")


if __name__ == "__main__":
    main()
