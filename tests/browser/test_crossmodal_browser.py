"""The cross-modal page in a real browser: upload a picture, read ASIF's class scores."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_explorer_browser import CHART, _no_errors, _shot
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def _trouser_png():
    """A Fashion-MNIST trouser picture from the Debian package (the training split, so not one of the page's)."""
    from latent_core.data import load_dataset

    data = load_dataset("fashion-mnist", n=200, seed=7)
    index = next(i for i, y in enumerate(data.labels) if data.label_names[y].lower().startswith("trouser"))
    path = ARTIFACTS / "upload-trouser.png"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    data.items[index].resize((112, 112)).save(path)
    return path


def test_uploaded_image_gets_asif_scores(page, app_url):
    page.goto(f"{app_url}/crossmodal")
    page.wait_for_function(f"document.querySelectorAll('{CHART} .main-svg').length >= 3", timeout=300_000)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(_trouser_png()))
    # A picked test image is captioned "predicted: X · true: Y"; an upload has no true class.
    page.wait_for_function("document.body.innerText.includes('predicted:') && "
                           "!document.body.innerText.includes('· true:')", timeout=180_000)
    page.wait_for_function("document.querySelector('[data-testid=\"stStatusWidget\"]') === null", timeout=120_000)
    page.wait_for_timeout(1500)
    _shot(page, "crossmodal-upload")
    _no_errors(page)
    caption = page.get_by_text(re.compile(r"^predicted: ")).first.inner_text()
    assert caption.removeprefix("predicted: ").strip() == "Trouser"  # ASIF scores trousers at 0.77 vs <= 0.23
    assert page.get_by_text("ASIF score per class prompt").count() >= 1
