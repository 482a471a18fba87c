"""The experiments' Charts to Atlas comparison (latent_core.experiments.run.atlas_cross / run_atlas, atlas.md) on
synthetic spaces whose answer is known, checked against latent_core.atlas.atlas_benchmark and plain scikit-learn."""

import dataclasses
import importlib

import numpy as np
import pandas as pd
import pytest
import torch

from latent_core.atlas import ATLAS_HEAD, OWN_HEAD, STITCHED_HEAD, atlas_benchmark
from latent_core.errors import ConfigError
from latent_core.experiments import load_scenario, run, write_report
from latent_core.experiments.report import atlas_table, write_atlas
from latent_core.experiments.run import atlas_cross

N, CLASSES, DIM, ANCHORS, TEST, SEEDS = 600, 10, 32, 60, 200, [0, 1]


def _labels() -> np.ndarray:
    return np.arange(N) % CLASSES


def _classes(labels: np.ndarray, spread: float = 1.2, seed: int = 1) -> torch.Tensor:
    """Gaussian classes around random centres: a logistic head reaches about 0.9, not 1.0."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(labels.max() + 1, DIM))
    return torch.tensor(centres[labels] + spread * rng.normal(size=(len(labels), DIM)), dtype=torch.float32)


def _rotation(seed: int = 2) -> torch.Tensor:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(DIM, DIM)))
    return torch.tensor(q, dtype=torch.float32)


def _noise(seed: int = 3) -> torch.Tensor:
    return torch.tensor(np.random.default_rng(seed).normal(size=(N, DIM)), dtype=torch.float32)


def _cross(spaces, labels, projection="cosine") -> pd.DataFrame:
    return atlas_cross(spaces, labels, n_anchors=ANCHORS, strategy="random", test_size=TEST, seeds=SEEDS,
                       head="logreg", projection=projection)


def _cell(cross: pd.DataFrame, trained_on: str, tested_on: str) -> pd.Series:
    chosen = cross[(cross.trained_on == trained_on) & (cross.tested_on == tested_on)]
    return chosen.set_index("seed").accuracy


def _benchmark(spaces, labels) -> pd.DataFrame:
    return atlas_benchmark(spaces, labels, n_anchors=ANCHORS, strategy="random", test_size=TEST, seeds=SEEDS,
                           head="logreg", projection="cosine", names=["A", "B"])


def _pick(bench: pd.DataFrame, method: str, space: str) -> pd.Series:
    return bench[(bench.method == method) & (bench.space == space)].set_index("seed").accuracy


def test_every_cell_matches_atlas_benchmark_and_a_rotated_copy_reads_the_same():
    """B = A rotated: cosine relative vectors are rotation invariant, so every head scores the same on B as on A;
    each cell is the number atlas_benchmark gives (B's head on A: the benchmark with B first)."""
    y = _labels()
    a = _classes(y)
    b = a @ _rotation()
    cross = _cross([a, b], y)
    assert len(cross) == len(SEEDS) * 3 * 2 and set(cross.trained_on) == {"atlas", "A", "B"}
    for trained_on in ("atlas", "A", "B"):
        np.testing.assert_allclose(_cell(cross, trained_on, "A"), _cell(cross, trained_on, "B"), atol=0.006)
    assert _cell(cross, "A", "A").min() > 0.75  # the heads learn something: equality is not chance = chance
    forward, backward = _benchmark([a, b], y), _benchmark([b, a], y)
    pairs = {("atlas", "A"): _pick(forward, ATLAS_HEAD, "A"), ("atlas", "B"): _pick(forward, ATLAS_HEAD, "B"),
             ("A", "A"): _pick(forward, OWN_HEAD, "A"), ("B", "B"): _pick(forward, OWN_HEAD, "B"),
             ("A", "B"): _pick(forward, STITCHED_HEAD, "B"),
             ("B", "A"): _pick(backward, STITCHED_HEAD, "B")}  # backward names B's space "A": its first space
    for (trained_on, tested_on), expected in pairs.items():
        pd.testing.assert_series_equal(_cell(cross, trained_on, tested_on), expected, check_names=False)


def _sklearn_accuracy(train_space: torch.Tensor, test_space: torch.Tensor, y: np.ndarray, seed: int) -> float:
    """Independent of latent_core: the split and anchors redrawn with numpy as documented
    (latent_core.stitching.split_indices, random anchors = the first ``ANCHORS`` of the pool), cosine relative
    vectors by hand, one RMS scale and scikit-learn's logistic regression."""
    from sklearn.linear_model import LogisticRegression

    from latent_core.stitching import draw_anchors, split_indices

    pool, train, test = split_indices(y, n_anchors=ANCHORS, test_size=TEST, seed=seed)
    anchors = draw_anchors(train_space, y, pool, ANCHORS, "random", seed)

    def relative(space):
        x = space.double().numpy()
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        return unit @ unit[anchors].T

    features_train, features_test = relative(train_space)[train], relative(test_space)[test]
    scale = np.sqrt(np.mean(features_train ** 2))
    model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(features_train / scale, y[train])
    return float((model.predict(features_test / scale) == y[test]).mean())


def test_a_head_of_the_good_space_reads_a_noise_space_at_chance():
    """B is noise, independent of the labels: A's own head is good, and reads B at about chance; B's head learns
    nothing. Two cells recomputed with plain scikit-learn."""
    y = _labels()
    a, b = _classes(y), _noise()
    cross = _cross([a, b], y)
    chance = cross.chance.mean()
    assert _cell(cross, "A", "A").min() > 0.75
    assert (abs(_cell(cross, "A", "B") - chance) < 0.08).all()
    assert (abs(_cell(cross, "B", "B") - chance) < 0.08).all()
    assert (_cell(cross, "atlas", "A") > _cell(cross, "atlas", "B") + 0.2).all()  # the atlas head leans on A
    for seed in SEEDS:
        for trained_on, tested_on, train_space, test_space in (("A", "A", a, a), ("A", "B", a, b), ("B", "A", b, a)):
            expected = _sklearn_accuracy(train_space, test_space, y, seed)
            assert abs(_cell(cross, trained_on, tested_on)[seed] - expected) <= 0.01, (trained_on, tested_on, seed)


def _fake_embed(monkeypatch):
    run_module = importlib.import_module("latent_core.experiments.run")

    def embeddings(spec, dataset, captions=False, verbose=True):
        labels = np.asarray(dataset.labels)
        base = _classes(labels)
        if "rot" in spec:
            return base @ _rotation()
        if "noise" in spec:
            return torch.tensor(np.random.default_rng(3).normal(size=base.shape), dtype=torch.float32)
        return base

    monkeypatch.setattr(run_module, "embed", embeddings)


def _scenario(**changes):
    settings = {"dataset": "digits", "n_samples": N, "test_size": TEST, "n_anchors": ANCHORS, "seeds": SEEDS,
                "sweep_pairs": 0, "methods": ["relative:cosine"], "atlas_projections": ["cosine"], "atlas_groups": [],
                "atlas_all_encoders": False}
    return dataclasses.replace(load_scenario("text-bbc"), **{**settings, **changes})


def test_the_run_reuses_the_stitching_tables_split_anchors_and_head(monkeypatch, tmp_path):
    """A full stitching run: A → B and B → A share one atlas; its single-space heads score what the stitching
    table's relative:cosine rows give (stitched accuracy and the head's own no-stitch), seed by seed."""
    _fake_embed(monkeypatch)
    experiment = run(_scenario(pairs=[["file:a.npy", "file:noise.npy"], ["file:noise.npy", "file:a.npy"]]),
                     verbose=False)
    atlas, results = experiment.atlas, experiment.results
    assert set(atlas.encoders) == {"file:a.npy | file:noise.npy"}  # one group for the two directions
    forward = results[results.encoder_a == "file:a.npy"].set_index("seed")
    backward = results[results.encoder_a == "file:noise.npy"].set_index("seed")
    np.testing.assert_allclose(_cell(atlas, "A", "B"), forward.accuracy)
    np.testing.assert_allclose(_cell(atlas, "A", "A"), forward.a_accuracy)
    np.testing.assert_allclose(_cell(atlas, "B", "A"), backward.accuracy)
    np.testing.assert_allclose(_cell(atlas, "B", "B"), backward.a_accuracy)
    paths = write_report(experiment, tmp_path)
    assert {"atlas", "atlas_results"} <= set(paths) and paths["atlas"].exists()
    assert len(pd.read_csv(paths["atlas_results"])) == len(atlas)


def test_atlas_groups_follow_the_pairs():
    from latent_core.experiments.run import atlas_groups

    pairs = [["file:a.npy", "file:n.npy"], ["file:n.npy", "file:a.npy"], ["file:a.npy", "file:r.npy"]]
    assert atlas_groups(_scenario(pairs=pairs)) == [(["file:a.npy", "file:n.npy"], [False, False]),
                                                    (["file:a.npy", "file:r.npy"], [False, False])]
    assert atlas_groups(_scenario(pairs=pairs, atlas_all_encoders=True))[-1] == (
        ["file:a.npy", "file:n.npy", "file:r.npy"], [False, False, False])
    shifted = atlas_groups(_scenario(pairs=[["file:a.npy", "file:a.npy"], pairs[0], pairs[1]],
                                     b_transform="shift-scale"))
    assert shifted == [(["file:a.npy", "file:a.npy"], [False, True]), (["file:a.npy", "file:n.npy"], [False, True]),
                       (["file:n.npy", "file:a.npy"], [False, True])]  # B transformed: the directions differ
    assert atlas_groups(_scenario(pairs=pairs, atlas_groups=[["file:r.npy", "file:a.npy"]])) == [
        (["file:r.npy", "file:a.npy"], [False, False])]


def test_the_markdown_table_shows_mean_and_spread_of_the_csv_rows(monkeypatch, tmp_path):
    _fake_embed(monkeypatch)
    scenario = _scenario(atlas_groups=[["file:a.npy", "file:rot.npy", "file:noise.npy"]],
                         atlas_projections=["cosine", "cosine+center"])
    experiment = run(scenario, verbose=False, atlas_only=True)
    assert experiment.results.empty
    paths = write_atlas(experiment, tmp_path)
    text = paths["atlas"].read_text()
    assert ("| dataset | spaces | projection | head trained on | tested on A | tested on B | tested on C | chance |"
            in text)
    table = atlas_table(pd.read_csv(paths["atlas_results"]))
    assert list(table["head trained on"][:4]) == ["atlas (A+B+C)", "A alone", "B alone", "C alone"]
    assert list(table.projection.unique()) == ["cosine", "cosine (centred)"]
    assert table.spaces.iloc[0] == "A = a.npy, B = rot.npy, C = noise.npy"
    atlas = experiment.atlas
    for _, row in table.iterrows():
        projection = "cosine+center" if row.projection == "cosine (centred)" else "cosine"
        trained_on = row["head trained on"].split()[0]  # "atlas" or a space letter
        for letter in "ABC":
            values = _cell(atlas[atlas.projection == projection], trained_on, letter)
            assert row[f"tested on {letter}"] == f"{values.mean():.3f} ± {values.std(ddof=0):.3f}"
        cells = [row[column] for column in ("head trained on", "tested on A", "tested on B", "tested on C")]
        assert f"| {' | '.join(cells)} |" in text


def test_the_cli_runs_only_the_atlas_and_bad_settings_are_config_errors(monkeypatch, tmp_path):
    from latent_core.experiments.__main__ import main

    _fake_embed(monkeypatch)
    (tmp_path / "s.toml").write_text(
        'name = "atlas-quick"\ndataset = "digits"\nn_samples = 600\ntest_size = 200\nn_anchors = 60\nseeds = [0]\n'
        'pairs = [["file:a.npy", "file:rot.npy"]]\n')
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "s.toml"), "--out", str(out), "--atlas-only", "--quiet"]) == 0
    assert {p.name for p in out.iterdir()} == {"atlas.md", "atlas.csv"}  # the stitching outputs are left alone
    for text, message in [('atlas_projections = ["product-select"]\n', "atlas_projections must be a list of"),
                          ('atlas_groups = [["file:a.npy"]]\n', "atlas_groups must be a list of encoder lists"),
                          ('atlas_groups = [["file:a.npy", "file:a.npy"]]\n', "names an encoder twice")]:
        (tmp_path / "bad.toml").write_text(f'name = "x"\npairs = [["file:a.npy", "file:b.npy"]]\n{text}')
        with pytest.raises(ConfigError, match=message):
            load_scenario(str(tmp_path / "bad.toml"))
    with pytest.raises(ConfigError, match="stitching scenarios only"):
        run(load_scenario("crossmodal-asif"), verbose=False, atlas_only=True)
    with pytest.raises(ConfigError, match="no atlas comparison"):
        run(_scenario(pairs=[["file:a.npy", "file:b.npy"]], atlas_projections=[]), verbose=False, atlas_only=True)
