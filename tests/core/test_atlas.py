"""Charts to Atlas (latent_core.atlas): the atlas against numpy references, its invariances, the paper's comparison on
a synthetic case with a known outcome, and the typed errors."""

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from latent_core.atlas import (
    ATLAS_HEAD,
    METHODS,
    OWN_HEAD,
    STITCHED_HEAD,
    Atlas,
    atlas_benchmark,
    atlas_comparison,
    atlas_table,
)
from latent_core.errors import AnchorIndexError, InvalidParameterError, NotFittedError, ShapeMismatchError
from latent_core.heads import make_head


def _cosine(x: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """The numpy reference: cosine similarity of every row of x to every anchor."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    anchors = anchors / np.linalg.norm(anchors, axis=1, keepdims=True)
    return x @ anchors.T


def _clusters(n: int = 600, dim: int = 16, classes: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 2.0
    labels = np.arange(n) % classes
    return centres[labels] + rng.normal(size=(n, dim)), labels


def _noisy_rotation(x: np.ndarray, seed: int, noise: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (x + noise * rng.normal(size=x.shape)) @ ortho_group.rvs(x.shape[1], random_state=seed) * (1 + seed)


def _split(n: int, n_anchors: int = 40, n_test: int = 200, seed: int = 0):
    order = np.random.default_rng(seed).permutation(n)
    return order[:n_anchors], order[n_anchors:n - n_test], order[n - n_test:]


def test_merge_is_the_mean_of_the_cosine_charts():
    rng = np.random.default_rng(0)
    spaces = [rng.normal(size=(50, d)) for d in (8, 5, 12)]
    idx = [2, 7, 11, 30, 41]
    expected = np.mean([_cosine(x, x[idx]) for x in spaces], axis=0)
    atlas = Atlas().fit([x[idx] for x in spaces])
    np.testing.assert_allclose(atlas.merge(spaces).numpy(), expected, atol=1e-6)
    for i, x in enumerate(spaces):
        np.testing.assert_allclose(atlas.transform(i, x).numpy(), _cosine(x, x[idx]), atol=1e-6)
    assert atlas.n_spaces == 3 and atlas.n_anchors_ == 5


def test_centred_projection_centres_each_space_on_its_own_anchors():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 6)) + 5.0, rng.normal(size=(40, 4)) - 3.0
    idx = np.arange(0, 40, 4)
    expected = (_cosine(a - a[idx].mean(0), a[idx] - a[idx].mean(0))
                + _cosine(b - b[idx].mean(0), b[idx] - b[idx].mean(0))) / 2
    merged = Atlas("cosine+center").fit([a[idx], b[idx]]).merge([a, b])
    np.testing.assert_allclose(merged.numpy(), expected, atol=1e-5)


def test_an_atlas_of_a_and_a_rotated_copy_is_a_s_relative_representation():
    a = np.random.default_rng(2).normal(size=(60, 10))
    rotated = 3 * a @ ortho_group.rvs(10, random_state=3)
    idx = np.arange(0, 60, 5)
    atlas = Atlas().fit([a[idx], rotated[idx]])
    np.testing.assert_allclose(atlas.merge([a, rotated]).numpy(), _cosine(a, a[idx]), atol=1e-5)
    np.testing.assert_allclose(atlas.transform(1, rotated).numpy(), atlas.transform(0, a).numpy(), atol=1e-5)


def test_atlas_head_matches_a_head_fitted_on_the_numpy_atlas():
    x, y = _clusters(seed=4)
    spaces = [x, _noisy_rotation(x, 1), _noisy_rotation(x, 2)]
    anchors, train, test = _split(len(x), seed=4)
    frame = atlas_comparison(spaces, y, anchor_idx=anchors, train_idx=train, test_idx=test, seed=0,
                             names=["A", "B", "C"])
    assert list(frame["space"]) == [s for s in "ABC" for _ in METHODS]
    assert list(frame["method"]) == list(METHODS) * 3
    charts = [_cosine(s, s[anchors]) for s in spaces]
    atlas_head = make_head("logreg", 0).fit(np.mean([c[train] for c in charts], axis=0), y[train])
    for name, chart in zip("ABC", charts):
        rows = frame[frame["space"] == name].set_index("method")
        assert rows.loc[ATLAS_HEAD, "accuracy"] == pytest.approx((atlas_head.predict(chart[test]) == y[test]).mean())
        own = make_head("logreg", 0).fit(chart[train], y[train])
        assert rows.loc[OWN_HEAD, "accuracy"] == pytest.approx((own.predict(chart[test]) == y[test]).mean())
    head_a = make_head("logreg", 0).fit(charts[0][train], y[train])
    stitched = frame[frame["method"] == STITCHED_HEAD]["accuracy"].to_numpy()
    np.testing.assert_allclose(stitched, [(head_a.predict(c[test]) == y[test]).mean() for c in charts])
    assert frame["n_anchors"].eq(40).all() and frame["n_test"].eq(200).all() and frame["n_train"].eq(360).all()
    assert frame["chance"].iloc[0] == pytest.approx(np.bincount(y[train]).max() / len(train))


def test_noisy_rotated_copies_atlas_head_is_as_good_as_each_own_head():
    """Three noisy rotated copies of one clustered space: each chart is close to the atlas, so the atlas head reads
    every chart within 0.02 of the head trained on that chart (seeds fixed: a known outcome)."""
    x, y = _clusters(n=500, dim=12, seed=5)
    spaces = [_noisy_rotation(x, s, noise=1.5) for s in (1, 2, 3)]
    results = atlas_benchmark(spaces, y, n_anchors=30, test_size=150, seeds=(0, 1), names=["A", "B", "C"])
    table = atlas_table(results).set_index("space")
    assert list(table.index) == ["A", "B", "C"]
    assert 0.7 < table[OWN_HEAD].min() and table[OWN_HEAD].max() < 0.99  # neither chance nor saturated
    assert (table["atlas - own"].abs() <= 0.02).all(), table
    # ...while A's head read through the other copies loses more: the atlas is worth having
    assert (table.loc[["B", "C"], ATLAS_HEAD] > table.loc[["B", "C"], STITCHED_HEAD] + 0.03).all(), table
    np.testing.assert_allclose(table["atlas - own"], table[ATLAS_HEAD] - table[OWN_HEAD])
    assert sorted(results["seed"].unique()) == [0, 1]


def test_an_unrelated_space_breaks_the_stitch_but_keeps_its_own_head():
    """Known outcome the other way: a space of noise carries no labels, so every head is near chance on it, while A's
    head stitched into B (a rotated copy) stays as good as B's own."""
    x, y = _clusters(seed=6)
    noise = np.random.default_rng(7).normal(size=(len(x), 9))
    anchors, train, test = _split(len(x), seed=6)
    frame = atlas_comparison([x, _noisy_rotation(x, 1, noise=0.0), noise], y, anchor_idx=anchors, train_idx=train,
                             test_idx=test, names=["A", "B", "noise"]).set_index(["space", "method"])["accuracy"]
    assert frame[("B", STITCHED_HEAD)] == pytest.approx(frame[("B", OWN_HEAD)], abs=1e-9)
    assert frame[("noise", OWN_HEAD)] < 0.4 and frame[("noise", STITCHED_HEAD)] < 0.4
    assert frame[("A", OWN_HEAD)] > 0.9


def test_errors():
    x, y = _clusters(n=100)
    anchors, train, test = _split(100, n_anchors=10, n_test=30)
    kwargs = {"anchor_idx": anchors, "train_idx": train, "test_idx": test}
    with pytest.raises(InvalidParameterError, match="at least 2 spaces"):
        atlas_comparison([x], y, **kwargs)
    with pytest.raises(InvalidParameterError, match="at least 2 spaces"):
        atlas_comparison(x, y, **kwargs)
    with pytest.raises(ShapeMismatchError):
        atlas_comparison([x, x[:99]], y, **kwargs)
    with pytest.raises(ShapeMismatchError, match="labels"):
        atlas_comparison([x, x], y[:99], **kwargs)
    with pytest.raises(ShapeMismatchError, match="names"):
        atlas_comparison([x, x], y, names=["A"], **kwargs)
    with pytest.raises(AnchorIndexError, match="disjoint"):
        atlas_comparison([x, x], y, anchor_idx=anchors, train_idx=np.append(train, anchors[0]), test_idx=test)
    with pytest.raises(AnchorIndexError, match="out of range"):
        atlas_comparison([x, x], y, anchor_idx=[0, 1, 100], train_idx=train, test_idx=test)
    with pytest.raises(InvalidParameterError, match="single class"):
        atlas_comparison([x, x], np.zeros(100, int), **kwargs)
    with pytest.raises(InvalidParameterError):
        atlas_comparison([x, x], y, head="nope", **kwargs)
    with pytest.raises(InvalidParameterError):
        atlas_comparison([x, x], y, projection="nope", **kwargs)
    with pytest.raises(NotFittedError):
        Atlas().transform(0, x)
    atlas = Atlas().fit([x[:5], x[:5, :3]])
    with pytest.raises(InvalidParameterError, match="out of range"):
        atlas.transform(2, x)
    with pytest.raises(ShapeMismatchError):
        atlas.merge([x])
    with pytest.raises(ShapeMismatchError):
        Atlas().fit([x[:5], x[:6]])
    with pytest.raises(InvalidParameterError):
        Atlas().fit([])
    assert isinstance(atlas.merge([x, x[:, :3]]), torch.Tensor)
