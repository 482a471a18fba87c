"""The Spaces page's "What moved" tables in a real headless Chromium, on the real offline models: clicking a row of
the most-changed table highlights that sample (and only it) in all five panels."""

from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

CHART = '[data-testid="stPlotlyChart"]'
PANELS = 5
CHANGED = '.st-key-moved-changed [data-testid="stDataFrame"]'
HEADER_PX = ROW_PX = 35  # the table's header and row heights (row_height in app/views/spaces.py)
SELECTED_IDS = ("() => [...document.querySelectorAll('.js-plotly-plot')].map(plot => plot.data"
                ".filter(t => (t.name || '').startsWith('selected')).map(t => Array.from(t.customdata, c => c[0])))")


@pytest.fixture
def viewport():
    """Tall enough for the five panels and both tables below them in one screenshot."""
    return {"width": 1600, "height": 4400}


def _settled(page) -> None:
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
    page.wait_for_timeout(1500)  # let the last panels paint


def test_clicking_a_most_changed_row_highlights_the_sample_in_every_panel(page, app_url):
    page.goto(app_url)
    page.wait_for_function(f"document.querySelectorAll('{CHART} .main-svg').length >= {PANELS}", timeout=300_000)
    page.wait_for_selector(CHANGED, timeout=120_000)
    _settled(page)
    assert page.evaluate(SELECTED_IDS) == [[]] * PANELS, "nothing is selected before the click"
    table = page.locator(CHANGED)
    # the grid's accessible copy of the cells: column 2 is the id (column 0 the row markers, 1 the rank)
    first_id = table.locator('[data-testid="glide-cell-2-0"]').text_content()
    assert table.locator('[data-testid="glide-cell-1-0"]').text_content() == "1" and "/" in first_id
    box = table.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + HEADER_PX + ROW_PX / 2)  # the first row's selection checkbox
    page.wait_for_function(
        f"[...document.querySelectorAll('{CHART} .legend')].filter(l => l.textContent.includes('selected (1)'))"
        f".length >= {PANELS}", timeout=120_000)
    _settled(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "spaces-what-moved.png"), full_page=True)
    table.screenshot(path=str(ARTIFACTS / "spaces-what-moved-table.png"))
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    selected = page.evaluate(SELECTED_IDS)
    assert len(selected) == PANELS
    # every panel has a "selected" trace holding exactly that sample (the translation panel also its B→A cross)
    assert all(traces and all(ids == [first_id] for ids in traces) for traces in selected), selected
    assert page.get_by_text("Clear selection (1)").count() == 1
    assert page.get_by_text("Full ranking (2225 samples) as CSV").count() == 1
