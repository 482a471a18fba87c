"""Relative projections against scipy/numpy and their mathematical invariances."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from scipy.stats import ortho_group

from latent_core.errors import InvalidParameterError, NonFiniteError, NotFittedError, ZeroVectorError
from latent_core.relative import RelativeProjection, product_projection, relative_projection, sparsify

SETTINGS = settings(max_examples=25, deadline=None)


def _data(seed, n=20, k=6, d=8):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(k, d))


def _unit(m):
    return m / np.linalg.norm(m, axis=1, keepdims=True)


@pytest.mark.parametrize("projection,reference", [
    ("cosine", lambda x, a: _unit(x) @ _unit(a).T),
    ("angular", lambda x, a: 1 - np.arccos(np.clip(_unit(x) @ _unit(a).T, -1, 1)) / np.pi),
    ("euclidean", lambda x, a: cdist(x, a, "euclidean")),
    ("l1", lambda x, a: cdist(x, a, "cityblock")),
    ("linf", lambda x, a: cdist(x, a, "chebyshev")),
])
def test_matches_scipy_and_numpy(projection, reference):
    x, a = _data(0)
    out = relative_projection(x, a, projection)
    assert out.dtype == torch.float32 and out.shape == (20, 6)
    np.testing.assert_allclose(out.numpy(), reference(x, a), atol=2e-5, rtol=1e-4)


def test_center_subtracts_the_anchor_mean():
    x, a = _data(1)
    mean = a.mean(0)
    np.testing.assert_allclose(relative_projection(x, a, center=True).numpy(),
                               _unit(x - mean) @ _unit(a - mean).T, atol=2e-6)


@SETTINGS
@given(d=st.integers(2, 48), k=st.integers(2, 12), seed=st.integers(0, 10_000), scale=st.floats(0.05, 20))
def test_cosine_and_angular_survive_rotation_and_rescaling(d, k, seed, scale):
    x, a = _data(seed, n=15, k=k, d=d)
    q = ortho_group.rvs(d, random_state=seed) if d > 1 else np.eye(1)
    for projection in ("cosine", "angular"):
        before = relative_projection(x, a, projection)
        after = relative_projection(scale * x @ q, scale * a @ q, projection)
        torch.testing.assert_close(after, before, atol=2e-5, rtol=1e-4)


@SETTINGS
@given(d=st.integers(2, 48), seed=st.integers(0, 10_000), shift=st.floats(-100, 100))
def test_euclidean_survives_isometries_including_translation(d, seed, shift):
    x, a = _data(seed, n=15, k=5, d=d)
    q = ortho_group.rvs(d, random_state=seed)
    b = np.random.default_rng(seed).normal(size=d) * shift
    before = relative_projection(x, a, "euclidean")
    after = relative_projection(x @ q + b, a @ q + b, "euclidean")
    torch.testing.assert_close(after, before, atol=1e-3, rtol=1e-4)


@SETTINGS
@given(d=st.integers(2, 32), seed=st.integers(0, 10_000))
def test_l1_and_linf_survive_permutations_sign_flips_and_translation(d, seed):
    rng = np.random.default_rng(seed)
    x, a = _data(seed, n=12, k=4, d=d)
    perm, signs, shift = rng.permutation(d), rng.choice([-1.0, 1.0], size=d), rng.normal(size=d) * 10
    for projection in ("l1", "linf"):
        before = relative_projection(x, a, projection)
        after = relative_projection(x[:, perm] * signs + shift, a[:, perm] * signs + shift, projection)
        torch.testing.assert_close(after, before, atol=1e-4, rtol=1e-4)


def test_l1_is_not_rotation_invariant():
    x, a = _data(3)
    q = ortho_group.rvs(8, random_state=3)
    assert not torch.allclose(relative_projection(x, a, "l1"), relative_projection(x @ q, a @ q, "l1"), atol=1e-2)


def test_asif_sparsification_hand_computed():
    rel = torch.tensor([[0.9, 0.1, 0.5, -0.2], [-0.3, -0.1, -0.5, -0.2]])
    out = sparsify(rel, topk=2, power=2)
    expected = np.array([0.81, 0, 0.25, 0]) / np.hypot(0.81, 0.25)
    np.testing.assert_allclose(out[0].numpy(), expected, rtol=1e-6)
    assert torch.equal(out[1], torch.zeros(4)), "no positive similarity left: the row stays zero"
    x, a = _data(4)
    sparse = relative_projection(x, a, topk=3, power=1.5)
    assert ((sparse > 0).sum(1) <= 3).all()
    torch.testing.assert_close(sparse.norm(dim=1)[sparse.norm(dim=1) > 0],
                               torch.ones(int((sparse.norm(dim=1) > 0).sum())))


def test_sparsifying_a_distance_is_a_typed_error():
    x, a = _data(5)
    with pytest.raises(InvalidParameterError, match="distance"):
        relative_projection(x, a, "euclidean", topk=2)
    with pytest.raises(InvalidParameterError, match="topk"):
        relative_projection(x, a, topk=99)


@pytest.mark.parametrize("projection", ["cosine", "angular", "euclidean", "l1", "linf"])
def test_chunked_equals_unchunked(projection):
    x, a = _data(6, n=103, k=9, d=11)
    whole = relative_projection(x, a, projection, chunk_size=10_000)
    for chunk in (1, 7, 50):
        torch.testing.assert_close(relative_projection(x, a, projection, chunk_size=chunk), whole)


def test_bad_inputs():
    x, a = _data(7)
    x_zero = x.copy()
    x_zero[3] = 0
    with pytest.raises(ZeroVectorError, match="rows \\[3\\]"):
        relative_projection(x_zero, a)
    relative_projection(x_zero, a, "euclidean")  # distances are fine with a zero vector
    x_nan = x.copy()
    x_nan[0, 0] = np.nan
    with pytest.raises(NonFiniteError):
        relative_projection(x_nan, a)
    with pytest.raises(InvalidParameterError, match="Unknown projection"):
        relative_projection(x, a, "manhattan")
    with pytest.raises(InvalidParameterError, match="dimension"):
        relative_projection(x, a[:, :3])


def test_product_projection_concatenates_normalised_blocks():
    x, a = _data(8)
    out = product_projection(x, a, ["cosine", "euclidean"])
    assert out.shape == (20, 12)
    np.testing.assert_allclose(out[:, :6].numpy(), _unit(_unit(x) @ _unit(a).T), atol=1e-5)
    np.testing.assert_allclose(out[:, 6:].numpy(), _unit(cdist(x, a)), atol=1e-5)
    # normalised euclidean blocks are also scale invariant
    torch.testing.assert_close(product_projection(3 * x, 3 * a, ["euclidean"]), out[:, 6:], atol=1e-5, rtol=1e-4)


def test_estimator_matches_function_and_refuses_use_before_fit():
    x, a = _data(9)
    with pytest.raises(NotFittedError):
        RelativeProjection().transform(x)
    estimator = RelativeProjection("angular", center=True).fit(a)
    torch.testing.assert_close(estimator.transform(x), relative_projection(x, a, "angular", center=True))
    assert estimator.fit_transform(a).shape == (6, 6)


def test_tensor_input_keeps_device_and_numpy_float64_is_converted():
    x, a = _data(10)
    out = relative_projection(torch.tensor(x, dtype=torch.float64), a)
    assert out.dtype == torch.float32 and out.device.type == "cpu"


def test_identical_anchors_are_a_typed_error():
    from latent_core.errors import DegenerateAnchorsError

    x, a = _data(9)
    same = np.tile(a[:1], (4, 1))
    for projection in ("cosine", "angular", "euclidean", "l1", "linf"):
        with pytest.raises(DegenerateAnchorsError, match="All 4 anchors are the same vector"):
            relative_projection(x, same, projection)
        with pytest.raises(DegenerateAnchorsError):
            RelativeProjection(projection, center=True).fit(same)
    assert relative_projection(x, a[:1]).shape == (len(x), 1)  # one anchor is allowed


def test_integer_scalars_and_bad_parameter_types():
    x, a = _data(10)
    torch.testing.assert_close(relative_projection(x, a, topk=np.int64(2), power=np.float32(2.0)),
                               relative_projection(x, a, topk=2, power=2.0))
    torch.testing.assert_close(relative_projection(x, a, topk=torch.tensor(2)), relative_projection(x, a, topk=2))
    with pytest.raises(InvalidParameterError, match="topk must be an integer, got 2.5"):
        relative_projection(x, a, topk=2.5)
    with pytest.raises(InvalidParameterError, match="power must be a number, got '3'"):
        relative_projection(x, a, power="3")
    with pytest.raises(InvalidParameterError, match="Unknown projection None"):
        relative_projection(x, a, None)
