"""The experiments CLI and runners on reduced scenarios (the same code as the full offline runs)."""

import dataclasses
import subprocess
import sys

import pandas as pd
import pytest

from latent_core.data.images import fashion_mnist_available
from latent_core.errors import ConfigError
from latent_core.experiments import BUILTIN, load_scenario, run, write_report
from latent_core.experiments.scenarios import MINILM
from tests.conftest import ROOT, require

QUICK_TOML = """
name = "quick-text"
dataset = "bbc"
test_size = 900
n_anchors = 300
seeds = [0]
pairs = [["st:sentence-transformers/all-MiniLM-L6-v2", "st:sentence-transformers/all-mpnet-base-v2"],
         ["st:sentence-transformers/all-mpnet-base-v2", "st:sentence-transformers/all-MiniLM-L6-v2"]]
sweep_pairs = 1
sweep_counts = [10, 100, 300]
sweep_strategies = ["random", "kmeans"]
"""

def test_builtin_scenarios_and_files(tmp_path):
    assert set(BUILTIN) == {"text-bbc", "image-fashion", "crossmodal-asif", "align-bbc", "align-fashion",
                            "text-bbc-shift-scale"}
    text = load_scenario("text-bbc")
    assert [MINILM, "st:sentence-transformers/all-mpnet-base-v2"] in text.pairs and text.test_size >= 900
    (tmp_path / "s.toml").write_text(QUICK_TOML)
    assert load_scenario(str(tmp_path / "s.toml")).n_anchors == 300
    (tmp_path / "s.yaml").write_text("kind: asif\ndataset: captions:digits\nn_anchors: 50\n")
    assert load_scenario(str(tmp_path / "s.yaml")).name == "s"
    (tmp_path / "bad.toml").write_text('name = "x"\nanchors = 5\n')
    with pytest.raises(ConfigError, match="Unknown settings.*anchors"):
        load_scenario(str(tmp_path / "bad.toml"))
    (tmp_path / "broken.toml").write_text("name = [")
    with pytest.raises(ConfigError, match="Could not parse"):
        load_scenario(str(tmp_path / "broken.toml"))
    with pytest.raises(ConfigError, match="No scenario"):
        load_scenario("text-imdb")
    with pytest.raises(ConfigError, match="needs 'pairs'"):
        (tmp_path / "nopairs.toml").write_text('name = "x"\n')
        load_scenario(str(tmp_path / "nopairs.toml"))


@pytest.mark.slow
def test_cli_runs_a_text_scenario_and_writes_its_report(tmp_path):
    (tmp_path / "quick.toml").write_text(QUICK_TOML)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "latent_core.experiments", "run", str(tmp_path / "quick.toml"),
                           "--out", str(out), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    names = {p.name for p in out.iterdir()}
    assert {"results.csv", "table.md", "sweep.csv", "accuracy_vs_anchors_0.png", "accuracy_vs_anchors_0.html"} <= names
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 2 * 1 * 8  # pairs x seeds x methods
    summary = results.groupby("method")[["accuracy", "a_accuracy"]].mean()
    chance = results.chance.mean()
    # the real MiniLM <-> MPNet pair on all of BBC (bundled embeddings): the published pattern
    assert abs(summary.accuracy["absolute"] - chance) < 0.1  # absolute stitching collapses
    assert summary.accuracy["relative:cosine"] > 0.9 * summary.a_accuracy["relative:cosine"]  # relative recovers
    assert summary.accuracy["translate:procrustes"] > 0.9 * summary.a_accuracy["absolute"]
    table = (out / "table.md").read_text()
    for column in ("no-stitch", "absolute", "relative", "relative (centred)", "ortho", "linear", "affine", "l-ortho",
                   "inverse-relative"):
        assert f"| {column} " in table or f" {column} |" in table
    sweep = pd.read_csv(out / "sweep.csv")
    assert set(sweep.strategy) == {"random", "kmeans"} and set(sweep.n_anchors) == {10, 100, 300}
    assert (out / "accuracy_vs_anchors_0.png").stat().st_size > 10_000


def test_cli_reports_bad_scenarios_without_a_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "latent_core.experiments", "run", "nope", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "error: No scenario 'nope'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_image_scenario_reduced():
    require(fashion_mnist_available(), "Fashion-MNIST needs: apt-get install dataset-fashion-mnist")
    scenario = load_scenario("image-fashion").reduced(n_samples=300, test_size=100, n_anchors=80, seeds=[0])
    scenario = dataclasses.replace(scenario, sweep_pairs=0, methods=["absolute", "relative:cosine",
                                                                     "translate:procrustes"])
    results = run(scenario, verbose=False).results.set_index("method")
    assert abs(results.loc["absolute"].accuracy.mean() - results.chance.mean()) < 0.15
    assert results.loc["relative:cosine"].accuracy.mean() > 0.45


@pytest.mark.slow
def test_asif_scenario_reduced(tmp_path):
    source = "captions:fashion-mnist" if fashion_mnist_available() else "captions:digits"
    scenario = dataclasses.replace(load_scenario("crossmodal-asif"), dataset=source, n_samples=300, test_size=100,
                                   n_anchors=150, seeds=[0], sweep_counts=[25, 150])
    experiment = run(scenario, verbose=False)
    accuracy = experiment.results.set_index("method").accuracy
    assert accuracy["asif"] > 0.35 and accuracy["anchor-knn"] > 0.35  # chance is about 0.1
    assert set(experiment.sweep.n_anchors) == {25, 150}
    paths = write_report(experiment, tmp_path)
    assert "| pairs |" in paths["table"].read_text() and paths["accuracy_vs_anchors_0.png"].exists()


@pytest.mark.slow
def test_clip_scenario_code_path_offline():
    scenario = dataclasses.replace(
        load_scenario("crossmodal-asif"), kind="clip", dataset="digits", n_samples=80, test_size=30, n_anchors=40,
        seeds=[0], image_encoder="clip:ViT-B-32/none:image", text_encoder="clip:ViT-B-32/none:text",
        stitched_image_encoder="effnet:lite0")
    with pytest.warns(RuntimeWarning, match="rank deficient"):  # 40 anchors for 1280 EfficientNet dims
        results = run(scenario, verbose=False).results
    assert set(results.method) == {"clip-zero-shot", "stitched-linear"}
    assert results.accuracy.between(0, 1).all()


def test_every_scenario_field_is_type_checked_before_any_encoding(tmp_path, monkeypatch):
    from latent_core.experiments import scenarios

    assert set(scenarios._FIELD_CHECKS) == {f.name for f in dataclasses.fields(scenarios.ExperimentScenario)}
    (tmp_path / "many.toml").write_text(QUICK_TOML.replace("n_anchors = 300", 'n_anchors = "many"'))
    with pytest.raises(ConfigError, match="Scenario 'quick-text': n_anchors must be an integer of at least 2, "
                                          "got 'many'."):
        load_scenario(str(tmp_path / "many.toml"))
    (tmp_path / "pairs.toml").write_text('name = "p"\npairs = "glove:6B-50d"\n')
    with pytest.raises(ConfigError, match="Scenario 'p': pairs must be a list of \\[encoder_a, encoder_b\\] pairs of "
                                          "encoder specs, got 'glove:6B-50d'."):
        load_scenario(str(tmp_path / "pairs.toml"))
    (tmp_path / "long.toml").write_text(f'name = "l"\ndataset = ["{"x" * 200}"]\npairs = [["a:b", "c:d"]]\n')
    with pytest.raises(ConfigError, match=r"dataset must be a dataset spec string such as 'bbc', got \['xxx.*\.\.\.\."):
        load_scenario(str(tmp_path / "long.toml"))


def test_modality_is_checked_before_encoding(monkeypatch):
    import importlib

    from latent_core.modality import check_modality, encoder_modality

    assert encoder_modality("glove:6B-50d") == "text" and encoder_modality("effnet:lite0") == "image"
    assert encoder_modality("clip:ViT-B-32/none:image") == "image" and encoder_modality("file:x.npy") is None
    check_modality("file:x.npy", "text", "digits", "image")  # uploaded vectors are aligned by rows instead

    def no_encoding(*args, **kwargs):
        raise AssertionError("encoded before the modality check")

    monkeypatch.setattr(importlib.import_module("latent_core.experiments.run"), "embed", no_encoding)
    scenario = dataclasses.replace(BUILTIN["text-bbc"], dataset="digits", n_samples=50,
                                   pairs=[["glove:6B-50d", MINILM]])
    with pytest.raises(ConfigError) as caught:
        run(scenario, verbose=False)
    assert str(caught.value) == ("glove:6B-50d reads texts but the dataset 'digits' holds images. Pick an image "
                                 "encoder, or a text dataset.")


def test_cli_prints_config_errors_without_a_traceback(tmp_path):
    (tmp_path / "bad.toml").write_text('name = "x"\nn_anchors = "many"\npairs = [["glove:6B-50d", "glove:6B-50d"]]\n')
    done = subprocess.run([sys.executable, "-m", "latent_core.experiments", "run", str(tmp_path / "bad.toml"),
                           "--out", str(tmp_path / "out"), "--quiet"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: Scenario 'x': n_anchors must be an integer of at least 2, got 'many'."


def test_the_stitching_table_shows_each_methods_own_no_stitch_and_flags_failed_heads():
    """A method whose head never learned A (own no-stitch 0.49 against the absolute 0.95) gets ⚠; its stitched
    0.49 says nothing about stitching. Hand-made results, two seeds."""
    import pandas as pd

    from latent_core.experiments import report

    rows = []
    for seed, (absolute, cosine, broken) in enumerate([(0.95, 0.90, 0.49), (0.97, 0.92, 0.49)]):
        base = {"dataset": "toy", "encoder_a": "st:org/a", "encoder_b": "st:org/b", "seed": seed, "chance": 0.5}
        rows += [{**base, "method": "absolute", "accuracy": 0.5, "a_accuracy": absolute},
                 {**base, "method": "relative:cosine", "accuracy": 0.8 + seed / 10, "a_accuracy": cosine},
                 {**base, "method": "relative:l1", "accuracy": 0.49, "a_accuracy": broken}]
    table = report.stitching_table(pd.DataFrame(rows)).iloc[0]
    assert table["no-stitch"] == "0.960 ± 0.010"
    assert table["absolute"] == "0.500 ± 0.000 (A: 0.960)"
    assert table["relative"] == "0.850 ± 0.050 (A: 0.910)"  # 0.05 below the absolute no-stitch: not flagged
    assert table["L1"] == "0.490 ± 0.000 (A: 0.490 ⚠)"


# ---- the products of invariances in the experiments, and a scenario where cosine is the wrong invariance ----------

def test_builtin_stitching_scenarios_run_every_projection_and_product_each_with_a_readable_column():
    from latent_core.experiments import report

    new = {"relative:angular": "angular", "relative:euclidean": "euclidean", "relative:l1": "L1",
           "relative:linf": "L-inf", "relative:product": "product", "relative:product-mean": "product-mean",
           "relative:product-select": "product-select"}
    columns = report.table_columns()
    assert {method: columns[method] for method in new} == new
    order = list(columns.values())  # the papers' columns and the translators' first, as before
    assert order[:4] == ["absolute", "relative", "relative (centred)", "ortho"]
    assert order.index("inverse-relative") < order.index("angular") < order.index("product-select")
    for scenario in (BUILTIN["text-bbc"], BUILTIN["image-fashion"], BUILTIN["text-bbc-shift-scale"]):
        assert set(new) <= set(scenario.methods) and {"absolute", "relative:cosine"} <= set(scenario.methods)
        assert all(method in columns for method in scenario.methods), scenario.name  # no raw method names
    rows = [{"dataset": "toy", "encoder_a": "st:org/a", "encoder_b": "st:org/b", "seed": 0, "chance": 0.25,
             "method": method, "accuracy": 0.5 + i / 100, "a_accuracy": 0.9} for i, method in
            enumerate(["absolute", *new])]
    table = report.stitching_table(pd.DataFrame(rows))
    assert list(table.columns) == ["dataset", "A → B", "no-stitch", "absolute", *new.values(), "chance"]
    assert table.iloc[0]["product-select"] == "0.570 (A: 0.900)"


def test_shift_scale_transform_matches_a_numpy_reference():
    import importlib

    import numpy as np
    import torch

    run_module = importlib.import_module("latent_core.experiments.run")
    x = np.random.default_rng(7).normal(size=(20, 5)) * [1, 2, 3, 4, 5] + 10
    rng = np.random.default_rng(3)
    z, w = rng.normal(size=5), rng.normal(size=5)
    expected = x * np.exp(0.3 * z) + 2.0 * x.std(axis=0) * w  # per dimension j: x_j * s_j + t_j
    got = run_module.shift_scale(torch.tensor(x, dtype=torch.float64), seed=3, log_scale=0.3, shift=2.0)
    assert got.dtype == torch.float32 and got.shape == (20, 5)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    scenario = dataclasses.replace(load_scenario("text-bbc-shift-scale"), b_transform_seed=3)
    np.testing.assert_allclose(run_module.transform_space(torch.tensor(x), scenario).numpy(), expected, rtol=1e-6)
    unchanged = torch.tensor(x)
    assert run_module.transform_space(unchanged, BUILTIN["text-bbc"]) is unchanged  # no b_transform: B as embedded
    identity = run_module.shift_scale(torch.tensor(x), seed=3, log_scale=0.0, shift=0.0)
    np.testing.assert_allclose(identity.numpy(), x, rtol=1e-6)


def test_the_shift_scale_scenario_validates_and_bad_transforms_are_config_errors(tmp_path):
    scenario = load_scenario("text-bbc-shift-scale")
    assert scenario.kind == "stitching" and scenario.b_transform == "shift-scale" and [MINILM, MINILM] in scenario.pairs
    assert "B_j * exp(N(0, 0.3^2)) + N(0, (2 std_j)^2)" in scenario.describe_b_transform()
    assert BUILTIN["text-bbc"].describe_b_transform() == ""
    (tmp_path / "t.toml").write_text(QUICK_TOML + 'b_transform = "shift-scale"\nb_shift = 5.0\n')
    assert load_scenario(str(tmp_path / "t.toml")).b_shift == 5.0
    for text, message in [('b_transform = "rotate"\n', "b_transform must be one of 'shift-scale'"),
                          ("b_log_scale = -0.1\n", "b_log_scale must be a non-negative number, got -0.1"),
                          ('b_transform = "shift-scale"\nkind = "asif"\n', "b_transform applies to stitching")]:
        (tmp_path / "bad.toml").write_text(QUICK_TOML + text)
        with pytest.raises(ConfigError, match=message):
            load_scenario(str(tmp_path / "bad.toml"))
    with pytest.raises(ConfigError, match="text-bbc-shift-scale"):  # the error lists it among the named scenarios
        load_scenario("text-bbc-shifted")


def test_a_small_shift_scale_run_breaks_cosine_and_keeps_euclidean(tmp_path, monkeypatch):
    """600 digits' labels, 10 well-separated Gaussian classes in 32 dimensions as both encoders' embeddings (B = A
    before the transform): the translation sends plain cosine to chance, the distances and the centred cosine keep
    A's accuracy, and product-select picks a block that survives."""
    import importlib

    import numpy as np
    import torch

    run_module = importlib.import_module("latent_core.experiments.run")

    def embeddings(spec, dataset, captions=False, verbose=True):
        rng, labels = np.random.default_rng(1), np.asarray(dataset.labels)
        centres = rng.normal(size=(labels.max() + 1, 32))
        return torch.tensor(centres[labels] + 0.7 * rng.normal(size=(len(labels), 32)), dtype=torch.float32)

    monkeypatch.setattr(run_module, "embed", embeddings)
    scenario = dataclasses.replace(
        load_scenario("text-bbc-shift-scale"), dataset="digits", n_samples=600, test_size=200, n_anchors=60,
        seeds=[0], pairs=[["file:a.npy", "file:a.npy"]],
        methods=["relative:cosine", "relative:cosine+center", "relative:euclidean", "relative:product-select"])
    experiment = run(scenario, verbose=False)
    results = experiment.results.set_index("method")
    assert (results.b_transform == "shift-scale").all() and (results.a_accuracy > 0.95).all()
    assert results.accuracy["relative:cosine"] < results.chance.mean() + 0.1  # cosine broken
    for method in ("relative:euclidean", "relative:cosine+center", "relative:product-select"):
        assert results.accuracy[method] > 0.95, method  # intact
    table = write_report(experiment, tmp_path)["table"].read_text()
    assert "a.npy → a.npy (shift-scale)" in table and "B is transformed after embedding (shift-scale, seed 0)" in table
