"""A batch output (LanceDB tables in the folder given to ``python -m app.launch --lance-db``) opened from the
Upload page and drawn by the explorer, in a real headless Chromium."""

from __future__ import annotations

import numpy as np
import pytest

from tests.browser.conftest import LOCAL_OPTIONS, running_app
from tests.browser.test_explorer_browser import _caption, _no_errors, _shot, _wait_for_panels
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def batch_app(tmp_path_factory):
    from latent_core.batch import store

    db = tmp_path_factory.mktemp("lance") / "db"
    rng = np.random.default_rng(0)
    ids = [f"doc-{i}" for i in range(3000)]
    centres = rng.normal(size=(4, 16)) * 3
    labels = [i % 4 for i in range(3000)]
    old = centres[labels] + rng.normal(size=(3000, 16))
    store.create_table(db, "bodies_old", store.make_batch(ids, old, extra={"label": [f"topic {k}" for k in labels]}))
    moved = old @ np.linalg.qr(rng.normal(size=(16, 16)))[0][:, :12]
    store.create_table(db, "bodies_moved", store.make_batch(ids[500:], moved[500:]))
    with running_app([*LOCAL_OPTIONS, "--lance-db", str(db)], "streamlit-lance.log") as url:
        yield url


def test_a_sample_of_two_tables_opens_in_the_explorer(page, batch_app):
    page.goto(f"{batch_app}/upload?lance_a=bodies_old&lance_b=bodies_moved")
    button = page.get_by_role("button", name="Explore this sample")
    button.wait_for(timeout=300_000)
    success = page.locator('[data-testid="stAlertContentSuccess"]').last.inner_text()
    assert "2,000 rows sampled from bodies_old" in success and "of their ids are in bodies_moved" in success
    matched = int(success.split("; ")[1].split(" of their ids")[0].replace(",", ""))
    assert 1600 <= matched <= 1700  # about 5/6 of an even sample: the rows after the first 500
    _shot(page, "upload-batch-output")
    _no_errors(page)
    button.click()
    page.wait_for_url("**data=upload*", timeout=120_000)  # the settings changed (the run after the click ended)
    page.get_by_role("link", name="Spaces").click()
    _wait_for_panels(page)
    _shot(page, "spaces-batch-output")
    _no_errors(page)
    assert f"{matched} samples, 4 classes" in _caption(page)
    assert (ARTIFACTS / "spaces-batch-output.png").exists()
