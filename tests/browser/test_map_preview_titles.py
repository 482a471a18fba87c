"""The Spaces page's preview titles in a real headless Chromium: while UMAP computes, the panels are titled as the
PCA preview they are; once the UMAP maps arrive, the same panels carry UMAP titles."""

from __future__ import annotations

import random

import pytest

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

CHART = '[data-testid="stPlotlyChart"]'
PANELS = 5
PREVIEW = "PCA preview, UMAP computing…"


def _titles(page) -> list[str]:
    return page.eval_on_selector_all(f"{CHART} .gtitle", "nodes => nodes.map(n => n.textContent)")


def test_preview_titles_say_pca_while_umap_computes_then_umap(page, app_url):
    # A seed and an anchor count no earlier run has used, so every UMAP map really has to be computed (the seed is
    # the maps' seed). With the seed of an earlier UMAP test, only the relative map was refitted, warm-started, and
    # the preview could be gone before Chromium drew it (CI failed here twice).
    k, seed = random.randint(120, 290), random.randint(1_000, 999_999)
    page.goto(f"{app_url}/?map=umap&k={k}&seed={seed}")
    # the titles are read in the same evaluation that finds the previews: the cached absolute maps may swap in a
    # moment later, and a second read would race them
    preview = page.wait_for_function(
        f"() => {{ const titles = [...document.querySelectorAll('{CHART} .gtitle')].map(t => t.textContent);"
        f" return titles.filter(t => t.includes('{PREVIEW}')).length >= {PANELS} ? titles : null; }}",
        timeout=300_000).json_value()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "spaces-umap-preview.png"), full_page=True)
    assert all("(UMAP)" not in title for title in preview), preview  # no PCA picture is called UMAP
    page.wait_for_function(
        f"[...document.querySelectorAll('{CHART} .gtitle')].filter(t => t.textContent.includes('(UMAP)'))"
        f".length >= {PANELS}", timeout=600_000)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
    page.wait_for_timeout(1500)  # let WebGL paint
    page.screenshot(path=str(ARTIFACTS / "spaces-umap-ready.png"), full_page=True)
    final = _titles(page)
    assert len(final) == PANELS and all(title.endswith("(UMAP)") for title in final), final
    assert not any("PCA" in title for title in final), final
    assert page.locator('[data-testid="stException"]').count() == 0
    caption = page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]').first.inner_text()
    assert f"{k} anchors" in caption
