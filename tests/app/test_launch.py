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
