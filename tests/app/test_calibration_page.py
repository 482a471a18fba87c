"""AppTest of the Stitching lab's calibration: the live bars are calibrated, the reliability diagram and the ECE before
and after on the test samples (fake encoders; the default scenario's real spaces in the slow test)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

import tests.app.fakes  # noqa: F401 - registers the fake: encoders
from app.services import stitching as lab
from latent_core.data import load_dataset
from latent_core.embed import embed_dataset
from latent_core.encoders import get_encoder
from tests.app.helpers import app, assert_ok, figures, values
from tests.app.test_stitching_page import FAKE_TEXT, _lab
from tests.conftest import ROOT


def _reliability(at) -> dict:
    return next(f for f in figures(at).values() if f["layout"]["title"]["text"].startswith("Reliability diagram"))


def _metrics(at) -> dict[str, float]:
    return {m.label: float(m.value) for m in at.metric}


def _ece_of_trace(trace: dict, n: int) -> float:
    """ECE recomputed from the diagram's points: sum over bins of count / n * |confidence - accuracy|."""
    x, y, count = values(trace["x"]), values(trace["y"]), values(trace["customdata"])
    assert count.sum() == n
    return float(np.sum(count / n * np.abs(x - y)))


def _check_diagram(at) -> tuple[float, float]:
    metrics = _metrics(at)
    before, after = metrics["ECE before calibration"], metrics["ECE after calibration"]
    figure = _reliability(at)
    names = [t["name"] for t in figure["data"]]
    assert names[0] == "perfectly calibrated" and names[1].startswith("before") and names[2].startswith("after, T =")
    n = int(figure["layout"]["title"]["text"].split("(")[1].split()[0])
    assert _ece_of_trace(figure["data"][1], n) == pytest.approx(before, abs=6e-4)
    assert _ece_of_trace(figure["data"][2], n) == pytest.approx(after, abs=6e-4)
    assert f"T = {metrics['temperature T']:.2f}" in names[2]
    return before, after


def test_diagram_and_ece_numbers_match_and_the_live_bars_are_calibrated(isolated_cache):
    at = _lab(FAKE_TEXT)
    before, after = _check_diagram(at)
    assert 0 <= after <= 1 and 0 <= before <= 1
    assert any(c.value.startswith("Temperature scaling divides") for c in at.caption)
    assert any(c.value.startswith("Calibrated probabilities") for c in at.caption)
    # The stitched bar is the stitched head's own probabilities through softmax(log p / T) (scipy reference).
    settings = lab.Settings(encoder_a=FAKE_TEXT["a"], encoder_b=FAKE_TEXT["b"], dataset="bbc", n_samples=200,
                            n_anchors=30)
    model = lab.live_model(settings, "relative:cosine")
    text = at.text_area(key="live-text").value
    raw = model.stitcher.model.predict_proba(get_encoder(FAKE_TEXT["b"]).encode([text]).numpy())[0]
    expected = softmax(np.log(np.clip(raw, 1e-12, None)) / model.stitcher.temperature)
    shown = values(figures(at)["chart-0"]["data"][0]["y"])
    np.testing.assert_allclose(shown, expected, atol=1e-5)
    assert np.argmax(shown) == np.argmax(raw)
    # The metrics are those of the live model on B's test samples (independent numpy ECE, 15 bins).
    data = load_dataset("bbc", n=200)
    b = embed_dataset(get_encoder(FAKE_TEXT["b"]), data).numpy()
    probs = model.stitcher.model.predict_proba(b[model.test_idx])
    truth = np.searchsorted(model.classes, data.labels[model.test_idx])
    confidence, correct = probs.max(1), probs.argmax(1) == truth
    edges = np.linspace(0, 1, lab.CALIBRATION_BINS + 1)
    ece = sum(np.mean(m) * abs(confidence[m].mean() - correct[m].mean())
              for lo, hi in zip(edges[:-1], edges[1:]) if (m := (confidence > lo) & (confidence <= hi)).any())
    assert before == pytest.approx(ece, abs=6e-4)


def test_too_few_samples_per_class_shows_the_heads_own_probabilities(isolated_cache):
    at = _lab({**FAKE_TEXT, "data": "digits", "a": "fake:image-a", "b": "fake:image-b", "n": "60", "k": "10"})
    assert not at.metric and any("Too few training samples per class" in i.value for i in at.info)
    assert "Stitched prediction" in at.success[0].value


@pytest.mark.slow
def test_default_scenario_calibration_lowers_the_ece_on_the_test_samples(monkeypatch):
    monkeypatch.setenv("LATENT_CACHE_DIR", str(ROOT / ".cache" / "latent"))
    at = app(timeout=600)
    at.run()
    at.switch_page("views/stitching.py").run()
    assert_ok(at)
    before, after = _check_diagram(at)
    assert after < before, (before, after)
    assert _metrics(at)["temperature T"] > 1
