import numpy as np
import pytest
import torch

from latent_core.anchors import select_anchors
from latent_core.errors import AnchorIndexError, InvalidParameterError


def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[10.0, 0, 0], [0, 10.0, 0], [0, 0, 10.0]])
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    return centres[labels] + rng.normal(size=(100, 3)) * 0.5, labels


@pytest.mark.parametrize("strategy", ["random", "stratified", "kmeans", "fps"])
def test_anchors_are_distinct_real_samples_and_deterministic(strategy):
    x, labels = _blobs()
    first = select_anchors(x, 12, strategy, labels=labels, seed=3)
    assert first.dtype == torch.long and first.shape == (12,)
    assert len(set(first.tolist())) == 12 and 0 <= int(first.min()) and int(first.max()) < 100
    assert torch.equal(first, select_anchors(x, 12, strategy, labels=labels, seed=3))


def test_seeds_change_random_anchors():
    x, _ = _blobs()
    assert not torch.equal(select_anchors(x, 10, seed=0), select_anchors(x, 10, seed=1))


def test_stratified_takes_equal_numbers_per_class():
    x, labels = _blobs()
    chosen = select_anchors(x, 14, "stratified", labels=torch.tensor(labels))
    assert np.bincount(labels[chosen.numpy()]).tolist() == [5, 5, 4]
    # classes of 50, 30 and 20: 66 anchors take all 20 of the last, and 23 of each of the others
    assert np.bincount(labels[select_anchors(x, 66, "stratified", labels=labels).numpy()]).tolist() == [23, 23, 20]
    with pytest.raises(AnchorIndexError, match="only 100 samples"):
        select_anchors(x, 101, "stratified", labels=labels)
    with pytest.raises(InvalidParameterError, match="needs labels"):
        select_anchors(x, 6, "stratified")


def test_kmeans_puts_one_anchor_in_each_blob():
    x, labels = _blobs(1)
    chosen = select_anchors(x, 3, "kmeans", seed=0)
    assert sorted(labels[chosen.numpy()].tolist()) == [0, 1, 2]
    centre_of_blob = x[labels == labels[int(chosen[0])]].mean(0)
    nearest = np.linalg.norm(x - centre_of_blob, axis=1).argmin()
    assert nearest in chosen.tolist()  # the real sample nearest a centroid


def _fps_reference(x, n, first, metric):
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        distance = lambda i: 1 - x @ x[i]  # noqa: E731
    else:
        distance = lambda i: ((x - x[i]) ** 2).sum(1)  # noqa: E731
    chosen = [first]
    for _ in range(n - 1):
        nearest = np.min(np.stack([distance(i) for i in chosen]), axis=0)
        nearest[chosen] = -1
        chosen.append(int(nearest.argmax()))
    return chosen


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_fps_matches_a_brute_force_reference(metric):
    x = np.random.default_rng(2).normal(size=(80, 5))
    chosen = select_anchors(x, 10, "fps", seed=4, metric=metric).tolist()
    assert chosen == _fps_reference(x, 10, chosen[0], metric)


def test_fps_on_a_line_picks_the_far_end_next():
    x = np.stack([np.arange(11.0), np.zeros(11)], axis=1)
    chosen = select_anchors(x, 3, "fps", metric="euclidean", seed=0).tolist()
    far = 0 if chosen[0] > 5 else 10
    assert chosen[1] == far


def test_errors():
    x, _ = _blobs()
    with pytest.raises(AnchorIndexError, match="at least 2"):
        select_anchors(x, 1)
    with pytest.raises(AnchorIndexError, match="only 100"):
        select_anchors(x, 101)
    with pytest.raises(InvalidParameterError, match="Unknown anchor strategy"):
        select_anchors(x, 5, "greedy")


def test_numpy_and_torch_integer_scalars_are_ints():
    x, labels = _blobs()
    expected = select_anchors(x, 5, seed=3)
    for n in (np.int64(5), np.int32(5), torch.tensor(5)):
        assert torch.equal(select_anchors(x, n, seed=np.int64(3)), expected)
    with pytest.raises(AnchorIndexError, match="The number of anchors must be an integer, got 2.5"):
        select_anchors(x, 2.5)
    with pytest.raises(AnchorIndexError, match="must be an integer, got True"):
        select_anchors(x, True)
    with pytest.raises(InvalidParameterError, match="seed must be an integer, got 'a'"):
        select_anchors(x, 5, seed="a")


def test_stratified_accepts_any_hashable_labels():
    x, labels = _blobs()
    names = np.array(["ant", "bee", "cat"])[labels]
    codes = np.unique(names, return_inverse=True)[1]
    by_name = select_anchors(x, 8, "stratified", labels=names, seed=1)
    assert torch.equal(by_name, select_anchors(x, 8, "stratified", labels=codes, seed=1))
    assert sorted(names[by_name.numpy()].tolist()) == ["ant"] * 3 + ["bee"] * 3 + ["cat"] * 2
    mixed = [1 if c % 2 else "one" for c in codes]  # not sortable together: numbered by first appearance
    assert len(select_anchors(x, 4, "stratified", labels=mixed)) == 4
    rare = np.array(["rare"] + ["common"] * (len(names) - 1))
    assert sorted(rare[select_anchors(x, 8, "stratified", labels=rare).numpy()]) == ["common"] * 7 + ["rare"]


def test_stratified_gives_a_short_class_all_it_has_and_shares_the_rest_equally():
    """Hand-computed water-filling: classes of 2, 30 and 9 samples, 20 anchors -> 2, then 9, then 9 (the first
    open class takes the odd one); every count reachable up to all samples, no class ever above its size."""
    x = torch.randn(41, 3)
    labels = np.array([0] * 2 + [1] * 30 + [2] * 9)
    assert np.bincount(labels[select_anchors(x, 20, "stratified", labels=labels).numpy()]).tolist() == [2, 9, 9]
    assert np.bincount(labels[select_anchors(x, 21, "stratified", labels=labels).numpy()]).tolist() == [2, 10, 9]
    assert np.bincount(labels[select_anchors(x, 6, "stratified", labels=labels).numpy()]).tolist() == [2, 2, 2]
    for n in range(2, 42):
        chosen = select_anchors(x, n, "stratified", labels=labels, seed=n).numpy()
        counts = np.bincount(labels[chosen], minlength=3)
        assert len(set(chosen)) == n and (counts <= [2, 30, 9]).all()
        # as equal as possible: a class is either full or within one of the largest count
        assert ((counts == [2, 30, 9]) | (counts >= counts.max() - 1)).all(), (n, counts)
