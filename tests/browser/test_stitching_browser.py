"""The stitching lab in a real browser: type a sentence, see the stitched prediction."""

from __future__ import annotations

import pytest

from tests.browser.test_explorer_browser import CHART, _no_errors, _shot
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def test_live_prediction_of_a_typed_sentence(page, app_url):
    page.goto(f"{app_url}/stitching")
    box = page.get_by_label("Your text")
    box.wait_for(timeout=300_000)
    page.wait_for_selector(f"{CHART} .main-svg", timeout=300_000)
    box.fill("The striker scored twice as the team won the cup final in extra time.")
    box.press("Control+Enter")
    page.wait_for_function("document.body.innerText.includes('Stitched prediction: sports')", timeout=120_000)
    page.wait_for_function(f"document.querySelectorAll('{CHART} .main-svg').length >= 2", timeout=120_000)
    page.wait_for_timeout(1500)
    _shot(page, "live-prediction")
    _no_errors(page)
    assert page.get_by_text("Anchors most similar to your input").count() == 1
    bars = page.locator(CHART).first.locator(".legend").text_content()
    assert "B → A stitched" in bars and "B's own head" in bars and "A's head on A's encoding" in bars


def test_calibration_section_shows_the_reliability_diagram_and_the_ece(page, app_url):
    page.goto(f"{app_url}/stitching")
    page.wait_for_function("document.body.innerText.includes('ECE after calibration')", timeout=300_000)
    chart = page.locator(CHART).filter(has_text="Reliability diagram")
    chart.wait_for(timeout=120_000)
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    _no_errors(page)
    assert chart.locator(".scatterlayer .trace").count() == 3  # the diagonal, before, after
    legend = chart.locator(".legend").text_content()
    assert "perfectly calibrated" in legend and "before calibration (ECE" in legend and "after, T =" in legend
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="ECE before calibration")
    top, bottom = metric.bounding_box(), chart.bounding_box()
    clip = {"x": 0, "y": max(0, top["y"] - 60), "width": page.viewport_size["width"],
            "height": bottom["y"] + bottom["height"] - top["y"] + 80}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "stitching-calibration.png"), clip=clip)
