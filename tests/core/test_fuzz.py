"""Property-based fuzz of the public latent_core math functions.

Every call gets random shapes (0, 1 or a few rows, 1 column, mismatched rows, wrong ndim), dtypes (float16/32/64,
ints, bool, complex, objects and strings), NaN/Inf, numpy vs torch vs lists, and odd parameters (numpy and
torch integer scalars, floats, strings, bools). The property: the call either returns a valid output (right
shape, finite where the inputs were finite) or raises a :class:`LatentCoreError` subclass; never another
exception type, never a hang (an alarm fails any example that runs past ``HANG_SECONDS``).

Derandomized: the same examples every run, so CI is reproducible.
"""

from __future__ import annotations

import math
import signal
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latent_core import anchors, crossmodal, explore, merge, metrics, relative, stitching, translate
from latent_core.errors import LatentCoreError
from latent_core.maps import Map2D, pca_2d, pca_fit

HANG_SECONDS = 20
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ROWS = st.sampled_from([0, 1, 2, 3, 4, 6, 9])
COLS = st.sampled_from([0, 1, 2, 3, 5])
GOOD_DTYPES = ["float32", "float64"]
ODD_DTYPES = ["float16", "int64", "int32", "bool", "complex64", "object", "str"]


@contextmanager
def no_hang(seconds: int = HANG_SECONDS):
    def alarm(signum, frame):
        raise TimeoutError(f"call ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class Input:
    """A drawn array and whether it holds only finite real numbers (the condition for a finite output)."""

    def __init__(self, value, finite: bool) -> None:
        self.value, self.finite = value, finite


@st.composite
def matrices(draw, rows=None, cols=None, odd: bool = True) -> Input:
    """A matrix-like input: mostly a valid float matrix, sometimes anything."""
    n = draw(ROWS) if rows is None else rows
    d = draw(COLS) if cols is None else cols
    shape = (n, d)
    if odd and draw(st.integers(0, 9)) == 0:  # wrong ndim
        shape = draw(st.sampled_from([(n,), (n, d, 2), ()]))
    dtype = draw(st.sampled_from(GOOD_DTYPES + ODD_DTYPES)) if odd and draw(st.booleans()) else draw(
        st.sampled_from(GOOD_DTYPES))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["normal", "normal", "small-ints", "constant", "duplicates", "zeros"]))
    if kind == "normal":
        array = rng.normal(scale=draw(st.sampled_from([1e-3, 1.0, 100.0])), size=shape)
    elif kind == "small-ints":
        array = rng.integers(-2, 3, size=shape).astype(float)
    elif kind == "constant":
        array = np.full(shape, draw(st.sampled_from([0.5, -2.0, 3.0])))
    elif kind == "duplicates":
        array = rng.normal(size=shape)
        if array.ndim == 2 and n > 1:
            array[1:] = array[0]
    else:
        array = np.zeros(shape)
    finite = True
    if odd and array.size and draw(st.integers(0, 7)) == 0:
        array = array.copy()
        array.flat[draw(st.integers(0, array.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        finite = False
    if dtype == "str":
        value = array.astype(str)
        if draw(st.booleans()) and value.size:
            value.flat[0] = "not a number"
        finite = False
    elif dtype == "object":
        value = array.astype(object)
        if draw(st.booleans()) and value.size:
            value.flat[0] = draw(st.sampled_from([None, "x", [1, 2], 1 + 2j]))
            finite = False
    elif dtype == "complex64":
        value, finite = (array + 1j).astype(np.complex64), False
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = array.astype(dtype)
        if dtype == "float16" and not np.isfinite(value).all():
            finite = False
    container = draw(st.sampled_from(["numpy", "numpy", "torch", "list"])) if odd else draw(
        st.sampled_from(["numpy", "torch"]))
    if container == "torch" and value.dtype.kind in "biufc":
        value = torch.as_tensor(value, device=draw(st.sampled_from(DEVICES)))
    elif container == "list":
        value = value.tolist()
    return Input(value, finite)


def integers_like(draw, value: int):
    """``value`` as an int, a numpy or torch integer scalar; or (rarely) something that is not an int."""
    return draw(st.sampled_from([value, value, np.int64(value), np.int32(value), torch.tensor(value),
                                 float(value) + 0.5, str(value), True, None, -value]))


@st.composite
def indices(draw, n: int, count: int | None = None):
    """Indices into ``n`` rows: mostly valid and distinct, sometimes not."""
    count = draw(st.integers(0, max(0, n))) if count is None else count
    perm = np.random.default_rng(draw(st.integers(0, 999))).permutation(max(n, 1))[:count]
    kind = draw(st.sampled_from(["numpy", "numpy", "list", "torch", "float", "dup", "range", "str", "2d"]))
    if kind == "list":
        return perm.tolist()
    if kind == "torch":
        return torch.as_tensor(perm)
    if kind == "float":
        return perm.astype(float)
    if kind == "dup":
        return np.concatenate([perm, perm[:1]])
    if kind == "range":
        return np.concatenate([perm, [n + 3, -n - 5]])
    if kind == "str":
        return perm.astype(str)
    if kind == "2d":
        return perm[None]
    return perm


def rows_of(x) -> int | None:
    shape = getattr(x, "shape", None)
    if shape is None:
        try:
            shape = np.asarray(x, dtype=object).shape
        except ValueError:
            return None
    return shape[0] if len(shape) else None


def check_array(out, shape, finite: bool) -> None:
    assert isinstance(out, torch.Tensor | np.ndarray), type(out)
    assert tuple(out.shape) == tuple(shape), (tuple(out.shape), shape)
    values = out.detach().cpu().numpy() if torch.is_tensor(out) else out
    if finite and values.dtype.kind in "fc":
        assert np.isfinite(values).all(), "non-finite output from finite inputs"


def check_float(out, finite: bool) -> None:
    assert isinstance(out, float), type(out)
    if finite:
        assert math.isfinite(out), out


def all_finite(*inputs: Input) -> bool:
    return all(i.finite for i in inputs)


def call(fn, *args, **kwargs):
    """``fn(...)``, or None when it raised a LatentCoreError (any other exception fails the test)."""
    with no_hang(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except LatentCoreError:
            return None


# ---- the cases: each draws its inputs, calls, and checks the output ----------------------------------------


def case_relative_projection(draw):
    x, a = draw(matrices()), draw(matrices(cols=draw(COLS)))
    projection = draw(st.sampled_from(list(relative.PROJECTIONS) + ["manhattan", 3]))
    kwargs = {"center": draw(st.booleans())}
    if draw(st.booleans()):
        kwargs["topk"] = integers_like(draw, draw(st.integers(0, 4)))
    if draw(st.booleans()):
        kwargs["power"] = draw(st.sampled_from([1.0, 3, 0, -1.0, "2", float("nan"), np.float32(2.0)]))
    if draw(st.booleans()):
        kwargs["chunk_size"] = integers_like(draw, draw(st.integers(0, 3)))
    out = call(relative.relative_projection, x.value, a.value, projection, **kwargs)
    if out is not None:
        check_array(out, (rows_of(x.value), rows_of(a.value)), all_finite(x, a))


def case_relative_estimator(draw):
    x, a = draw(matrices()), draw(matrices())
    projection = draw(st.sampled_from(relative.PROJECTIONS))
    estimator = relative.RelativeProjection(projection, center=draw(st.booleans()))
    fitted = call(estimator.fit, a.value)
    if fitted is not None:
        out = call(fitted.transform, x.value)
        if out is not None:
            check_array(out, (rows_of(x.value), rows_of(a.value)), all_finite(x, a))


def case_product_projection(draw):
    x, a = draw(matrices()), draw(matrices())
    projections = draw(st.sampled_from([("cosine", "euclidean"), ("l1", "linf"), (), "cosine", ("bogus",)]))
    out = call(relative.product_projection, x.value, a.value, projections)
    if out is not None:
        count = 1 if isinstance(projections, str) else len(projections)
        check_array(out, (rows_of(x.value), rows_of(a.value) * count), all_finite(x, a))


def case_sparsify(draw):
    rel = draw(matrices())
    topk = integers_like(draw, draw(st.integers(0, 5))) if draw(st.booleans()) else None
    power = draw(st.sampled_from([None, 2.0, 0, "x"]))
    out = call(relative.sparsify, rel.value, topk, power)
    if out is not None:
        check_array(out, np.shape(np.asarray(rel.value, dtype=object)) if not torch.is_tensor(rel.value)
                    else rel.value.shape, rel.finite)


def case_translators(draw):
    k, d = draw(ROWS), draw(COLS)
    source, target = draw(matrices(rows=k, cols=d)), draw(matrices(rows=draw(st.sampled_from([k, k, k + 1]))))
    x = draw(matrices(cols=draw(st.sampled_from([d, d, d + 1]))))
    name = draw(st.sampled_from(list(translate.TRANSLATORS) + ["rotation"]))
    scaling = draw(st.sampled_from(["standard", "isotropic", None, "minmax"]))
    translator = call(translate.get_translator, name, scaling=scaling)
    if translator is None:
        return
    fitted = call(translator.fit, source.value, target.value)
    if fitted is None:
        return
    out = call(fitted.transform, x.value)
    if out is not None:
        check_array(out, (rows_of(x.value), fitted.target_dim_), all_finite(source, target, x))


def case_select_anchors(draw):
    x = draw(matrices())
    n_rows = rows_of(x.value) or 0
    n = integers_like(draw, draw(st.integers(0, max(2, n_rows + 1))))
    strategy = draw(st.sampled_from(list(anchors.STRATEGIES) + ["greedy"]))
    labels = draw(st.sampled_from([None, "ints", "strings", "short", "mixed"]))
    if labels == "ints":
        labels = np.arange(n_rows) % 2
    elif labels == "strings":
        labels = np.array(["a", "b", "c"] * n_rows)[:n_rows]
    elif labels == "short":
        labels = np.zeros(max(0, n_rows - 1))
    elif labels == "mixed":
        labels = [1, "a"] * n_rows
        labels = labels[:n_rows]
    seed = integers_like(draw, draw(st.integers(0, 3)))
    metric = draw(st.sampled_from(["cosine", "euclidean", "l1"]))
    out = call(anchors.select_anchors, x.value, n, strategy, labels=labels, seed=seed, metric=metric)
    if out is not None:
        assert out.dtype == torch.long and out.ndim == 1 and len(out) == int(n)
        assert len(set(out.tolist())) == len(out) and out.min() >= 0 and out.max() < n_rows


PAIR_METRICS = ["paired_cosine", "mse", "neighbor_agreement", "mutual_knn", "jaccard_at_k", "mrr", "topk_retrieval",
                "linear_cka", "rbf_cka", "unbiased_cka", "cknna", "svcca"]


def case_pair_metrics(draw):
    n = draw(ROWS)
    x = draw(matrices(rows=n))
    y = draw(matrices(rows=draw(st.sampled_from([n, n, n + 1])), cols=draw(st.sampled_from([None, 3]))))
    name = draw(st.sampled_from(PAIR_METRICS))
    kwargs = {}
    if name in ("neighbor_agreement", "mutual_knn", "jaccard_at_k", "topk_retrieval", "cknna"):
        kwargs["k"] = integers_like(draw, draw(st.integers(0, 4)))
    if name == "svcca":
        kwargs["keep"] = draw(st.sampled_from([0.99, 1.0, 0.0, 1.5, "x"]))
    if name == "rbf_cka":
        kwargs["sigma"] = draw(st.sampled_from([None, 1.0, 0.0, -1.0, "x"]))
    out = call(getattr(metrics, name), x.value, y.value, **kwargs)
    if out is None:
        return
    finite = all_finite(x, y)
    if name == "paired_cosine" or name == "neighbor_agreement":
        check_array(out, (rows_of(x.value),), finite)
    elif name == "mse":
        check_array(out, (), finite)
    else:
        check_float(out, finite)


def case_knn_indices(draw):
    x = draw(matrices())
    k = integers_like(draw, draw(st.integers(0, 4)))
    out = call(metrics.knn_indices, x.value, k)
    if out is not None:
        n = rows_of(x.value)
        assert out.shape == (n, int(k)) and (out >= 0).all() and (out < n).all()
        assert not (out == torch.arange(n)[:, None]).any()


def case_explore(draw):
    n = draw(ROWS)
    a, b = draw(matrices(rows=n)), draw(matrices(rows=draw(st.sampled_from([n, n, n + 1]))))
    index = draw(indices(n))
    projection = draw(st.sampled_from(["cosine", "euclidean+center", "cosine+center", "bogus"]))
    name = draw(st.sampled_from(list(translate.TRANSLATORS) + ["rotation"]))
    views = call(explore.compute_views, a.value, b.value, index, projection=projection, translator=name)
    if views is None:
        return
    finite = all_finite(a, b)
    k = len(views.anchor_idx)
    check_array(views.rel_a, (n, k), finite)
    check_array(views.rel_b, (n, k), finite)
    check_array(views.translated_b, (n, np.shape(views.translated_b)[1]), finite)
    table = call(explore.space_metrics, a.value, b.value, views, k=integers_like(draw, draw(st.integers(1, 4))))
    if table is not None:
        assert isinstance(table, pd.DataFrame) and len(table) == 3
    agree = call(explore.agreement, a.value, b.value, views, k=draw(st.integers(1, 4)))
    if agree is not None:
        for values in agree.values():
            check_array(values, (n,), finite)


def case_explore_helpers(draw):
    x = draw(matrices())
    n = rows_of(x.value) or 0
    which = draw(st.sampled_from(["anchor_similarity", "class_mean_similarity", "anchor_order"]))
    if which == "anchor_similarity":
        index = draw(indices(n))
        out = call(explore.anchor_similarity, x.value, index)
        if out is not None:
            check_array(out, (len(index), len(index)), x.finite)
    elif which == "class_mean_similarity":
        labels = draw(st.sampled_from(["ok", "big", "negative", "strings", "short"]))
        n_classes = integers_like(draw, 3)
        labels = {"ok": np.arange(n) % 3, "big": np.arange(n) + 5, "negative": -np.ones(n, int),
                  "strings": np.array(["a"] * n), "short": np.zeros(max(0, n - 1), int)}[labels]
        out = call(explore.class_mean_similarity, x.value, labels, n_classes)
        if out is not None:
            assert out.shape == (3, 3)
    else:
        index = draw(indices(n))
        out = call(explore.anchor_order, np.arange(n) % 2, index)
        if out is not None:
            assert len(out) == len(np.asarray(index).ravel())


def case_aggregate_relative(draw):
    n = draw(ROWS)
    spaces = [draw(matrices(rows=draw(st.sampled_from([n, n, n + 1])))) for _ in range(draw(st.integers(0, 3)))]
    index = draw(indices(n))
    projection = draw(st.sampled_from(["cosine", "euclidean", "nope"]))
    out = call(merge.aggregate_relative, [s.value for s in spaces], index, projection)
    if out is not None:
        check_array(out, (rows_of(spaces[0].value), len(np.asarray(index).ravel())), all_finite(*spaces))


def case_crossmodal(draw):
    k = draw(ROWS)
    images, image_anchors = draw(matrices()), draw(matrices(rows=k))
    texts, caption_anchors = draw(matrices()), draw(matrices(rows=draw(st.sampled_from([k, k, k + 1]))))
    which = draw(st.sampled_from(["asif_scores", "asif_predict", "anchor_knn_predict", "clip_scores",
                                  "stitched_clip_scores", "nearest_anchor_pairs", "anchor_pair_split"]))
    finite = all_finite(images, image_anchors, texts, caption_anchors)
    n_images = rows_of(images.value)
    if which in ("asif_scores", "asif_predict"):
        topk = draw(st.sampled_from([None, 50, 1, 0, np.int64(2), "3", 2.5]))
        power = draw(st.sampled_from([None, 3.0, 0.0, "x"]))
        out = call(getattr(crossmodal, which), images.value, image_anchors.value, texts.value, caption_anchors.value,
                   topk=topk, power=power)
        if out is not None:
            shape = (n_images, rows_of(texts.value)) if which == "asif_scores" else (n_images,)
            check_array(out, shape, finite)
    elif which == "anchor_knn_predict":
        labels = draw(st.sampled_from(["ok", "strings", "short", "negative"]))
        labels = {"ok": np.arange(k) % 2, "strings": np.array(["a"] * k), "short": np.zeros(max(0, k - 1), int),
                  "negative": -np.ones(k, int)}[labels]
        out = call(crossmodal.anchor_knn_predict, images.value, image_anchors.value, labels,
                   k=integers_like(draw, draw(st.integers(0, 3))))
        if out is not None:
            check_array(out, (n_images,), finite)
    elif which == "clip_scores":
        out = call(crossmodal.clip_scores, images.value, texts.value)
        if out is not None:
            check_array(out, (n_images, rows_of(texts.value)), finite)
    elif which == "stitched_clip_scores":
        out = call(crossmodal.stitched_clip_scores, images.value, image_anchors.value, caption_anchors.value,
                   texts.value, translator=draw(st.sampled_from(["linear", "procrustes", "nope"])))
        if out is not None:
            check_array(out, (n_images, rows_of(texts.value)), finite)
    elif which == "nearest_anchor_pairs":
        out = call(crossmodal.nearest_anchor_pairs, images.value, image_anchors.value,
                   k=integers_like(draw, draw(st.integers(0, 3))))
        if out is not None:
            assert out[0].shape == out[1].shape and out[0].shape[0] == n_images
    else:
        n_samples = integers_like(draw, draw(st.integers(0, 6)))
        n_pairs = integers_like(draw, draw(st.integers(0, 6)))
        out = call(crossmodal.anchor_pair_split, n_samples, n_pairs, seed=integers_like(draw, 1))
        if out is not None:
            assert len(out[0]) == int(n_pairs) and len(out[0]) + len(out[1]) == int(n_samples)


def case_stitching(draw):
    n = draw(st.sampled_from([0, 3, 12, 16]))
    a, b = draw(matrices(rows=n)), draw(matrices(rows=draw(st.sampled_from([n, n, n + 1]))))
    labels = draw(st.sampled_from(["ok", "one-class", "strings", "short"]))
    labels = {"ok": np.arange(n) % 2, "one-class": np.zeros(n, int), "strings": np.array(["x", "y"] * n)[:n],
              "short": np.zeros(max(0, n - 1), int)}[labels]
    which = draw(st.sampled_from(["stitch_eval", "split_indices", "parse_method"]))
    if which == "parse_method":
        method = draw(st.sampled_from(["absolute", "relative:cosine+center", "translate:affine", "relative:x",
                                       "inverse_relative", 3, None, "translate:"]))
        out = call(stitching.parse_method, method)
        if out is not None:
            assert out[0] in ("absolute", "relative", "translate")
        return
    if which == "split_indices":
        out = call(stitching.split_indices, labels, n_anchors=integers_like(draw, draw(st.integers(0, 4))),
                   test_size=draw(st.sampled_from([0.25, 2, 0, -1, 1.5, "x"])), seed=integers_like(draw, 0))
        if out is not None:
            pool, train, test = out
            assert not (set(pool) & set(train)) and not (set(train) & set(test)) and not (set(pool) & set(test))
        return
    anchor_idx, train_idx, test_idx = draw(indices(n, 3)), draw(indices(n, 4)), draw(indices(n, 2))
    method = draw(st.sampled_from(["absolute", "relative:cosine", "translate:procrustes", "translate:linear"]))
    out = call(stitching.stitch_eval, a.value, b.value, labels, anchor_idx=anchor_idx, method=method,
               train_idx=train_idx, test_idx=test_idx, seed=0)
    if out is not None:
        assert 0.0 <= out.accuracy <= 1.0 and 0.0 <= out.chance <= 1.0


def case_pca(draw):
    x, y = draw(matrices()), draw(matrices())
    which = draw(st.sampled_from(["pca_2d", "pca_fit", "Map2D"]))
    if which == "pca_2d":
        out = call(pca_2d, x.value)
        if out is not None:
            check_array(out, (rows_of(x.value), 2), x.finite)
    elif which == "pca_fit":
        out = call(pca_fit, x.value)
        if out is not None:
            mean, components = out
            assert components.shape[0] == 2 and mean.shape == (components.shape[1],)
            if x.finite:
                assert np.isfinite(mean).all() and np.isfinite(components).all()
    else:
        fitted = call(Map2D("pca").fit, x.value)
        if fitted is not None:
            out = call(fitted.transform, y.value)
            if out is not None:
                check_array(out, (rows_of(y.value), 2), all_finite(x, y))


CASES = {name.removeprefix("case_"): fn for name, fn in globals().items() if name.startswith("case_")}


@pytest.mark.parametrize("case", sorted(CASES))
@FUZZ
@given(data=st.data())
def test_fuzz_returns_valid_output_or_a_typed_error(case, data):
    CASES[case](data.draw)


def test_integer_scalars_from_numpy_and_torch_are_accepted_everywhere():
    x = np.random.default_rng(0).normal(size=(12, 4)).astype(np.float32)
    for k in (np.int64(3), np.int32(3), torch.tensor(3)):
        assert torch.equal(metrics.knn_indices(x, k), metrics.knn_indices(x, 3))
        assert metrics.mutual_knn(x, x, k) == 1.0
        assert crossmodal.nearest_anchor_pairs(x, x[:5], k=k)[0].shape == (12, 3)
    assert len(crossmodal.anchor_pair_split(np.int64(10), torch.tensor(4))[0]) == 4
    with pytest.raises(LatentCoreError, match="k must be a positive integer, got 2.5"):
        metrics.knn_indices(x, 2.5)
