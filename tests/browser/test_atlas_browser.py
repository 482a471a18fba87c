"""The Spaces page's atlas panel (Charts to Atlas) in a real headless Chromium, on the real offline models: the
toggle adds a sixth panel, the map of A's and B's relative spaces merged; an encoder C in the link merges three."""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
from PIL import Image

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

CHART = '[data-testid="stPlotlyChart"]'
PANELS = 5  # absolute A and B, relative A and B, translated B
ATLAS = '.st-key-panel-atlas [data-testid="stPlotlyChart"]'
L3 = "onnx:paraphrase-MiniLM-L3-v2"


def _settled(page, charts: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('{CHART} .main-svg').length >= {charts}", timeout=300_000)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
    page.wait_for_timeout(1500)  # let the last panels paint


def _titles(page) -> list[str]:
    return page.eval_on_selector_all(f"{CHART} .gtitle", "nodes => nodes.map(n => n.textContent)")


def _colours(png: bytes) -> int:
    return len(Image.open(io.BytesIO(png)).convert("RGB").resize((300, 220)).getcolors(maxcolors=1 << 20))


def _check_atlas_panel(page, roles: str, name: str) -> None:
    atlas = page.locator(ATLAS)
    assert atlas.count() == 1
    atlas.scroll_into_view_if_needed()
    shot = atlas.screenshot()
    (ARTIFACTS / f"{name}.png").write_bytes(shot)
    assert _colours(shot) > 40, "the atlas scatter looks blank"
    assert f"atlas of {roles} (PCA)" in _titles(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def test_the_toggle_adds_the_atlas_of_a_and_b(page, app_url):
    page.goto(app_url)
    _settled(page, PANELS)
    assert page.locator(ATLAS).count() == 0  # hidden until asked for: the default page stays five panels
    page.get_by_text("Show the atlas of A and B").click()
    _settled(page, PANELS + 1)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "spaces-atlas-ab.png"), full_page=True)
    _check_atlas_panel(page, "A + B", "spaces-atlas-ab-panel")
    assert "Choose an Encoder C" in page.locator('[data-testid="stMain"]').inner_text()


def test_an_encoder_c_in_the_link_merges_three_spaces(page, app_url):
    page.goto(f"{app_url}/?c={quote(L3, safe='')}")
    _settled(page, PANELS + 1)  # with C chosen the atlas is drawn without the toggle
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "spaces-atlas-abc.png"), full_page=True)
    _check_atlas_panel(page, "A + B + C", "spaces-atlas-abc-panel")
    caption = page.locator('[data-testid="stMain"]').inner_text()
    assert "C = paraphrase-MiniLM-L3-v2" in caption or "C = onnx:paraphrase-MiniLM-L3-v2" in caption, caption[-800:]
