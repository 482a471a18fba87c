"""Alignment vs N (latent_core.scaling): the ladder, the subsamples, and the values against the metrics themselves."""

from __future__ import annotations

import numpy as np
import pytest

from latent_core.errors import InvalidParameterError, UnknownNameError
from latent_core.metrics import linear_cka, mutual_knn
from latent_core.scaling import alignment_vs_n, size_ladder, summarise


def test_size_ladder():
    assert size_ladder(2225) == [64, 128, 256, 512, 1024, 2048, 2225]
    assert size_ladder(256) == [64, 128, 256]
    assert size_ladder(50) == [50]
    assert size_ladder(300, start=64, k=70) == [128, 256, 300]


def test_values_are_the_metrics_on_seeded_subsamples():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 8))
    b = a @ rng.normal(size=(8, 6)) + 0.5 * rng.normal(size=(200, 6))
    frame = alignment_vs_n(a, b, ["mutual k-NN", "linear CKA"], seeds=(0, 1), k=5)
    assert list(frame.columns) == ["size", "seed", "metric", "value"]
    assert sorted(set(frame["size"])) == [64, 128, 200] and len(frame) == 3 * 2 * 2
    rows = np.sort(np.random.default_rng(1).choice(200, 64, replace=False))
    got = frame.set_index(["size", "seed", "metric"])["value"]
    assert got[(64, 1, "mutual k-NN")] == pytest.approx(mutual_knn(a[rows], b[rows], 5))
    assert got[(64, 1, "linear CKA")] == pytest.approx(linear_cka(a[rows], b[rows]))
    assert got[(200, 0, "linear CKA")] == got[(200, 1, "linear CKA")] == pytest.approx(linear_cka(a, b))
    summary = summarise(frame)
    assert list(summary["metric"].unique()) == ["mutual k-NN", "linear CKA"]
    first = summary.iloc[0]
    values = frame[(frame["metric"] == "mutual k-NN") & (frame["size"] == 64)]["value"]
    assert (first["size"], first["low"], first["high"], first["seeds"]) == (64, values.min(), values.max(), 2)
    assert first["mean"] == pytest.approx(values.mean())


def test_mutual_knn_of_one_geometry_stays_at_one_and_custom_metrics_work():
    x = np.random.default_rng(1).normal(size=(130, 4))
    frame = alignment_vs_n(x, 3 * x, {"size": lambda p, q, k: len(p)}, sizes=[20, 130], seeds=(0,))
    assert frame["value"].tolist() == [20, 130]
    assert (alignment_vs_n(x, 2 * x, ["mutual k-NN"], seeds=(0, 3))["value"] == 1).all()


def test_typed_errors():
    x = np.zeros((40, 3)) + np.arange(3)
    with pytest.raises(UnknownNameError):
        alignment_vs_n(x, x, ["nope"])
    with pytest.raises(InvalidParameterError, match="Sizes"):
        alignment_vs_n(x, x, ["linear CKA"], sizes=[10, 80])
    with pytest.raises(InvalidParameterError, match="seed"):
        alignment_vs_n(x, x, ["linear CKA"], seeds=())
