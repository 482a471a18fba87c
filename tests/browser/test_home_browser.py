"""The real app, on the real offline models, in a real headless Chromium."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

CHART = '[data-testid="stPlotlyChart"]'


def _distinct_colours(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB").resize((300, 220))
    return len(image.getcolors(maxcolors=1 << 20))


def test_default_scenario_renders_both_spaces(page, app_url):
    page.goto(app_url)
    page.wait_for_selector(f"{CHART} .main-svg", timeout=300_000)
    page.wait_for_function(f"document.querySelectorAll('{CHART}').length >= 2", timeout=120_000)
    page.wait_for_selector(f"{CHART} canvas", timeout=60_000)  # WebGL scatter draws on a canvas
    page.wait_for_timeout(1500)  # let WebGL paint
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)

    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    assert page.get_by_text("2225 samples, 5 classes").count() == 1
    charts = page.locator(CHART)
    assert charts.count() == 2
    for index in range(2):
        chart = charts.nth(index)
        legend = chart.locator(".legend .traces")
        assert legend.count() == 5  # one entry per BBC topic
        shot = chart.screenshot()
        (ARTIFACTS / f"home-chart-{index}.png").write_bytes(shot)
        assert _distinct_colours(shot) > 40, "the scatter looks blank"
