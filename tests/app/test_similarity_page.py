"""AppTest of the Similarity page's metrics with bootstrap intervals and its alignment-vs-N chart (fake encoders),
against the library computed independently."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tests.app.fakes  # noqa: F401 - registers the fake: encoders in this process
from latent_core.anchors import select_anchors
from latent_core.data import load_dataset
from latent_core.embed import embed_dataset
from latent_core.encoders import get_encoder
from latent_core.explore import METRICS, compute_views
from latent_core.metrics import cknna, linear_cka, mean_rank, mutual_knn
from tests.app.helpers import app, assert_ok, figures, values

FAKE_TEXT = {"a": "fake:text-a", "b": "fake:text-b", "data": "bbc", "n": "150", "k": "20"}
ABSOLUTE, TRANSLATED = "absolute A vs absolute B", "B translated into A vs A"



@pytest.fixture(scope="module")
def spaces():
    data = load_dataset("bbc", n=150)
    a = embed_dataset(get_encoder("fake:text-a"), data).numpy()
    b = embed_dataset(get_encoder("fake:text-b"), data).numpy()
    return a, b, compute_views(a, b, select_anchors(a, 20, "random", seed=0))


def _parse(cell: str) -> tuple[float, float, float]:
    value, rest = cell.split(" [")
    low, high = rest.rstrip("]").split(", ")
    return float(value), float(low), float(high)


def test_all_metrics_with_intervals_on_the_button(spaces):
    a, b, views = spaces
    at = app(FAKE_TEXT).run()
    at.switch_page("views/similarity.py").run()
    assert_ok(at)
    quick = at.dataframe[0].value.set_index("comparison")
    assert "CKNNA" not in quick.columns and "top-1 retrieval" in quick.columns
    assert len(at.dataframe) == 1 and len(figures(at)) == 7  # no intervals, no curve before the buttons
    at.button(key="metrics-ci").click().run()
    assert_ok(at)
    table = at.dataframe[0].value.set_index("comparison")
    assert list(table.columns[1:]) == list(METRICS)
    assert float(table.loc[ABSOLUTE, "CKNNA"]) == pytest.approx(cknna(a, b, 10), abs=6e-4)
    assert float(table.loc[TRANSLATED, "mean rank"]) == pytest.approx(mean_rank(a, views.translated_b), abs=6e-4)
    assert table.loc[ABSOLUTE, "mean rank"] == "—"
    intervals = at.dataframe[1].value.set_index("comparison")
    for comparison in (ABSOLUTE, TRANSLATED):
        for metric in METRICS:
            if intervals.loc[comparison, metric] == "—":
                assert comparison == ABSOLUTE and METRICS.meta(metric)["shared_coordinates"]
                continue
            value, low, high = _parse(intervals.loc[comparison, metric])
            assert low <= value <= high and value == pytest.approx(float(table.loc[comparison, metric]), abs=1e-9)
    value, low, high = _parse(intervals.loc[ABSOLUTE, "linear CKA"])
    assert value == pytest.approx(linear_cka(a, b), abs=6e-4) and high - low > 0
    assert at.session_state["metrics-ci-asked"]
    assert not [i for i in at.info if "subsample" in i.value]  # 150 samples: the kernel CKAs use all of them


def test_alignment_vs_n_chart(spaces):
    a, b, _ = spaces
    at = app(FAKE_TEXT).run()
    at.switch_page("views/similarity.py").run()
    assert_ok(at)
    assert at.multiselect(key="curve-metrics").value == ["mutual k-NN", "Jaccard@k", "linear CKA"]
    at.multiselect(key="curve-metrics").set_value(["mutual k-NN", "linear CKA"])
    at.button(key="curve-run").click().run()
    assert_ok(at)
    curves = [f for f in figures(at).values() if "Alignment vs N" in str(f["layout"].get("title"))]
    assert len(curves) == 1 and len(figures(at)) == 8
    figure = curves[0]
    assert figure["layout"]["xaxis"]["type"] == "log"
    traces = {trace["name"]: trace for trace in figure["data"]}
    assert list(traces) == ["mutual k-NN", "linear CKA"]
    sizes = values(traces["mutual k-NN"]["x"])
    assert sizes.tolist() == [64, 128, 150]
    assert values(traces["mutual k-NN"]["y"])[-1] == pytest.approx(mutual_knn(a, b, 10))
    assert values(traces["linear CKA"]["y"])[-1] == pytest.approx(linear_cka(a, b))
    seed_means = [linear_cka(a[r], b[r]) for r in
                  (np.sort(np.random.default_rng(s).choice(150, 64, replace=False)) for s in (0, 1, 2))]
    assert values(traces["linear CKA"]["y"])[0] == pytest.approx(np.mean(seed_means))
    errors = traces["linear CKA"]["error_y"]
    assert values(errors["array"])[0] == pytest.approx(max(seed_means) - np.mean(seed_means))
    assert values(errors["arrayminus"])[0] == pytest.approx(np.mean(seed_means) - min(seed_means))
    assert math.isclose(values(errors["array"])[-1], 0, abs_tol=1e-12)  # every seed draws every sample at full N
    at.selectbox(key="curve-comparison").set_value("translated").run()  # new settings: the button again
    assert_ok(at)
    assert "top-1 retrieval" in at.multiselect(key="curve-metrics").options
    assert len(figures(at)) == 7
