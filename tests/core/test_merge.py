import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from latent_core.errors import AnchorIndexError, ShapeMismatchError
from latent_core.merge import aggregate_relative
from latent_core.relative import relative_projection


def test_mean_of_relative_representations():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 8)), rng.normal(size=(30, 5))
    idx = [1, 4, 9, 20]
    expected = (relative_projection(a, a[idx]) + relative_projection(b, b[idx])) / 2
    torch.testing.assert_close(aggregate_relative([a, b], idx), expected)


def test_rotated_copies_merge_to_the_same_atlas():
    a = np.random.default_rng(1).normal(size=(30, 6))
    rotated = 2 * a @ ortho_group.rvs(6, random_state=2)
    idx = np.arange(0, 30, 3)
    torch.testing.assert_close(aggregate_relative([a, rotated], idx), relative_projection(a, a[idx]),
                               atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("idx,error", [([0, 0, 1], AnchorIndexError), ([0, 99], AnchorIndexError),
                                       ([3], AnchorIndexError), ([0.5, 1.5], AnchorIndexError)])
def test_bad_anchor_indices(idx, error):
    a = np.ones((10, 3)) + np.eye(10, 3)
    with pytest.raises(error):
        aggregate_relative([a], idx)


def test_spaces_must_share_samples():
    with pytest.raises(ShapeMismatchError):
        aggregate_relative([np.ones((10, 3)), np.ones((9, 3))], [0, 1])
