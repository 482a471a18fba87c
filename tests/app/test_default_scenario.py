"""AppTest on the real offline models: the default scenario renders; a missing model reads as st.error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.app.helpers import app, values


def _points(chart) -> np.ndarray:
    """All (x, y) points of a Plotly chart element."""
    figure = json.loads(chart.proto.spec)
    return np.array([p for trace in figure["data"] for p in zip(values(trace["x"]), values(trace["y"]))])


@pytest.mark.slow
def test_default_scenario_shows_both_spaces():
    at = app(timeout=600).run()
    assert not at.exception and not at.error
    charts = {c.key: c for c in at.get("plotly_chart")}
    left, right = (_points(charts[key]) for key in ("panel-abs-a", "panel-abs-b"))
    assert left.shape == right.shape == (2225 + 300, 2)  # every sample, and the anchors drawn again on top
    assert not np.allclose(left, right, atol=1e-3), "two different encoders give different maps"
    assert "2225 samples, 5 classes" in at.caption[0].value


def test_missing_model_is_a_readable_error(monkeypatch):
    monkeypatch.setenv("LATENT_OFFLINE", "1")
    at = app({"b": "st:some-org/not-installed-model", "n": "20"}).run()
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "not-installed-model" in message and "offline" in message and "make demo" in message
    assert "What to do" in message


@pytest.mark.slow
def test_cold_cache_encodes_with_progress_then_plots(monkeypatch, isolated_cache):
    monkeypatch.setenv("LATENT_BUNDLED_DIR", "")
    at = app({"b": "onnx:paraphrase-MiniLM-L3-v2", "n": "30"}).run()
    assert not at.exception and not at.error
    charts = {c.key: c for c in at.get("plotly_chart")}
    assert len(_points(charts["panel-abs-b"])) == 30 + 29  # 30 samples; the anchors (29 of 30) drawn again
    assert len(list((isolated_cache / "embeddings").glob("*.npy"))) == 2, "both spaces were encoded and cached"
