"""The launcher makes Streamlit read streamlit_config.toml."""

from __future__ import annotations

import subprocess
import sys

import tomllib

from app import launch
from tests.conftest import ROOT


def test_config_link_resolves_to_the_committed_config():
    link = launch.ensure_config()
    assert link.resolve() == (ROOT / "streamlit_config.toml").resolve()


def test_streamlit_reads_our_config_from_the_repository_root():
    launch.ensure_config()
    ours = tomllib.loads((ROOT / "streamlit_config.toml").read_text())
    shown = subprocess.run([sys.executable, "-m", "streamlit", "config", "show"], cwd=ROOT, capture_output=True,
                           text=True, timeout=120).stdout
    assert f"maxUploadSize = {ours['server']['maxUploadSize']}" in shown
    assert "headless = true" in shown and "gatherUsageStats = false" in shown
    assert f'primaryColor = "{ours["theme"]["primaryColor"]}"' in shown


def test_launch_command_runs_the_entry_file_with_extra_options():
    cmd = launch.command(["--server.port", "9999"])
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert cmd[4].endswith("app/main.py") and cmd[-2:] == ["--server.port", "9999"]
    assert "NUMBA_CACHE_DIR" in launch.app_environment()


PRELOAD_CHECK = """
import sys
import streamlit as st
from app import launch
assert launch.preload() == [], "a preload step failed"
before = set(sys.modules)
charts, pandas_at_chart = st.plotly_chart, []
def plotly_chart(*args, **kwargs):
    if not pandas_at_chart:
        pandas_at_chart.append("pandas" in sys.modules)
        pandas_at_chart.append(sorted(set(sys.modules) - before))
    return charts(*args, **kwargs)
st.plotly_chart = plotly_chart
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app/main.py", default_timeout=300)
at.run()
assert not at.exception and len(at.get("plotly_chart")) == 5, "the default page did not draw"
print("\\n".join(pandas_at_chart[1]))
print("PANDAS", pandas_at_chart[0])
"""


def test_preload_imports_everything_the_default_page_imports():
    """In a fresh interpreter: after ``launch.preload()``, the default Spaces page imports none of the project's
    modules and none of the heavy libraries before its first chart (they were imported while the browser loaded the
    page), and not pandas (only what the page shows below its maps uses it)."""
    run = subprocess.run([sys.executable, "-c", PRELOAD_CHECK], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    *new, pandas = run.stdout.strip().splitlines()
    late = [m for m in new if m.split(".")[0] in ("app", "latent_core", "torch", "plotly", "PIL", "sklearn", "scipy")]
    assert late == [], f"imported by the page, not by the preload: {late}"
    assert pandas == "PANDAS False"


def test_compute_threads_leave_a_core_and_a_set_value_stands(monkeypatch):
    from latent_core import config

    monkeypatch.setattr(config, "available_cpus", lambda: 8)
    assert launch.compute_threads() == 7
    monkeypatch.setattr(config, "available_cpus", lambda: 1)
    assert launch.compute_threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert launch.app_environment()["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert launch.app_environment()["OMP_NUM_THREADS"] == "3"


def test_encoding_takes_every_core_the_launcher_left_free(monkeypatch, isolated_cache):
    """The launcher gives torch one thread fewer than the cores; an encoding in the app takes them all, then the
    pool is back to the launcher's setting."""
    import torch

    import tests.app.fakes as fakes
    from app.services import spaces
    from latent_core.config import Scenario

    seen = []
    encode = fakes.FakeEncoder._encode_batch
    monkeypatch.setattr(fakes.FakeEncoder, "_encode_batch",
                        lambda self, batch: seen.append(torch.get_num_threads()) or encode(self, batch))
    monkeypatch.setattr(spaces, "available_cpus", lambda: 3)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        vectors = spaces.embeddings("fake:text-a", Scenario("fake:text-a", "fake:text-b", "bbc", 40, seed=5))
        assert vectors.shape == (40, fakes.DIMS["a"])
        assert seen and set(seen) == {3}
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
