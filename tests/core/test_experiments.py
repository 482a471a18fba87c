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
    assert set(BUILTIN) == {"text-bbc", "image-fashion", "crossmodal-asif", "align-bbc", "align-fashion"}
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
    assert table["relative:l1"] == "0.490 ± 0.000 (A: 0.490 ⚠)"
