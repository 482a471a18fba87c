"""The Registry contract, the built-in registries, and parts registered at runtime reaching every consumer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from latent_core import anchors, heads, maps, relative
from latent_core.errors import ConfigError, InvalidParameterError, UnknownNameError
from latent_core.experiments import report, scenarios
from latent_core.explore import METRICS, compute_views, metric_help, register_metric, space_metrics
from latent_core.linalg import match_dim
from latent_core.registry import Registry
from latent_core.stitching import default_methods, parse_method, stitch_benchmark
from latent_core.translate import TRANSLATORS, Translator, get_translator, register_translator

# ---- the contract ------------------------------------------------------------------------------------------


@pytest.fixture
def shapes():
    registry = Registry("shape")

    @registry.register("square", sides=4)
    def square(size):
        return size * size

    @registry.register("triangle", sides=3, regular=True)
    class Triangle:
        pass

    return registry, square, Triangle


def test_register_stores_the_object_unchanged_with_its_metadata(shapes):
    registry, square, triangle = shapes
    assert registry.get("square") is square and registry["triangle"] is triangle and square(3) == 9
    assert registry.meta("square") == {"sides": 4} and registry.meta("triangle") == {"sides": 3, "regular": True}
    registry.meta("square")["sides"] = 5  # a copy: the registry keeps its own
    assert registry.meta("square") == {"sides": 4}


def test_names_iteration_and_mapping_interface_keep_registration_order(shapes):
    registry, square, triangle = shapes

    @registry.register("circle", sides=0)
    def circle():
        pass

    assert registry.names() == ("square", "triangle", "circle") == tuple(registry) == tuple(registry.keys())
    assert list(registry.values()) == [square, triangle, circle] and len(registry) == 3
    assert ", ".join(registry) == "square, triangle, circle"
    assert registry.names(sides=3) == ("triangle",) and registry.names(regular=True) == ("triangle",)
    assert "circle" in registry and "hexagon" not in registry and 4 not in registry and ["square"] not in registry
    assert registry == ("square", "triangle", "circle") and registry == ["square", "triangle", "circle"]
    assert registry != ("triangle", "square", "circle") and registry != ("square", "triangle")
    assert registry == {"square": square, "triangle": triangle, "circle": circle}
    assert repr(registry) == "Registry('shape': square, triangle, circle)"


def test_unknown_names_name_the_choices(shapes):
    registry, _, _ = shapes
    message = "Unknown shape 'hexagon'; choose from square, triangle."
    for lookup in (registry.get, registry.meta, registry.unregister, registry.__getitem__):
        with pytest.raises(UnknownNameError) as caught:
            lookup("hexagon")
        assert str(caught.value) == message
    assert isinstance(caught.value, InvalidParameterError) and isinstance(caught.value, KeyError)
    with pytest.raises(InvalidParameterError, match=r"^Unknown shape None; choose from square, triangle\.$"):
        registry.get(None)
    with pytest.raises(InvalidParameterError, match=r"Unknown shape \['square'\]"):
        registry.get(["square"])  # unhashable: still the typed error


def test_duplicates_are_refused_unless_replaced_in_place(shapes):
    registry, square, _ = shapes
    with pytest.raises(InvalidParameterError, match="shape named 'square' is already registered; pass replace=True"):
        registry.register("square")(lambda size: 0)
    assert registry.get("square") is square

    def other(size):
        return 4 * size

    assert registry.register("square", replace=True, sides=4)(other) is other
    assert registry.get("square") is other and registry.names() == ("square", "triangle")
    for bad in ("", None, 3):
        with pytest.raises(InvalidParameterError, match="shape name must be a non-empty string"):
            registry.register(bad)


def test_unregister_removes_and_frees_the_name(shapes):
    registry, square, _ = shapes
    registry.unregister("square")
    assert registry.names() == ("triangle",) and "square" not in registry
    registry.register("square")(square)  # free again, now last
    assert registry.names() == ("triangle", "square")


# ---- the built-in registries -------------------------------------------------------------------------------


def test_builtin_registries_list_what_they_listed_before():
    assert relative.PROJECTIONS == ("cosine", "angular", "euclidean", "l1", "linf")
    assert relative.SIMILARITIES == ("cosine", "angular") and relative.DISTANCES == ("euclidean", "l1", "linf")
    assert relative.PROJECTION_FUNCTIONS == relative.PROJECTIONS
    assert TRANSLATORS == ("procrustes", "linear", "affine", "lortho", "inverse_relative")
    assert [TRANSLATORS.meta(t)["column"] for t in TRANSLATORS] == ["ortho", "linear", "affine", "l-ortho",
                                                                     "inverse-relative"]
    assert TRANSLATORS.names(live=True) == ("procrustes", "linear", "inverse_relative")
    assert heads.HEADS == ("logreg", "mlp") and isinstance(heads.make_head("mlp", 3), heads.MLPHead)
    assert anchors.STRATEGIES == ("random", "stratified", "kmeans", "fps")
    assert [maps.MAP_KINDS.meta(k)["label"] for k in maps.MAP_KINDS] == ["PCA", "UMAP", "t-SNE"]
    assert METRICS == ("linear CKA", "mutual k-NN", "Jaccard@k", "MRR", "mean paired cosine", "top-1 retrieval",
                       "mean rank", "unbiased CKA", "RBF CKA", "CKNNA", "SVCCA")
    assert METRICS.names(shared_coordinates=True) == ("MRR", "mean paired cosine", "top-1 retrieval", "mean rank")
    assert list(metric_help()) == list(METRICS)
    assert metric_help()["MRR"] == ("Mean reciprocal rank of a sample's own counterpart among all samples (needs "
                                    "shared coordinates).")
    assert default_methods() == ("absolute", "relative:cosine", "relative:cosine+center", "translate:procrustes",
                                 "translate:linear", "translate:affine", "translate:lortho",
                                 "translate:inverse_relative")


def test_projection_functions_match_scipy_cdist_and_numpy_cosine():
    rng = np.random.default_rng(0)
    x, a = rng.normal(size=(7, 5)), rng.normal(size=(3, 5))
    cos = 1 - cdist(x, a, "cosine")
    expected = {"cosine": cos, "angular": 1 - np.arccos(np.clip(cos, -1, 1)) / np.pi, "euclidean": cdist(x, a),
                "l1": cdist(x, a, "cityblock"), "linf": cdist(x, a, "chebyshev")}
    for name, function in relative.PROJECTION_FUNCTIONS.items():
        np.testing.assert_allclose(function(torch.from_numpy(x), torch.from_numpy(a)).numpy(), expected[name],
                                   rtol=1e-9, atol=1e-9)


def test_unknown_names_keep_their_messages():
    with pytest.raises(InvalidParameterError, match="Unknown head 'svm'; choose from logreg, mlp."):
        heads.make_head("svm")
    with pytest.raises(InvalidParameterError, match="Unknown map kind 'mds'; choose from pca, umap, tsne."):
        maps.map_2d("mds", np.zeros((5, 2)))
    with pytest.raises(InvalidParameterError, match="Unknown translator 'teleport'; choose from procrustes, linear"):
        get_translator("teleport")


# ---- a translator registered at runtime --------------------------------------------------------------------


class ZeroPad(Translator):
    """The identity on scaled coordinates: zero-padded or cropped to the target dimension."""

    def _fit_scaled(self, source, target):
        self.fitted_on_ = source.shape[0]

    def _map(self, source):
        return match_dim(source, self.target_dim_)


@pytest.fixture
def zero_pad():
    register_translator("zero_pad", column="zero-pad", live=False)(ZeroPad)
    yield "zero_pad"
    TRANSLATORS.unregister("zero_pad")


def _clusters(n=240, d=6, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    return (rng.normal(size=(3, d)) * 3)[labels] + rng.normal(size=(n, d)), labels


def test_a_runtime_translator_is_listed_parsed_benchmarked_and_tabled(zero_pad):
    assert default_methods()[-1] == "translate:zero_pad"
    assert parse_method("translate:zero_pad") == ("translate", "zero_pad")
    assert scenarios.ExperimentScenario(name="s", pairs=[["a:x", "a:y"]]).methods[-1] == "translate:zero_pad"
    asif = scenarios.ExperimentScenario(name="s", kind="asif", translator="zero_pad")
    assert asif.validate().translator == "zero_pad"
    with pytest.raises(ConfigError, match="translator must be one of .*'zero_pad'"):
        scenarios.ExperimentScenario(name="s", kind="asif", translator="warp").validate()

    a, labels = _clusters()
    frame = stitch_benchmark(a, a.copy(), labels, n_anchors=20, test_size=60, seeds=[0])
    assert list(frame.method) == list(default_methods())
    row = frame.set_index("method").loc["translate:zero_pad"]
    # B is A: the scaled identity maps B's test vectors onto A's, so the stitched head scores as on A
    assert row.accuracy == row.a_accuracy and row.n_anchors == 20

    table = report.stitching_table(frame.assign(dataset="toy", encoder_a="st:org/model-a", encoder_b="file:b.npy"))
    assert list(table.columns) == ["dataset", "A → B", "no-stitch", "absolute", "relative", "relative (centred)",
                                   "ortho", "linear", "affine", "l-ortho", "inverse-relative", "zero-pad", "chance"]
    assert table.loc[0, "zero-pad"] == f"{row.accuracy:.3f} (A: {row.a_accuracy:.3f})"
    assert table.loc[0, "A → B"] == "model-a → b.npy"


def test_a_translator_registered_without_a_column_uses_its_name():
    register_translator("zero_pad_plain")(ZeroPad)
    try:
        assert report.table_columns()["translate:zero_pad_plain"] == "zero_pad_plain"
        assert TRANSLATORS.meta("zero_pad_plain") == {"column": "zero_pad_plain", "live": True}
        with pytest.raises(InvalidParameterError, match="already registered"):
            register_translator("zero_pad_plain")(ZeroPad)
    finally:
        TRANSLATORS.unregister("zero_pad_plain")
    assert "translate:zero_pad_plain" not in default_methods()
    with pytest.raises(InvalidParameterError, match="needs a Translator subclass"):
        register_translator("not_a_translator")(dict)
    assert "not_a_translator" not in TRANSLATORS


# ---- a metric registered at runtime ------------------------------------------------------------------------


@pytest.fixture
def extra_metrics():
    @register_metric("mean squared difference", help="Mean of (x - y)^2.", shared_coordinates=True)
    def msd(x, y, k):
        return float(np.mean((np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2))

    @register_metric("k used", help="The k of the table.")
    def k_used(x, y, k):
        return k

    yield
    METRICS.unregister("mean squared difference")
    METRICS.unregister("k used")


def test_a_runtime_metric_is_a_column_of_space_metrics(extra_metrics):
    a, _ = _clusters(n=60)
    b = np.random.default_rng(1).normal(size=(60, 4)).astype(np.float32)
    views = compute_views(a, b, np.arange(0, 60, 5))
    table = space_metrics(a, b, views, k=7)
    assert list(table.columns) == ["comparison", "k", "linear CKA", "mutual k-NN", "Jaccard@k", "MRR",
                                   "mean paired cosine", "top-1 retrieval", "mean rank", "unbiased CKA", "RBF CKA",
                                   "CKNNA", "SVCCA", "mean squared difference", "k used"]
    rows = table.set_index("comparison")
    assert math.isnan(rows.loc["absolute A vs absolute B", "mean squared difference"])
    assert math.isnan(rows.loc["absolute A vs absolute B", "MRR"])
    relative_msd = np.mean((views.rel_a.astype(np.float64) - views.rel_b) ** 2)
    assert rows.loc["relative A vs relative B", "mean squared difference"] == pytest.approx(relative_msd, rel=1e-12)
    translated_msd = np.mean((a.astype(np.float32).astype(np.float64) - views.translated_b) ** 2)
    assert rows.loc["B translated into A vs A", "mean squared difference"] == pytest.approx(translated_msd, rel=1e-6)
    assert (rows["k used"] == 7).all()
    assert list(metric_help())[-2:] == ["mean squared difference", "k used"]
    assert metric_help()["k used"] == "The k of the table."
