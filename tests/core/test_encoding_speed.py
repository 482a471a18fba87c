"""benchmarks/encoding_speed.py in quick mode: the rows it returns (the timings themselves are not tested)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import encoding_speed  # noqa: E402
from latent_core.encoders import list_encoders  # noqa: E402
from tests.conftest import require  # noqa: E402


@pytest.mark.slow
def test_quick_encoding_rows_have_times_ratios_and_equal_embeddings():
    require({r.spec: r for r in list_encoders()}[encoding_speed.ENCODER].available, "MiniLM is not installed")
    overhead = encoding_speed.encoding_overhead(quick=True)
    assert overhead["n"] == encoding_speed.QUICK_N and overhead["ours_s"] > 0 and overhead["reference_s"] > 0
    assert overhead["ratio"] > 0 and overhead["max_abs_diff"] < 1e-4 and overhead["note"]
    hit = encoding_speed.cache_hit_speedup(quick=True, encode_s=overhead["ours_s"])
    assert hit["reference_s"] == overhead["ours_s"]
    assert hit["ratio"] == pytest.approx(hit["ours_s"] / hit["reference_s"])
    assert hit["ratio"] < 1 and "sha256" in hit["note"]
