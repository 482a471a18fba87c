"""The CUDA path: the core's operations on a GPU give the CPU's results, and stay on the GPU.

Skipped where torch sees no CUDA device (CI, this project's CPU machines); ``benchmarks/gpu.sh`` runs them on a GPU
machine with ``-m gpu``. The CPU results are the reference (their own tests compare them with numpy and scipy)."""

from __future__ import annotations

import warnings

import pytest
import torch

from latent_core.metrics import jaccard_at_k, linear_cka, mutual_knn, paired_cosine
from latent_core.relative import relative_projection
from latent_core.translate import get_translator

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _data(n: int = 3000, d: int = 96, k: int = 120, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator), torch.randn(k, d, generator=generator)


@pytest.mark.parametrize("projection", ["cosine", "angular", "euclidean", "l1", "linf"])
@pytest.mark.parametrize("center", [False, True])
def test_relative_projection_on_cuda_equals_the_cpu(projection, center):
    x, anchors = _data()
    expected = relative_projection(x, anchors, projection, center=center)
    got = relative_projection(x.cuda(), anchors.cuda(), projection, center=center)
    assert got.device.type == "cuda" and got.dtype == torch.float32
    torch.testing.assert_close(got.cpu(), expected, atol=2e-4, rtol=1e-4)


def test_a_million_rows_project_on_cuda_in_chunks_that_equal_one_product():
    x, anchors = _data(n=1_000_000, d=256, k=512, seed=1)
    got = relative_projection(x.cuda(), anchors.cuda())
    unit_anchors = torch.nn.functional.normalize(anchors.cuda())
    rows = torch.arange(0, 1_000_000, 997, device="cuda")
    expected = torch.nn.functional.normalize(x.cuda()[rows]) @ unit_anchors.T
    torch.testing.assert_close(got[rows], expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["procrustes", "linear", "affine", "lortho", "inverse_relative"])
def test_translators_fitted_and_applied_on_cuda_equal_the_cpu(name):
    x, _ = _data(n=2000, d=48, seed=2)
    rotation = torch.linalg.qr(torch.randn(48, 48, generator=torch.Generator().manual_seed(3)))[0]
    y = x @ rotation + 0.01 * torch.randn(2000, 48, generator=torch.Generator().manual_seed(4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cpu = get_translator(name).fit(x[:300], y[:300]).transform(x[300:])
        gpu = get_translator(name).fit(x[:300].cuda(), y[:300].cuda()).transform(x[300:].cuda())
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-4)


def test_similarity_metrics_on_cuda_equal_the_cpu():
    x, _ = _data(n=1500, d=64, seed=5)
    y = x + 0.3 * torch.randn(1500, 64, generator=torch.Generator().manual_seed(6))
    for metric in (mutual_knn, jaccard_at_k, linear_cka):  # one neighbour slot is 1/15,000: near-ties may differ
        assert metric(x.cuda(), y.cuda()) == pytest.approx(metric(x, y), abs=1e-3), metric.__name__
    torch.testing.assert_close(paired_cosine(x.cuda(), y.cuda()).cpu(), paired_cosine(x, y), atol=1e-5, rtol=1e-5)
