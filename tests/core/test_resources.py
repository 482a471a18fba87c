"""Installed-package and hub helpers shared by the encoders and the datasets."""

import subprocess
import sys
import types
from pathlib import Path

import numpy as np

from latent_core import resources


def test_package_dir_finds_an_importable_package():
    assert resources.package_dir("numpy") == Path(np.__file__).parent


def test_package_dir_finds_a_folder_whose_name_is_not_an_identifier(monkeypatch, tmp_path):
    (tmp_path / "some-model-package").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resources.package_dir("some-model-package") == tmp_path / "some-model-package"


def test_package_dir_and_packages_installed_for_missing_packages():
    assert resources.package_dir("no_such_package_here_4711") is None
    assert resources.packages_installed("numpy", "json")
    assert not resources.packages_installed("numpy", "no_such_package_here_4711")
    assert not resources.packages_installed("no_such_package_here_4711.sub")  # parent missing: False, no raise


def test_hub_session_offline_switches_hub_clients_offline_and_back(monkeypatch):
    fake = types.ModuleType("datasets.config")
    fake.HF_HUB_OFFLINE = False
    monkeypatch.setitem(sys.modules, "datasets.config", fake)
    monkeypatch.setenv("LATENT_OFFLINE", "1")
    with resources.hub_session() as online:
        assert online is False
        assert fake.HF_HUB_OFFLINE is True
    assert fake.HF_HUB_OFFLINE is False


def test_hub_session_online_changes_nothing(monkeypatch):
    fake = types.ModuleType("datasets.config")
    fake.HF_HUB_OFFLINE = False
    monkeypatch.setitem(sys.modules, "datasets.config", fake)
    monkeypatch.setattr(resources, "hub_available", lambda: True)
    with resources.hub_session() as online:
        assert online is True
        assert fake.HF_HUB_OFFLINE is False


def test_datasets_do_not_import_the_encoders():
    code = "import sys, latent_core.data; print(any(m.startswith('latent_core.encoders') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"
