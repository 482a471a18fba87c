import pytest
import torch

from latent_core.device import get_device
from latent_core.errors import ConfigError


def test_default_is_best_available(monkeypatch):
    monkeypatch.delenv("LATENT_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert get_device().type == expected


def test_environment_variable_overrides(monkeypatch):
    monkeypatch.setenv("LATENT_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_argument_beats_environment(monkeypatch):
    monkeypatch.setenv("LATENT_DEVICE", "not-a-device")
    assert get_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("bad", ["gpu0", "tpu", "cuda:abc"])
def test_malformed_device_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="device"):
        get_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_requested_without_cuda_says_so():
    with pytest.raises(ConfigError, match="CUDA is not available"):
        get_device("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_is_picked_first(monkeypatch):
    monkeypatch.delenv("LATENT_DEVICE", raising=False)
    assert get_device().type == "cuda"
