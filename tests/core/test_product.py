"""Product of invariances (Cannistraci et al., "From Bricks to Bridges"): each aggregation against a numpy reference
built from the single projections, the invariances of the product, the anchor agreement that selects a block, and
stitching where one invariance is broken."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from scipy.stats import ortho_group

from latent_core import relative
from latent_core.errors import InvalidParameterError, UnknownNameError
from latent_core.relative import (
    PRODUCT_PROJECTIONS,
    RelativeProjection,
    block_agreement,
    product_projection,
    relative_projection,
)
from latent_core.stitching import SpaceMap, parse_method, split_indices, stitch_eval, table_methods


def _data(seed=0, n=30, k=7, d=9):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(k, d))


def _unit(m):
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def _singles(x, a):
    """The four blocks by scipy/numpy, with whether each is a similarity."""
    return [(_unit(x) @ _unit(a).T, True), (cdist(x, a, "euclidean"), False), (cdist(x, a, "cityblock"), False),
            (cdist(x, a, "chebyshev"), False)]


def _standardised(block, similarity):
    block = block if similarity else -block
    return (block - block.mean(1, keepdims=True)) / block.std(1, keepdims=True)


def test_names_and_shapes():
    assert relative.PRODUCTS == ("product", "product-mean")
    assert relative.PROJECTIONS == ("cosine", "angular", "euclidean", "l1", "linf")  # products are not projections
    x, a = _data()
    assert relative_projection(x, a, "product").shape == (30, 4 * 7)
    assert relative_projection(x, a, "product-mean").shape == (30, 7)


def test_concat_matches_numpy():
    x, a = _data(1)
    expected = np.hstack([_unit(block) for block, _ in _singles(x, a)])
    np.testing.assert_allclose(relative_projection(x, a, "product").numpy(), expected, atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(product_projection(x, a).numpy(), expected, atol=2e-5, rtol=1e-4)


def test_mean_matches_numpy():
    x, a = _data(2)
    expected = np.mean([_standardised(block, sim) for block, sim in _singles(x, a)], axis=0)
    np.testing.assert_allclose(relative_projection(x, a, "product-mean").numpy(), expected, atol=1e-4, rtol=1e-4)
    two = product_projection(x, a, ["cosine", "l1"], aggregate="mean").numpy()
    singles = _singles(x, a)
    np.testing.assert_allclose(two, (_standardised(*singles[0]) + _standardised(*singles[2])) / 2, atol=1e-4)


@pytest.mark.parametrize("name", ["product", "product-mean"])
def test_estimator_chunks_and_centring_agree_with_the_function(name):
    x, a = _data(3, n=41)
    whole = relative_projection(x, a, name, center=True)
    torch.testing.assert_close(relative_projection(x, a, name, center=True, chunk_size=4), whole)
    torch.testing.assert_close(RelativeProjection(name, center=True, chunk_size=5).fit(a).transform(x), whole)
    aggregate = {"product": "concat", "product-mean": "mean"}[name]
    torch.testing.assert_close(product_projection(x, a, aggregate=aggregate, center=True), whole)


def test_constant_rows_standardise_to_zero():
    x = np.ones((3, 4))
    out = product_projection(x, np.eye(4), ["linf"], aggregate="mean")  # every L-inf distance is 1
    assert torch.equal(out, torch.zeros(3, 4))


def test_invariant_to_what_every_block_is_invariant_to():
    """Permuting coordinates, flipping signs and translating keep euclidean, L1 and L-inf; cosine survives the
    permutation and sign flips but not the translation: the product keeps only the common invariances."""
    x, a = _data(4)
    rng = np.random.default_rng(4)
    perm, signs = rng.permutation(x.shape[1]), rng.choice([-1.0, 1.0], size=x.shape[1])
    for name in relative.PRODUCTS:
        before = relative_projection(x, a, name)
        after = relative_projection(x[:, perm] * signs, a[:, perm] * signs, name)
        torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-4)
        shift = rng.normal(size=x.shape[1]) * 3
        assert not torch.allclose(relative_projection(x + shift, a + shift, name), before, atol=1e-2)


def test_translation_keeps_euclidean_and_changes_cosine():
    x, a = _data(5)
    shift = np.full(x.shape[1], 2.0)
    torch.testing.assert_close(relative_projection(x + shift, a + shift, "euclidean"),
                               relative_projection(x, a, "euclidean"), atol=1e-4, rtol=1e-4)
    assert (relative_projection(x + shift, a + shift, "cosine") - relative_projection(x, a, "cosine")).abs().max() > 0.1
    product = relative_projection(x, a, "product")
    moved = relative_projection(x + shift, a + shift, "product")
    k = a.shape[0]
    torch.testing.assert_close(moved[:, k:], product[:, k:], atol=1e-4, rtol=1e-4)  # the distance blocks
    assert (moved[:, :k] - product[:, :k]).abs().max() > 0.05  # the cosine block


def test_block_agreement_finds_the_broken_invariance():
    _, a = _data(6, k=25)
    rotation = ortho_group.rvs(a.shape[1], random_state=6)
    assert block_agreement(a, 3 * a) == pytest.approx(dict.fromkeys(PRODUCT_PROJECTIONS, 1.0), abs=1e-6)
    translated = block_agreement(a, a + 4.0)
    assert translated["euclidean"] == pytest.approx(1.0, abs=1e-6) and translated["cosine"] < 0.95
    rotated = block_agreement(a, a @ rotation)
    assert rotated["cosine"] == pytest.approx(1.0, abs=1e-6) and rotated["euclidean"] == pytest.approx(1.0, abs=1e-6)
    assert rotated["l1"] < 0.99 and rotated["linf"] < 0.99
    # independent reference: numpy correlation of the off-diagonal rows
    ra, rb = _unit(a) @ _unit(a).T, _unit(a + 4.0) @ _unit(a + 4.0).T
    off = ~np.eye(len(a), dtype=bool)
    rows = [np.corrcoef(ra[i][off[i]], rb[i][off[i]])[0, 1] for i in range(len(a))]
    assert translated["cosine"] == pytest.approx(np.mean(rows), abs=1e-5)


def test_errors():
    x, a = _data(7)
    with pytest.raises(InvalidParameterError, match="product"):
        relative_projection(x, a, "product", topk=2)
    with pytest.raises(UnknownNameError):
        product_projection(x, a, aggregate="attention")
    with pytest.raises(InvalidParameterError):
        product_projection(x, a, [])
    with pytest.raises(InvalidParameterError, match="distinct"):
        product_projection(x, a, ["l1", "l1"])
    with pytest.raises(InvalidParameterError, match="single projections"):
        product_projection(x, a, ["product"])
    with pytest.raises(UnknownNameError):
        product_projection(x, a, ["manhattan"])
    with pytest.raises(InvalidParameterError, match="same anchors"):
        block_agreement(a, a[:5])
    with pytest.raises(InvalidParameterError, match="3 anchors"):
        block_agreement(a[:2], a[:2])
    with pytest.raises(InvalidParameterError):
        parse_method("relative:product-max")


def test_stitching_methods_and_table():
    for name in ("product", "product-mean", "product-select", "product+center", "product-select+center"):
        assert parse_method(f"relative:{name}") == ("relative", name)
    methods = table_methods()
    assert (methods.index("relative:linf") < methods.index("relative:product") < methods.index("relative:product-mean")
            < methods.index("relative:product-select") < methods.index("translate:procrustes"))
    # the app's list is the same (tests/app/test_stitching_page.py), so the shipped table is the app's


def _pair(kind, seed=0, n=900, d=24, classes=4):
    """Overlapping Gaussian classes in A; B = A rescaled per dimension and translated far from the origin (cosine
    broken, distances nearly kept), or B = A rotated and scaled with noise (cosine and euclidean kept)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    a = rng.normal(size=(classes, d))[labels] * 0.6 + rng.normal(size=(n, d))
    if kind == "broken":
        b = a * np.exp(rng.normal(0, 0.3, d)) + rng.normal(0, 5.0, d)
    else:
        b = 2.5 * a @ ortho_group.rvs(d, random_state=seed) + rng.normal(size=(n, d)) * 0.3
    return a, b, labels


@pytest.mark.parametrize("kind,chosen", [("broken", {"euclidean", "l1"}), ("rotated", {"cosine", "euclidean"})])
def test_product_select_recovers_the_best_single_projection(kind, chosen):
    a, b, y = _pair(kind)
    pool, train, test = split_indices(y, n_anchors=40, test_size=300, seed=0)

    def accuracy(name):
        return stitch_eval(a, b, y, anchor_idx=pool, method=f"relative:{name}", train_idx=train, test_idx=test).accuracy

    singles = {p: accuracy(p) for p in PRODUCT_PROJECTIONS}
    best = max(singles.values())
    assert best > 0.85  # the scenario is learnable through some block
    assert accuracy("product-select") >= best - 0.02
    space_map = SpaceMap("relative:product-select").fit(torch.tensor(a[pool]).float(), torch.tensor(b[pool]).float())
    assert space_map.projection_ in chosen
    if kind == "broken":  # what the plain concatenation costs: the broken cosine block still feeds the head
        assert singles["cosine"] < 0.4
        assert accuracy("product") < best - 0.3
        assert accuracy("product-mean") > best - 0.1  # standardised blocks keep the distances' evidence
