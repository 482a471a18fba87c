"""AppTest of the first page: the default scenario renders both spaces; failures read as st.error."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import latent_core.config as config
from tests.conftest import ROOT

APP = str(ROOT / "app" / "main.py")


def _points(chart) -> np.ndarray:
    """All (x, y) points of a Plotly chart element (arrays may be base64-packed by plotly 7)."""
    figure = json.loads(chart.proto.spec)
    points = []
    for trace in figure["data"]:
        xs, ys = (_values(trace[axis]) for axis in ("x", "y"))
        points.extend(zip(xs, ys))
    return np.array(points)


def _values(data):
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
    return np.asarray(data, dtype=float)


@pytest.mark.slow
def test_default_scenario_shows_both_spaces():
    at = AppTest.from_file(APP, default_timeout=600).run()
    assert not at.exception and not at.error
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    left, right = (_points(c) for c in charts)
    assert left.shape == right.shape == (2225, 2)
    assert not np.allclose(left, right, atol=1e-3), "two different encoders give different maps"
    assert "2225 samples, 5 classes" in at.caption[0].value


def test_missing_model_is_a_readable_error(monkeypatch):
    broken = replace(config.DEFAULT_SCENARIO, encoder_b="st:some-org/not-installed-model", n_samples=20)
    monkeypatch.setattr(config, "DEFAULT_SCENARIO", broken)
    monkeypatch.setenv("LATENT_OFFLINE", "1")
    at = AppTest.from_file(APP, default_timeout=300).run()
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "not-installed-model" in message and "offline" in message and "make demo" in message


@pytest.mark.slow
def test_cold_cache_encodes_with_progress_then_plots(monkeypatch, isolated_cache):
    small = replace(config.DEFAULT_SCENARIO, encoder_b="onnx:paraphrase-MiniLM-L3-v2", n_samples=30)
    monkeypatch.setattr(config, "DEFAULT_SCENARIO", small)
    monkeypatch.setenv("LATENT_BUNDLED_DIR", "")
    at = AppTest.from_file(APP, default_timeout=300).run()
    assert not at.exception and not at.error
    assert [len(_points(c)) for c in at.get("plotly_chart")] == [30, 30]
    assert len(list((isolated_cache / "embeddings").glob("*.npy"))) == 2, "both spaces were encoded and cached"
