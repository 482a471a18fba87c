"""``python -m latent_core.experiments measure``: the table, the files, and readable errors (fake encoders)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tests.app.fakes  # noqa: F401 - registers the fake encoders in this process
from latent_core.anchors import select_anchors
from latent_core.data import load_dataset
from latent_core.embed import embed_dataset
from latent_core.encoders import get_encoder
from latent_core.experiments.__main__ import main
from latent_core.explore import METRICS, compute_views
from latent_core.metrics import linear_cka, mean_rank, mutual_knn

ARGS = ["measure", "--a", "fake:text-a", "--b", "fake:text-b", "--dataset", "bbc", "--n", "90", "--k", "5",
        "--anchors", "20", "--boot", "8", "--boot-samples", "40", "--quiet"]


def test_measure_prints_and_writes_every_metric_with_intervals(tmp_path, capsys):
    assert main([*ARGS, "--ladder", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    frame = pd.read_csv(tmp_path / "metrics.csv")
    assert set(frame["metric"]) == set(METRICS)
    assert (frame["low"] <= frame["value"] + 1e-12).all() and (frame["value"] <= frame["high"] + 1e-12).all()
    data = load_dataset("bbc", n=90, seed=0)
    a = embed_dataset(get_encoder("fake:text-a"), data).cpu().numpy()
    b = embed_dataset(get_encoder("fake:text-b"), data).cpu().numpy()
    rows = frame.set_index(["comparison", "metric"])["value"]
    assert rows[("absolute A vs absolute B", "linear CKA")] == pytest.approx(linear_cka(a, b), rel=1e-6)
    assert rows[("absolute A vs absolute B", "mutual k-NN")] == pytest.approx(mutual_knn(a, b, 5), abs=1e-6)
    views = compute_views(a, b, select_anchors(a, 20, "random", seed=0))
    assert rows[("B translated into A vs A", "mean rank")] == pytest.approx(mean_rank(a, views.translated_b))
    assert ("absolute A vs absolute B", "MRR") not in rows.index  # needs shared coordinates
    ladder = pd.read_csv(tmp_path / "alignment_vs_n.csv")
    assert sorted(set(ladder["size"])) == [64, 90] and set(ladder["seed"]) == {0, 1, 2}
    assert (tmp_path / "metrics.md").read_text() in printed + "\n"
    assert "| absolute A vs absolute B | CKNNA |" in printed and "Alignment vs N" in printed
    assert np.isfinite(ladder["value"]).all()


@pytest.mark.parametrize(("extra", "message"), [
    (["--b", "nope:x"], "Unknown encoder backend 'nope'"),
    (["--dataset", "nope"], "nope"),
    (["--k", "0"], "--k must be a positive integer"),
    (["--ladder", "--ladder-metrics", "no such metric"], "no such metric"),
])
def test_bad_arguments_are_one_line_errors(capsys, extra, message):
    assert main([*ARGS, *extra]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and "Traceback" not in error
