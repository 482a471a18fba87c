"""``make bench`` (benchmarks/suite.py): the report and CSV it writes, its rows and verdicts (tiny sections only;
the measurements themselves are not tested, they are benchmarks)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import suite  # noqa: E402


def test_verdicts_compare_the_ratio_with_its_limit():
    assert suite._verdict(1.04, 1.05) == "met"
    assert suite._verdict(1.06, 1.05) == "not met"
    assert suite._verdict(None, 1.05) == "not measured"
    assert suite._verdict(0.7, None) == "measured"


def test_the_suite_writes_a_report_and_a_csv_with_one_row_per_check(tmp_path):
    stem = tmp_path / "report"
    assert suite.main(["--quick", "--only", "stitching,gpu", "--out", str(stem)]) == 0
    text = stem.with_suffix(".md").read_text(encoding="utf-8")
    assert text.startswith("# Benchmark report") and "| area | check |" in text
    with stem.with_suffix(".csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["area"] for row in rows][:1] == ["stitching"]
    stitching = rows[0]
    assert float(stitching["ours_s"]) > 0 and float(stitching["reference_s"]) > 0
    assert float(stitching["ratio"]) == pytest.approx(float(stitching["ours_s"]) / float(stitching["reference_s"]),
                                                      rel=0.5)  # a median of per-round ratios, one round here
    assert stitching["status"] == "smoke run"  # tiny sizes never claim a target
    gpu = [row for row in rows if row["area"] == "gpu"]
    expected = "smoke run" if torch.cuda.is_available() else "not measured"  # on a GPU, tiny sizes claim nothing
    assert gpu and all(row["status"] == expected and row["note"] for row in gpu)
    assert len(text.strip().splitlines()) == 7 + len(rows)  # title, blank, 2 lines, blank, header, rule + rows


def test_unknown_sections_are_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        suite.main(["--only", "nope", "--out", str(tmp_path / "r")])
    assert exit_info.value.code == 2


def test_device_rows_time_ours_and_the_bare_matmul_on_the_given_device():
    """The GPU rows' measurement, run tiny on the CPU: both operations equal their bare product."""
    from benchmarks import device_speed

    results = device_speed.device_ratios("cpu", quick=True, repeats=1)
    assert set(results) == {"relative", "translation"}
    for row in results.values():
        assert row["ours_s"] > 0 and row["bare_s"] > 0
        assert row["ratio"] == pytest.approx(row["ours_s"] / row["bare_s"])
        assert row["max_abs_diff"] < 1e-4
