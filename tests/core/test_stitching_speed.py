"""The stitching-speed benchmark's functions run tiny (the real figures come from ``python
benchmarks/stitching_speed.py``)."""

from __future__ import annotations

from benchmarks import stitching_speed as bench

METHODS = ("absolute", "relative:cosine", "translate:procrustes", "translate:linear")


def test_table_vs_head_fits_runs_tiny():
    a, b, labels = bench.synthetic_inputs(n=200)
    result = bench.table_vs_head_fits(a, b, labels, methods=METHODS, n_anchors=20, test_size=60, seeds=(0, 1))
    assert result["runs"] == 8 and result["head_fits"] == 2 * (2 + 2)  # per seed: 2 absolute + 2 relative heads
    assert result["table_s"] > 0 and result["head_fits_s"] > 0 and result["before_s"] > 0
    assert result["ratio"] == result["table_s"] / result["head_fits_s"]


def test_head_fit_threads_and_markdown():
    a, _, labels = bench.synthetic_inputs(n=120)
    timings = bench.head_fit_threads(a, labels, head="logreg", threads=(1, 2))
    assert set(timings) == {1, 2} and all(t > 0 for t in timings.values())
    text = bench.markdown([{"head": "logreg", "fit s": 0.5}], ["head", "fit s"])
    assert text.splitlines() == ["| head | fit s |", "|---|---|", "| logreg | 0.50 |"]
