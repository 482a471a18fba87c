"""The Learn page in a real headless Chromium, on the real offline models (default scenario): every step through
the Next button, one screenshot per step, and presenter mode."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.lesson import STEPS
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

CHART = '[data-testid="stPlotlyChart"]'
MAIN = '[data-testid="stMain"]'
CHARTS_PER_STEP = (3, 2, 2, 1, 1, 2, 1, 1)  # plotly figures each step draws


@pytest.fixture
def viewport():
    """A whole step fits in one screenshot."""
    return {"width": 1600, "height": 2200}


def _distinct_colours(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB").resize((300, 220))
    return len(image.getcolors(maxcolors=1 << 20))


def _settled(page) -> None:
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=300_000)
    page.wait_for_timeout(800)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=300_000)


def _wait_for_step(page, number: int) -> None:
    """The step's header, its charts drawn, the app idle, and WebGL given time to paint."""
    title = STEPS[number - 1].title
    page.wait_for_function(
        f"[...document.querySelectorAll('{MAIN} h2')].some(h => h.textContent.includes({title!r}))", timeout=300_000)
    count = CHARTS_PER_STEP[number - 1]
    drawn = (  # the previous step's elements stay on screen, marked stale, until the run ends
        f"document.querySelectorAll('{CHART}').length === {count} && !document.querySelector('[data-stale=\"true\"]')"
        f" && document.querySelectorAll('{CHART} .main-svg').length >= {count}")
    for _ in range(3):  # a widget change can queue a second run just after the first ends: wait for that one too
        page.wait_for_function(drawn, timeout=300_000)
        _settled(page)
        if page.evaluate(drawn):
            break
    assert page.locator(CHART).count() == count
    page.wait_for_timeout(1500)


def _no_errors(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _font_px(page, number: int) -> float:
    """Font size of the step's explanation paragraph."""
    start = STEPS[number - 1].explanation[:20]
    explanation = page.locator(f'{MAIN} [data-testid="stMarkdownContainer"] p', has_text=start).first
    return float(explanation.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))


def test_walk_through_every_step_with_next(page, app_url):
    page.goto(f"{app_url}/learn")
    for number in range(1, len(STEPS) + 1):
        _wait_for_step(page, number)
        _no_errors(page)
        assert page.get_by_text(f"Step {number} of {len(STEPS)}").count() == 1
        assert page.locator(f"{MAIN} .katex").count() >= 1, "the step's formula"
        assert page.get_by_text("What to notice:").count() == 1
        assert f"step={number}" in page.url
        _shot(page, f"learn-step-{number}")
        for index in range(CHARTS_PER_STEP[number - 1]):
            assert _distinct_colours(page.locator(CHART).nth(index).screenshot()) > 20, f"step {number}: blank chart"
        if number == 1:  # the control: A's own vectors, rotated, fool A's classifier too
            page.get_by_text("A's own vectors, rotated at random").click()
            page.wait_for_function(f"document.querySelector('{MAIN}').innerText.includes('on A\\'s vectors rotated')",
                                   timeout=300_000)
            _wait_for_step(page, number)
            _no_errors(page)
            _shot(page, "learn-step-1-rotated")
            page.get_by_text("B's vectors of the same samples").click()
            page.wait_for_function(f"document.querySelector('{MAIN}').innerText.includes('on B\\'s raw vectors')",
                                   timeout=300_000)
            _wait_for_step(page, number)
        if number == 4:  # presenter mode: larger text, kept on the next step, then off again
            normal = _font_px(page, number)
            page.get_by_text("Presenter mode").click()
            _wait_for_step(page, number)
            assert _font_px(page, number) > normal * 1.2
            _shot(page, f"learn-step-{number}-presenter")
            page.get_by_role("button", name="Next →").first.click()
            _wait_for_step(page, number + 1)
            assert page.get_by_role("switch", name="Presenter mode").is_checked()
            assert _font_px(page, number + 1) > normal * 1.2
            _shot(page, f"learn-step-{number + 1}-presenter")
            page.get_by_text("Presenter mode").click()
            _wait_for_step(page, number + 1)
            assert _font_px(page, number + 1) == pytest.approx(normal)
            page.get_by_role("button", name="← Previous").first.click()
            _wait_for_step(page, number)
        if number < len(STEPS):
            page.get_by_role("button", name="Next →").first.click()
    assert page.get_by_role("button", name="Next →").first.is_disabled()
    assert page.get_by_text("CLIP").count() >= 1
