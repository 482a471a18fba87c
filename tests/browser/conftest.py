"""A running app (started by the project's launcher) and a headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, ROOT, require

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


@contextlib.contextmanager
def running_app(options: list[str], log_name: str, env: dict[str, str] | None = None):
    """``python -m app.launch <options>`` (which must bind 127.0.0.1 on ``port``), until the block ends; yields
    its URL. ``options`` may contain ``{port}``, filled with a free loopback port."""
    port = _free_port()
    log_path = ARTIFACTS / log_name
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.launch", *(o.format(port=port) for o in options)],
            cwd=ROOT, env=dict(os.environ) if env is None else env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while not _healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"The app did not start; see {log_path}:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):  # it may have exited already (its log says why)
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)


LOCAL_OPTIONS = ["--server.port", "{port}", "--server.address", "127.0.0.1", "--server.headless", "true",
                 "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]


@pytest.fixture(scope="session")
def app_url():
    """``python -m app.launch`` on a free loopback port, as the README starts it; stopped afterwards."""
    with running_app(LOCAL_OPTIONS, "streamlit.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    require(Path(CHROMIUM).exists(), "Chromium is missing: apt-get install chromium chromium-driver")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is missing: pip install -r requirements.txt")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def viewport():
    """A tall window: whole pages fit in one screenshot (Streamlit scrolls inside its own container).
    A test module overrides this fixture for another size."""
    return {"width": 1600, "height": 3000}


@pytest.fixture
def page(browser, viewport):
    context = browser.new_context(viewport=viewport)
    tab = context.new_page()
    yield tab
    context.close()
