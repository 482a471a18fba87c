"""The Similarity page's alignment-vs-N chart in a real browser (default scenario), with a screenshot."""

from __future__ import annotations

import pytest

from tests.browser.test_explorer_browser import CHART, _no_errors, _shot
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def test_alignment_vs_n_chart_draws_one_line_per_metric(page, app_url):
    page.goto(f"{app_url}/similarity")
    page.wait_for_function(f"document.querySelectorAll('{CHART} .main-svg').length >= 7", timeout=300_000)
    page.get_by_role("button", name="Compute alignment vs N").click()
    page.wait_for_function(f"[...document.querySelectorAll('{CHART} .gtitle')].some(t => "
                           "t.textContent.includes('Alignment vs N'))", timeout=300_000)
    page.wait_for_timeout(1500)
    chart = page.locator(CHART).filter(has_text="Alignment vs N")
    chart.scroll_into_view_if_needed()
    _shot(page, "similarity-alignment-vs-n")
    chart.screenshot(path=str(ARTIFACTS / "similarity-alignment-vs-n-chart.png"))
    _no_errors(page)
    legend = chart.locator(".legend").text_content()
    assert "mutual k-NN" in legend and "Jaccard@k" in legend and "linear CKA" in legend
    assert chart.locator(".scatterlayer .trace").count() == 3
    assert chart.locator(".scatterlayer .point").count() == 3 * 7  # 64 ... 2048 and all 2,225 samples
    ticks = chart.locator(".xtick text").all_text_contents()
    assert any(t in ("100", "1000") for t in ticks) or any("k" in t for t in ticks), ticks  # a log axis
