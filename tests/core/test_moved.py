"""What moved: per-sample Jaccard of k-NN sets against hand-computed cases, a numpy reference and invariances."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from latent_core import metrics
from latent_core.errors import InvalidParameterError, ShapeMismatchError
from latent_core.moved import neighbourhood_change, ranked_changes


def _angles(*degrees):
    radians = np.deg2rad(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


# Six samples evenly spaced on an arc (10 degrees apart): with k=2 each one's neighbours are the samples beside it.
# In Y samples 1 and 4 trade places (sample 1 at 40 degrees, sample 4 at 10 degrees), the others stay.
X_LINE = _angles(0, 10, 20, 30, 40, 50)
Y_SWAPPED = _angles(0, 40, 20, 30, 10, 50)
# k=2 neighbour sets, worked out by hand:
#   X: 0 {1,2}  1 {0,2}  2 {1,3}  3 {2,4}  4 {3,5}  5 {4,3}
#   Y (positions 0..5 hold samples 0,4,2,3,1,5):
#      0 {4,2}  1 {3,5}  2 {4,3}  3 {2,1}  4 {0,2}  5 {1,3}
#   shared: 0 {2}  1 {}  2 {3}  3 {2}  4 {}  5 {3}  -> Jaccard 1/3, 0, 1/3, 1/3, 0, 1/3
HAND_JACCARD = [1 / 3, 0, 1 / 3, 1 / 3, 0, 1 / 3]


def _brute_force(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Jaccard of the k-NN sets from full cosine matrices (float64), self excluded."""
    def sets(m):
        unit = m / np.linalg.norm(m, axis=1, keepdims=True)
        sims = unit @ unit.T
        np.fill_diagonal(sims, -np.inf)
        return [set(row) for row in np.argsort(-sims, axis=1, kind="stable")[:, :k]]

    return np.array([len(a & b) / len(a | b) for a, b in zip(sets(x), sets(y))])


def test_hand_computed_swap_of_two_samples():
    np.testing.assert_allclose(neighbourhood_change(X_LINE, Y_SWAPPED, k=2), HAND_JACCARD)
    ranking = ranked_changes(X_LINE, Y_SWAPPED, k=2, top=3)
    assert ranking.wide_k == 5 and np.all(ranking.jaccard_wide == 1)  # every other sample: no tie-breaking
    # Most changed: the two swapped samples (Jaccard 0), then the lowest row of the 1/3 tie.
    assert ranking.moved.tolist() == [1, 4, 0]
    assert ranking.order.tolist() == [1, 4, 0, 2, 3, 5]
    assert ranking.agreeing.tolist() == [0, 2, 3]  # all tied at 1/3: lowest rows first
    assert ranking.k == 2
    # What changed for sample 1: it lost its neighbours 0 and 2 and gained 3 and 5 (each in nearest-first order).
    assert sorted(ranking.lost(1).tolist()) == [0, 2]
    assert sorted(ranking.gained(1).tolist()) == [3, 5]
    assert ranking.lost(0).tolist() == [1] and ranking.gained(0).tolist() == [4]
    assert ranking.gained(3).tolist() == [1]  # 3's neighbours in Y are 2 and 1 (sample 1 now sits at 40 degrees)


def test_identical_rotated_and_rescaled_spaces_agree_everywhere():
    x = np.random.default_rng(0).normal(size=(60, 12))
    rotated = 3.5 * x @ ortho_group.rvs(12, random_state=1)
    for y in (x, rotated):
        np.testing.assert_array_equal(neighbourhood_change(x, y, k=5), np.ones(60))
        ranking = ranked_changes(x, y, k=5, top=4)
        assert all(len(ranking.lost(i)) == 0 and len(ranking.gained(i)) == 0 for i in range(60))
        assert ranking.moved.tolist() == [0, 1, 2, 3]  # all tied: by row
    assert neighbourhood_change(x, x[:, :4], k=5).mean() < 1  # different dimensions are accepted


@pytest.mark.parametrize("k", [1, 4, 9])
def test_matches_a_brute_force_reference_and_the_library_mean(k):
    rng = np.random.default_rng(k)
    x = rng.normal(size=(80, 16))
    y = x @ rng.normal(size=(16, 24)) + 0.8 * rng.normal(size=(80, 24))  # related, not identical
    expected = _brute_force(x, y, k)
    jaccard = neighbourhood_change(x, y, k)
    np.testing.assert_allclose(jaccard, expected, atol=1e-12)
    assert 0 < jaccard.mean() < 1
    assert jaccard.mean() == pytest.approx(metrics.jaccard_at_k(x, y, k))
    inter = metrics.neighbor_agreement(x, y, k).numpy().astype(np.float64) * k
    np.testing.assert_allclose(jaccard, inter / (2 * k - inter), atol=1e-6)


def test_ranking_order_against_a_reference_sort():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(70, 10))
    y = x + 1.2 * rng.normal(size=(70, 10))
    k, top = 6, 12
    expected = _brute_force(x, y, k)
    wide = _brute_force(x, y, 4 * k)  # ties broken by the Jaccard of 4k neighbours
    ranking = ranked_changes(x, y, k=k, top=top)
    assert ranking.wide_k == 4 * k
    np.testing.assert_allclose(ranking.jaccard_wide, wide, atol=1e-12)
    by_change = sorted(range(70), key=lambda i: (expected[i], wide[i], i))
    by_agreement = sorted(range(70), key=lambda i: (-expected[i], -wide[i], i))
    assert ranking.order.tolist() == by_change
    assert ranking.moved.tolist() == by_change[:top]
    assert ranking.agreeing.tolist() == by_agreement[:top]
    assert np.all(np.diff(ranking.jaccard[ranking.order]) >= 0)
    # lost/gained are exactly the set differences, and their sizes follow from the Jaccard.
    for i in ranking.moved:
        unit = [m / np.linalg.norm(m, axis=1, keepdims=True) for m in (x, y)]
        near = []
        for u in unit:
            sims = u @ u[i]
            sims[i] = -np.inf
            near.append(set(np.argsort(-sims)[:k]))
        assert set(ranking.lost(i).tolist()) == near[0] - near[1]
        assert set(ranking.gained(i).tolist()) == near[1] - near[0]
        shared = k - len(ranking.lost(i))
        assert ranking.jaccard[i] == pytest.approx(shared / (2 * k - shared))


def test_top_is_capped_at_the_number_of_samples():
    ranking = ranked_changes(X_LINE, Y_SWAPPED, k=2, top=50)
    assert len(ranking.moved) == len(ranking.agreeing) == 6


def test_typed_errors():
    with pytest.raises(InvalidParameterError, match="k=6"):
        neighbourhood_change(X_LINE, Y_SWAPPED, k=6)
    with pytest.raises(InvalidParameterError):
        ranked_changes(X_LINE, Y_SWAPPED, k=0)
    with pytest.raises(InvalidParameterError, match="top"):
        ranked_changes(X_LINE, Y_SWAPPED, k=2, top=0)
    with pytest.raises(ShapeMismatchError, match="6 rows vs 5 rows"):
        ranked_changes(X_LINE, Y_SWAPPED[:5], k=2)
