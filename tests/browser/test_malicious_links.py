"""Every malicious link of issue 10 against the running app, in the local mode (``python -m app.launch``) and the
hosted mode (``python -m app.launch --hosted``), in a real Chromium: no server file, no environment, no server path,
no rendered link or fetched image, no traceback, and the same words for a present and a missing path."""

from __future__ import annotations

import os
import re
from urllib.parse import urlencode

import pytest

from tests.browser.conftest import LOCAL_OPTIONS, running_app
from tests.conftest import ARTIFACTS, ROOT

pytestmark = pytest.mark.browser

SECRET = "latent-browser-secret-5d1e"  # in the servers' environment: it must never reach a page
EVIL = "127.0.0.1:9"  # the discard port: nothing answers, but a request to it would be seen
LINKS = {
    "shadow": {"data": "table:/etc/shadow#text=root&label=root"},
    "environ": {"data": "table:/proc/self/environ"},
    "passwd": {"a": "file:/etc/passwd"},
    "missing": {"a": "file:/nonexistent/secret.npy"},
    "zip": {"data": "zip:/etc/passwd"},
    "zip-missing": {"data": "zip:/nonexistent.zip"},
    "folder": {"b": "st:/etc"},
    "phishing": {"a": f"x:[Your session expired - click here](http://{EVIL}/login) ![](http://{EVIL}/track.png)"},
    "anchor-link": {"k": f"[click here](http://{EVIL}/)"},
    "three": {"n": "3"},
    "long": {"a": "A" * 10_000},
}
SAME = [("passwd", "missing"), ("zip", "zip-missing")]


@pytest.fixture(scope="module", params=["local", "hosted"])
def server(request):
    options = LOCAL_OPTIONS if request.param == "local" else [
        "--hosted", "--address", "127.0.0.1", "--port", "{port}"]
    env = {**os.environ, "LATENT_SECRET_PROBE": SECRET}
    with running_app(options, f"streamlit-{request.param}.log", env) as url:
        yield request.param, url


def _visit(page, url: str, query: dict[str, str]) -> tuple[str, str]:
    """Open the link, wait for the page to settle on its charts or its message; (visible text, HTML)."""
    page.goto(f"{url}/?{urlencode(query)}", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stSidebar"] [data-testid="stAlert"], [data-testid="stPlotlyChart"]',
                           timeout=180_000)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=180_000)
    page.wait_for_timeout(500)
    return page.inner_text("body"), page.content()


def _alerts(page) -> list[str]:
    return [a.inner_text() for a in page.query_selector_all('[data-testid="stAlert"]')]


def test_malicious_links_in_both_modes(server, page):
    mode, url = server
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    with open("/etc/passwd") as passwd:
        passwd_line = passwd.readline().strip()
    alerts = {}
    for name, query in LINKS.items():
        text, markup = _visit(page, url, query)
        alerts[name] = _alerts(page)
        assert passwd_line not in text and "root:x:" not in text, (mode, name, "a server file reached the page")
        assert SECRET not in text and SECRET not in markup, (mode, name, "the environment reached the page")
        assert "Traceback" not in text and "site-packages" not in text and str(ROOT) not in text, (mode, name)
        assert "/etc/" not in text and "/proc/" not in text and "/nonexistent" not in text, (mode, name, "a path")
        assert not re.search(rf'<a[^>]+href="[^"]*{re.escape(EVIL)}', markup), (mode, name, "a rendered link")
        assert not re.search(rf'<img[^>]+src="[^"]*{re.escape(EVIL)}', markup), (mode, name, "a rendered image")
        if name in ("phishing", "anchor-link"):
            assert any("Ignored" in a for a in alerts[name]), (mode, name, alerts[name])
        if name == "long":
            assert all(len(a) < 1000 for a in alerts[name]) and "A" * 100 not in text
        if name == "three":
            assert "only 3 samples" in text
        page.screenshot(path=str(ARTIFACTS / f"malicious-{mode}-{name}.png"))
    assert not [r for r in requests if EVIL in r], f"{mode}: the page fetched {requests}"
    for present, missing in SAME:
        assert alerts[present] == alerts[missing] and alerts[present], (mode, present, missing)
