"""Start-up loads no model: the Spaces page of the default scenario draws from the bundled (or cached) embeddings
without reading MiniLM's or MPNet's weights."""

from __future__ import annotations

import pytest

from app.services import spaces
from latent_core.cache import BUNDLED_DIR
from latent_core.config import DEFAULT_SCENARIO
from latent_core.encoders import sentence
from latent_core.encoders.base import MODEL_LOADS, is_loaded
from tests.app.helpers import app
from tests.conftest import require


@pytest.mark.slow
def test_default_spaces_page_draws_without_loading_a_model(monkeypatch):
    require(any(BUNDLED_DIR.glob("*.npy")), "assets/embeddings holds no bundled embeddings")
    specs = (DEFAULT_SCENARIO.encoder_a, DEFAULT_SCENARIO.encoder_b)

    def refuse():
        raise AssertionError("the Spaces page loaded a model")

    monkeypatch.setattr(sentence, "_loader", refuse)
    spaces.encoder.clear()  # encoders and embeddings another test of this process may have left in memory
    spaces._loaded_spaces().clear()
    before = {spec: MODEL_LOADS[spec] for spec in specs}
    at = app(timeout=600).run()
    assert not at.exception and not at.error
    assert {c.key for c in at.get("plotly_chart")} >= {"panel-abs-a", "panel-abs-b"}
    assert {spec: MODEL_LOADS[spec] for spec in specs} == before
    for spec in specs:
        assert not is_loaded(spaces.encoder(spec)), spec  # built (for its cache key), never loaded
