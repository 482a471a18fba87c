"""The real app, on the real offline models, in a real headless Chromium."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

CHART = '[data-testid="stPlotlyChart"]'
PANELS = 5


def _distinct_colours(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB").resize((300, 220))
    return len(image.getcolors(maxcolors=1 << 20))


def _wait_for_panels(page, count: int = PANELS) -> None:
    page.wait_for_function(f"document.querySelectorAll('{CHART} .main-svg').length >= {count}", timeout=300_000)
    # points drawn: SVG for the default scenario's 2,225 (go.Scatter), a WebGL canvas above 5,000 (go.Scattergl)
    page.wait_for_selector(f"{CHART} .scatterlayer .point, {CHART} canvas", timeout=60_000)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
    page.wait_for_timeout(1500)  # let the last panels paint


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _no_errors(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def _caption(page) -> str:
    return page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]').first.inner_text()


def test_default_scenario_renders_every_panel(page, app_url):
    page.goto(app_url)
    _wait_for_panels(page)
    _shot(page, "spaces")
    _no_errors(page)
    assert "2225 samples, 5 classes" in _caption(page)
    charts = page.locator(CHART)
    assert charts.count() == PANELS
    for index in range(PANELS):
        chart = charts.nth(index)
        assert chart.locator(".legend .traces").count() >= 6  # five topics and the anchors
        shot = chart.screenshot()
        (ARTIFACTS / f"spaces-panel-{index}.png").write_bytes(shot)
        assert _distinct_colours(shot) > 40, "the scatter looks blank"


def test_anchor_count_change_redraws_and_lands_in_the_url(page, app_url):
    page.goto(app_url)
    _wait_for_panels(page)
    assert "300 anchors" in _caption(page)
    thumb = page.locator('[data-testid="stSlider"] input[type="range"]').first
    # One step at a time, each rerun finished before the next press: fast presses can leave the slider on a value
    # the app never runs with (a known bug, in the issue note), which is not what this test is about.
    for count in range(299, 294, -1):
        thumb.press("ArrowLeft")
        page.wait_for_function("document.querySelector('[data-testid=\"stMain\"] [data-testid=\"stCaptionContainer\"]')"
                               f".innerText.includes('{count} anchors')", timeout=120_000)
    _wait_for_panels(page)
    _shot(page, "spaces-295-anchors")
    _no_errors(page)
    assert "k=295" in page.url
    again = page.context.new_page()  # a copied link reopens the same view
    again.goto(page.url)
    _wait_for_panels(again)
    assert "295 anchors" in _caption(again)


def test_fast_slider_presses_end_with_the_app_on_the_slider_value(page, app_url):
    """Fifty quick presses while Chromium still draws earlier runs: Streamlit's message queue to this browser
    overflows. Without ``app.backpressure`` the session was dropped in silence and the app stayed at 272-287 anchors
    while the slider said 250; now the browser reconnects and the app follows the slider."""
    page.goto(app_url)
    _wait_for_panels(page)
    thumb = page.locator('[data-testid="stSlider"] input[type="range"]').first
    for _ in range(50):
        thumb.press("ArrowLeft")
    shown = page.locator('[data-testid="stSlider"] [data-testid="stSliderThumbValue"]').first
    # the slider may drop a few presses while it is re-rendered; whatever it shows, the app must end there
    page.wait_for_function(
        "() => { const value = document.querySelector('[data-testid=\"stSlider\"] "
        "[data-testid=\"stSliderThumbValue\"]').innerText;"
        " const caption = document.querySelector('[data-testid=\"stMain\"] [data-testid=\"stCaptionContainer\"]');"
        " return caption && caption.innerText.includes(` ${value} anchors`)"
        " && !document.querySelector('[data-testid=\"stStatusWidget\"]'); }", timeout=180_000)
    value = int(shown.inner_text())
    assert value <= 260, value  # most presses landed
    _wait_for_panels(page)
    assert f"k={value}" in page.url
    assert f"{value} anchors" in _caption(page)
    _no_errors(page)


def test_lasso_selection_highlights_the_same_samples_in_every_panel(page, app_url):
    page.goto(app_url)
    _wait_for_panels(page)
    relative_b = page.locator(CHART).nth(3)
    relative_b.scroll_into_view_if_needed()
    box = relative_b.locator(".nsewdrag").first.bounding_box()
    cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
    w, h = box["width"] * 0.08, box["height"] * 0.08
    page.mouse.move(cx - w, cy - h)
    page.mouse.down()
    for x, y in ((cx + w, cy - h), (cx + w, cy + h), (cx - w, cy + h), (cx - w, cy - h)):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    page.wait_for_function(
        f"[...document.querySelectorAll('{CHART} .legend')].filter(l => /selected \\(\\d+\\)/.test(l.textContent))"
        f".length >= {PANELS}", timeout=120_000)
    _wait_for_panels(page)
    _shot(page, "spaces-selection")
    _no_errors(page)
    counts = set()
    for index in range(PANELS):
        legend = page.locator(CHART).nth(index).locator(".legend").text_content()
        counts.update(re.findall(r"selected \((\d+)\)", legend))
    assert len(counts) == 1 and int(counts.pop()) > 0, "the same number of samples is highlighted everywhere"
    assert page.get_by_text(re.compile(r"Clear selection \(\d+\)")).count() == 1
    assert page.locator(CHART).nth(4).locator(".legend").text_content().count("A → B→A") == 1  # translation lines


def test_similarity_page_draws_heatmaps_and_metrics(page, app_url):
    page.goto(f"{app_url}/similarity")
    page.wait_for_function(f"document.querySelectorAll('{CHART} .main-svg').length >= 7", timeout=300_000)
    page.wait_for_timeout(1000)
    _shot(page, "similarity")
    _no_errors(page)
    assert page.locator('[data-testid="stDataFrame"]').count() >= 1
    assert page.get_by_text("linear CKA").count() >= 1


def test_umap_shows_pca_first_then_the_umap_panels(page, app_url):
    page.goto(f"{app_url}/?map=umap&color=agreement")
    page.wait_for_function("document.body.innerText.includes('PCA shown while UMAP is computed')", timeout=300_000)
    page.wait_for_function("document.body.innerText.includes('UMAP maps ready')", timeout=900_000)
    page.wait_for_function(f"[...document.querySelectorAll('{CHART} .gtitle')].filter(t => "
                           f"t.textContent.includes('(UMAP)')).length >= 4", timeout=120_000)
    _wait_for_panels(page)
    _shot(page, "spaces-umap")
    _no_errors(page)
    assert page.get_by_text("PCA shown while UMAP is computed").count() == 0, "the preview is replaced"


def test_hovering_a_point_shows_its_id_label_and_text(page, app_url):
    """The hover label is built from the two customdata columns and the literal class name of its trace."""
    page.goto(app_url)
    _wait_for_panels(page)
    point = page.locator(f"{CHART} .scatterlayer .point").nth(5)
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector(".hoverlayer .hovertext", timeout=10_000)
    lines = [t.text_content() for t in page.locator(".hoverlayer .hovertext text tspan.line").all()]
    _shot(page, "spaces-hover")
    sample_id, label = lines[0].split(" · ")
    topic = sample_id.split("/")[0]  # BBC ids are <folder>/<number>, the folder named after the class
    assert label in {"business", "entertainment", "politics", "sports", "tech"} and label.startswith(topic)
    assert len(lines[1]) > 20, f"no article text in the hover label: {lines}"
