"""benchmarks/batch_speed.py --quick: the report's structure, and the translated table equal to the bare matmul
(every row), the encoded table equal to the bare encoder. Smoke sizes: no timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(ray_local, tmp_path_factory):
    from benchmarks import batch_speed

    root = tmp_path_factory.mktemp("bench-root")
    result = batch_speed.run(quick=True, workdir=root, encode_scale_rows=(2_500,))
    # --workdir: the tables went into a temporary folder inside it, removed afterwards
    assert Path(result["machine"]["workdir"]).parent == root and not any(root.iterdir())
    return result


def test_translate_rows_equal_the_bare_matmul(report):
    from benchmarks import batch_speed

    (row,) = report["translate"]
    assert row["rows"] == batch_speed.QUICK_TRANSLATE_ROWS[0]
    assert row["check"]["rows_written"] == row["rows"] and row["check"]["rows_checked"] == row["rows"]
    assert row["check"]["max_abs_diff"] <= 1e-5
    for key in ("ours_s", "bare_s", "ours_rows_per_s", "bare_rows_per_s", "ratio"):
        assert np.isfinite(row[key]) and row[key] > 0, key
    assert row["ratio"] == pytest.approx(row["ours_rows_per_s"] / row["bare_rows_per_s"])
    assert row["batch_size"] >= 1 and row["actors"] >= 1


def test_peak_memory_per_worker_is_reported(report):
    for row in report["translate"] + report["encode"]:
        assert row["driver_peak_rss_mib"] is None or row["driver_peak_rss_mib"] > 50
    (row,) = report["translate"]
    mappers = [w for w in row["workers"] if "RangeMap" in w["process"]]
    assert len(mappers) >= 1 and all(w["peak_rss_mib"] > 50 for w in mappers)


def test_encode_equals_the_bare_encoder(report):
    from benchmarks import batch_speed

    (row,) = report["encode"]
    assert row["rows"] == row["rows_written"] == batch_speed.QUICK_ENCODE_ROWS and row["complete"]
    assert row["max_abs_diff"] <= 1e-4
    assert row["ratio"] == pytest.approx(row["ours_rows_per_s"] / row["bare_rows_per_s"])


def test_encode_at_scale_writes_every_row_once_and_matches_the_encoder(report):
    # 2,500 rows: the 2,225 headlines in turn, then the first 275 again (rows past the corpus wrap around)
    (row,) = report["encode_scale"]
    assert row["rows"] == row["rows_written"] == 2_500 and row["complete"]
    assert row["rows_checked"] == 1_000 and row["max_abs_diff"] <= 1e-4
    assert row["ours_rows_per_s"] == pytest.approx(2_500 / row["ours_s"])


def test_markdown_has_a_row_per_measurement(report):
    from benchmarks import batch_speed

    text = batch_speed.markdown(report)
    assert text.count("| translate 384 -> 768") == len(report["translate"])
    assert "| translate, fixed cost of a call" in text and report["startup"]["seconds"] > 0
    # the measured row and the 1M "not measured" row per encode; one row per encode at scale
    assert text.count("| encode") == 2 * len(report["encode"]) + len(report["encode_scale"])
    assert "not measured" in text


def test_check_output_detects_a_wrong_table(tmp_path, ray_local):
    """The equality check can fail: a table translated with another translator differs from the bare product."""
    from benchmarks import batch_speed
    from latent_core.batch import pipeline

    batch_speed.make_translator(tmp_path / "t", seed=0)
    batch_speed.make_translator(tmp_path / "other", seed=1)
    weight, bias = batch_speed.folded_weights(tmp_path / "t")
    batch_speed.write_source(tmp_path / "db", 1500, seed=0)
    pipeline.translate_table(tmp_path / "db", "src", tmp_path / "other", tmp_path / "db", "dst", index=False)
    assert batch_speed.check_output(tmp_path / "db", 1500, 0, weight, bias, None)["max_abs_diff"] > 1e-3
