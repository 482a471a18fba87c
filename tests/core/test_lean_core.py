"""The lean core (issue 13): relative projection and translator transforms validate and convert chunk by chunk,
write into a preallocated output, and keep every typed error; checked against independent numpy references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latent_core import relative, translate
from latent_core.errors import InvalidParameterError, NonFiniteError, ShapeMismatchError, ZeroVectorError
from latent_core.relative import RelativeProjection, relative_projection
from latent_core.translate import get_translator
from latent_core.validation import all_finite, as_matrix

RNG = np.random.default_rng(13)
X = RNG.normal(size=(23, 6))
A = RNG.normal(size=(5, 6))


def cosine_reference(x: np.ndarray, a: np.ndarray, center: bool = False) -> np.ndarray:
    x, a = np.asarray(x, np.float64), np.asarray(a, np.float64)
    if center:
        mean = a.mean(0)
        x, a = x - mean, a - mean
    return (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (a / np.linalg.norm(a, axis=1, keepdims=True)).T


def f32(v: np.ndarray) -> np.ndarray:
    return v.astype(np.float32)


@pytest.mark.parametrize("chunk_size", [None, 1, 4, 7, 23, 100])
@pytest.mark.parametrize("kind", ["numpy32", "numpy64", "torch32", "torch64", "readonly", "list"])
def test_cosine_matches_a_float64_numpy_reference(kind, chunk_size):
    x = {"numpy32": f32(X), "numpy64": X, "torch32": torch.tensor(f32(X)), "torch64": torch.tensor(X),
         "readonly": f32(X), "list": X.tolist()}[kind]
    if kind == "readonly":
        x.setflags(write=False)
    expected = cosine_reference(f32(X), f32(A))  # float64 inputs are rounded to float32 first, as documented
    out = relative_projection(x, A, chunk_size=chunk_size)
    assert out.dtype == torch.float32 and out.shape == (23, 5)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)
    angular = relative_projection(x, A, "angular", chunk_size=chunk_size)
    np.testing.assert_allclose(angular.numpy(), 1 - np.arccos(np.clip(expected, -1, 1)) / np.pi, atol=1e-5)


@pytest.mark.parametrize("chunk_size", [None, 3])
def test_centred_sparsified_and_estimator_paths(chunk_size):
    expected = cosine_reference(f32(X), f32(A), center=True)
    np.testing.assert_allclose(relative_projection(X, A, center=True, chunk_size=chunk_size).numpy(), expected,
                               atol=1e-5)
    sparse = relative_projection(X, A, topk=2, power=2.0, chunk_size=chunk_size).numpy()
    dense = cosine_reference(f32(X), f32(A))
    keep = np.zeros_like(dense)
    top = np.argsort(-dense, axis=1)[:, :2]
    np.put_along_axis(keep, top, np.take_along_axis(dense, top, 1), 1)
    keep = np.clip(keep, 0, None) ** 2
    norms = np.linalg.norm(keep, axis=1, keepdims=True)
    np.testing.assert_allclose(sparse, np.where(norms > 0, keep / np.maximum(norms, 1e-300), 0), atol=1e-5)
    estimator = RelativeProjection(chunk_size=chunk_size).fit(A)
    np.testing.assert_allclose(estimator.transform(X).numpy(), dense, atol=1e-5)


@pytest.mark.parametrize("projection", ["euclidean", "l1", "linf"])
def test_distance_projections_take_float64_chunks(projection):
    whole = relative_projection(torch.tensor(f32(X)), A, projection)
    torch.testing.assert_close(relative_projection(X, A, projection, chunk_size=4), whole)
    expected = {"euclidean": 2, "l1": 1, "linf": np.inf}[projection]
    diff = f32(X)[:, None, :].astype(np.float64) - f32(A)[None].astype(np.float64)
    np.testing.assert_allclose(whole.numpy(), np.linalg.norm(diff, ord=expected, axis=2), rtol=1e-4, atol=1e-4)


def test_float32_inputs_are_shared_not_copied():
    array = f32(X)
    assert as_matrix(array, lazy=True).data_ptr() == array.ctypes.data
    assert as_matrix(X, lazy=True).data_ptr() == X.ctypes.data  # float64 stays float64, converted per chunk
    assert as_matrix(X, lazy=True).dtype == torch.float64 and as_matrix(X).dtype == torch.float32
    readonly = f32(X)
    readonly.setflags(write=False)
    assert as_matrix(readonly, lazy=True).data_ptr() != readonly.ctypes.data  # torch cannot honour read-only


@pytest.mark.parametrize("projection", ["cosine", "angular", "euclidean", "l1"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_row_in_a_middle_chunk(projection, bad):
    x = X.copy()
    x[9, 2] = bad
    for dtype in (np.float32, np.float64):
        with pytest.raises(NonFiniteError, match="x contains NaN or infinite values"):
            relative_projection(x.astype(dtype), A, projection, chunk_size=4)
        with pytest.raises(NonFiniteError, match="x contains NaN or infinite values"):
            RelativeProjection(projection, chunk_size=4).fit(A).transform(torch.tensor(x.astype(dtype)))


def test_values_beyond_float32_in_a_middle_chunk():
    x = X.copy()
    x[9, 2] = 1e39
    with pytest.raises(NonFiniteError, match="beyond the float32 range"):
        relative_projection(x, A, chunk_size=4)
    x[20, 0] = np.nan  # an eager check sees the NaN too: its message wins, as before
    with pytest.raises(NonFiniteError, match="contains NaN"):
        relative_projection(x, A, chunk_size=4)


def test_zero_row_in_a_middle_chunk_names_global_rows():
    x = X.copy()
    x[9] = 0.0
    x[10] = 0.0
    for chunk_size in (4, 8, None):
        with pytest.raises(ZeroVectorError, match=r"x has zero vectors \(rows \[9, 10\]\)"):
            relative_projection(x, A, chunk_size=chunk_size)
    relative_projection(x, A, "euclidean", chunk_size=4)  # distances take zero rows


def test_errors_keep_the_eager_order():
    x = X.copy()
    x[20, 1] = np.nan
    x[2] = 0.0  # a zero row in an earlier chunk than the NaN: the NaN is still reported
    with pytest.raises(NonFiniteError):
        relative_projection(x, A, chunk_size=4)
    with pytest.raises(NonFiniteError):
        relative_projection(x, A[:, :3])  # not the dimension mismatch
    with pytest.raises(NonFiniteError):
        relative_projection(x, A, topk=99)
    with pytest.raises(InvalidParameterError, match="dimension"):
        relative_projection(X, A[:, :3])
    with pytest.raises(ZeroVectorError, match="anchors"):
        relative_projection(X, np.vstack([A, np.zeros((1, 6))]))


def test_norm_overflow_on_finite_values_takes_the_exact_path():
    x = f32(X)
    x[9] = 3e30  # finite, but the squared norm overflows float32
    out = relative_projection(x, A, chunk_size=4)
    torch.testing.assert_close(out[8:12], relative.cosine(torch.tensor(x[8:12]), torch.tensor(f32(A))))
    np.testing.assert_allclose(out[:8].numpy(), cosine_reference(x[:8], f32(A)), atol=1e-5)


# ---- translators --------------------------------------------------------------------------------------------


SOURCE = RNG.normal(size=(40, 6))
TARGET = RNG.normal(size=(40, 4))


def translator_reference(translator, x: np.ndarray) -> np.ndarray:
    s_mean, s_scale = (t.double().numpy() for t in (translator.source_scaler_.mean_, translator.source_scaler_.scale_))
    t_mean, t_scale = (t.double().numpy() for t in (translator.target_scaler_.mean_, translator.target_scaler_.scale_))
    z = (f32(x).astype(np.float64) - s_mean) / s_scale
    if hasattr(translator, "rotation_"):
        width = translator.rotation_.shape[0]
        z = np.pad(z, ((0, 0), (0, width - z.shape[1]))) @ translator.rotation_.double().numpy()
    else:
        z = z @ translator.weight_.double().numpy() + (translator.bias_.double().numpy()
                                                       if hasattr(translator, "bias_") else 0.0)
    return z[:, : t_mean.shape[0]] * t_scale + t_mean


@pytest.mark.parametrize("name", ["procrustes", "linear", "affine", "lortho"])
@pytest.mark.parametrize("scaling", ["standard", None])
def test_translator_transform_in_chunks_matches_a_numpy_reference(name, scaling, monkeypatch):
    translator = get_translator(name, scaling=scaling).fit(SOURCE, TARGET)
    x = RNG.normal(size=(31, 6))
    expected = translator_reference(translator, x)
    whole = translator.transform(x)
    monkeypatch.setattr(translate, "_CHUNK_ELEMENTS", 6 * 4)  # 4 rows per chunk
    for inputs in (x, f32(x), torch.tensor(x), torch.tensor(f32(x))):
        out = translator.transform(inputs)
        assert out.dtype == torch.float32 and out.shape == (31, 4)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(out, whole)


def test_translator_transform_errors(monkeypatch):
    monkeypatch.setattr(translate, "_CHUNK_ELEMENTS", 6 * 4)
    translator = get_translator("procrustes").fit(SOURCE, TARGET)
    x = RNG.normal(size=(31, 6))
    x[17, 3] = np.nan
    with pytest.raises(NonFiniteError, match="x_source contains NaN"):
        translator.transform(x)
    with pytest.raises(NonFiniteError, match="x_source contains NaN"):
        translator.transform(x[:, :5])  # non-finite first, as the eager check reported it
    with pytest.raises(ShapeMismatchError, match="dimension 5"):
        translator.transform(SOURCE[:, :5])
    x[17, 3] = 1e39
    with pytest.raises(NonFiniteError, match="beyond the float32 range"):
        translator.transform(x)
    inverse = get_translator("inverse_relative").fit(SOURCE, TARGET)
    assert torch.isfinite(inverse.transform(RNG.normal(size=(31, 6)))).all()


def test_linear_translators_fold_their_scalings_without_losing_a_large_common_offset():
    # the folded float32 product keeps the shift outside it: an offset of 1e4 on every input (and the anchors)
    # cancels before the product, so the result still matches the float64 reference
    for name in ("procrustes", "linear", "affine", "lortho"):
        translator = get_translator(name).fit(SOURCE + 1e4, TARGET)
        x = RNG.normal(size=(50, 6)) + 1e4
        np.testing.assert_allclose(translator.transform(x).numpy(), translator_reference(translator, x),
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_value_in_a_direction_the_map_ignores_is_still_an_error(bad, monkeypatch):
    # 3 anchors in 6 dimensions: Procrustes keeps only the directions they span (a partial isometry), so a whole
    # input direction maps to zero; a non-finite value there must still be reported (inf * 0 and NaN * 0 are NaN)
    monkeypatch.setattr(translate, "_CHUNK_ELEMENTS", 6 * 4)
    source = np.zeros((3, 6))
    source[:, :3] = RNG.normal(size=(3, 3))
    translator = get_translator("procrustes", scaling=None).fit(source, RNG.normal(size=(3, 6)))
    x = RNG.normal(size=(12, 6))
    x[9, 5] = bad
    with pytest.raises(NonFiniteError, match="x_source contains NaN"):
        translator.transform(x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_all_finite_agrees_with_the_elementwise_test(dtype):
    # the one-sum shortcut: any NaN or infinity makes the sum non-finite; a finite sum that overflows (values near
    # the dtype's maximum) must fall back to the elementwise test and still say finite
    big = torch.finfo(dtype).max
    nan, inf = float("nan"), float("inf")
    cases = [[[]], [[1.0] * 3] * 4, [[big] * 2] * 8, [[-big] * 2] * 8, [[big, -big, big]], [[1.0, nan]], [[inf]],
             [[inf, -inf]], [[-inf, 2.0, 3.0]]]
    for values in cases:
        case = torch.tensor(values, dtype=dtype)
        assert all_finite(case) is bool(torch.isfinite(case).all()), case
    x = torch.randn(300, 7, dtype=dtype)
    assert all_finite(x)
    for bad in (float("nan"), float("inf"), float("-inf")):
        y = x.clone()
        y[123, 4] = bad
        assert not all_finite(y)


# ---- the benchmark runs tiny ---------------------------------------------------------------------------------


def test_core_speed_benchmark_runs_tiny():
    from benchmarks import core_speed as bench

    rel = bench.relative_ratios(300, 16, 20, repeats=1, use_latentis=False)
    assert rel["ratio_vs_bare"] > 0 and rel["ratio_vs_latentis"] is None and rel["max_abs_diff_vs_bare"] < 1e-5
    fits = bench.translator_fit_ratios(60, 8, 8, 4, repeats=1)
    for result in fits.values():
        assert result["ratio"] > 0 and result["max_abs_diff"] < 1e-4
    memory = bench.peak_memory(2000, 16, 20)
    assert memory["ratio"] >= 0 and memory["bound_mib"] > 0
    table = bench.table([rel], fits, memory)
    assert "not measured" in table and "procrustes fit" in table and "peak memory" in table
