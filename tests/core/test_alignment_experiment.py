"""The few-and-zero-anchors experiment (``latent_core.experiments.alignment``): its protocol, its scenario kind and
its CLI run, on small synthetic spaces and the fake encoders (seconds; the real-model runs are in the README)."""

from __future__ import annotations

import dataclasses
import textwrap

import numpy as np
import pandas as pd
import pytest

from latent_core import correspondence
from latent_core.correspondence import Correspondence
from latent_core.errors import ConfigError, InvalidParameterError
from latent_core.experiments import BUILTIN, load_scenario
from latent_core.experiments.alignment import alignment_benchmark, plan_settings, summarize
from latent_core.experiments.scenarios import MINILM, MPNET, ExperimentScenario
from latent_core.stitching import split_indices
from latent_core.translate import Procrustes

N, TEST, TRUE = 240, 60, 40


def spaces(n: int = N, seed: int = 0, noise: float = 0.05):
    """A: four clusters in 12-d; B: A rotated into 16-d plus a little noise (an exact map exists)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4
    centres = rng.normal(size=(4, 12)) * 3
    a = centres[labels] + rng.normal(size=(n, 12))
    rotation = np.linalg.qr(rng.normal(size=(16, 16)))[0][:12]
    b = a @ rotation + noise * rng.normal(size=(n, 16))
    return a.astype(np.float32), b.astype(np.float32), labels


def rows_of(x: np.ndarray, space: np.ndarray) -> np.ndarray:
    """The dataset row of each row of ``x`` (rows of ``space`` are unique)."""
    index = {row.tobytes(): i for i, row in enumerate(space)}
    return np.array([index[row.tobytes()] for row in np.asarray(x, dtype=np.float32)])


@pytest.fixture
def recorded(monkeypatch):
    """The correspondence functions replaced by recorders that return a map fitted on the rows they are given
    (the known pairs in bootstrap mode, the first rows of each side otherwise: wrong pairs, a real translator)."""
    calls = []

    def fake(source, target, pairs, method):
        fitted = Procrustes().fit(source[pairs[:, 0]], target[pairs[:, 1]])
        return Correspondence(pairs=pairs, confidence=np.ones(len(pairs)), translator=fitted, method=method,
                              matching="exact", info={"rounds": np.int64(1), "note": "fake"})

    def bootstrap(source, target, seed_pairs, *, seed=0, **kwargs):
        calls.append({"mode": "bootstrap", "source": source.numpy(), "target": target.numpy(),
                      "seed_pairs": np.asarray(seed_pairs), "seed": seed, "kwargs": kwargs})
        return fake(source, target, np.asarray(seed_pairs), "bootstrap")

    def unpaired(source, target, *, seed=0, **kwargs):
        calls.append({"mode": "unsupervised", "source": source.numpy(), "target": target.numpy(),
                      "seed_pairs": None, "seed": seed, "kwargs": kwargs})
        count = min(len(source), len(target), 20)
        return fake(source, target, np.stack([np.arange(count)] * 2, 1), "gw")

    monkeypatch.setattr(correspondence, "bootstrap_anchors", bootstrap)
    monkeypatch.setattr(correspondence, "align_unpaired", unpaired)
    return calls


def test_the_matching_never_sees_the_test_set_and_the_order_is_hidden(recorded):
    a, b, labels = spaces()
    results = alignment_benchmark(a, b, labels, n_seed_pairs=5, test_size=TEST, true_anchors=TRUE, seeds=(0, 1),
                                  unpaired_kwargs={"method": "gw"})
    assert len(recorded) == len(results) == 2 * 2 * 2 * 2  # seeds x directions x modes x sides
    assert set(results.direction) == {"forward", "reverse"}
    assert results.groupby(["seed", "direction"]).size().eq(4).all()
    for call, row in zip(recorded, results.itertuples()):
        assert call["mode"] == row.mode and call["seed"] == row.seed
        _, _, test = split_indices(labels, n_anchors=TRUE, test_size=TEST, seed=row.seed)
        pool = np.setdiff1d(np.arange(N), test)
        source_space, target_space = (b, a) if row.direction == "forward" else (a, b)
        source, target = rows_of(call["source"], source_space), rows_of(call["target"], target_space)
        assert not set(source) & set(test) and not set(target) & set(test)  # test rows never reach the matching
        assert len(set(source)) == len(source) and len(set(target)) == len(target)
        if row.sides == "same":  # the whole pool on both sides, each in an order the algorithm is not told
            assert sorted(source) == sorted(target) == list(pool)
            assert not np.array_equal(source, target) and not np.array_equal(target, np.sort(target))
        else:  # disjoint halves, plus the known pairs on both sides in bootstrap mode
            shared = set(source) & set(target)
            assert len(shared) == (5 if row.mode == "bootstrap" else 0)
            assert abs(len(source) - len(target)) <= 1 and len(source) + len(target) >= len(pool) - 6
        if row.mode == "bootstrap":  # each known pair joins a sample to itself
            pairs = call["seed_pairs"]
            assert pairs.shape == (5, 2) and pairs.dtype == np.int64
            assert np.array_equal(source[pairs[:, 0]], target[pairs[:, 1]])
            assert row.n_seed_pairs == 5
        else:
            assert call["kwargs"] == {"method": "gw"} and row.n_seed_pairs == 0
        assert row.n_source == len(source) and row.n_target == len(target) and row.n_test == TEST
    assert np.allclose(results.ratio_true, results.accuracy / results.true_accuracy)
    assert np.allclose(results.ratio_no_stitch, results.accuracy / results.no_stitch)
    assert results.groupby(["seed", "direction"]).no_stitch.nunique().eq(1).all()
    assert results[results.sides == "different"].exact.isna().all()
    assert results[results.sides == "same"].exact.notna().all()
    assert results.purity.between(0, 1).all() and (results.seconds >= 0).all()
    assert results.details.iloc[0] == '{"note": "fake", "rounds": 1}'
    # the baseline: the same head and test set; Procrustes on true pairs recovers the rotation here
    assert (results.true_accuracy >= 0.95 * results.no_stitch).all() and (results.true_top1 > 0.85).all()


def test_the_settings_are_seeded_and_both_modes_share_the_sides():
    pool = np.arange(100, 200)
    first = plan_settings(pool, modes=("bootstrap", "unsupervised"), sides=("same", "different"), n_seed_pairs=4,
                          seed=3)
    again = plan_settings(pool, modes=("bootstrap", "unsupervised"), sides=("same", "different"), n_seed_pairs=4,
                          seed=3)
    for one, two in zip(first, again):
        assert np.array_equal(one.source_rows, two.source_rows) and np.array_equal(one.target_rows, two.target_rows)
    same_boot, same_free, diff_boot, diff_free = first
    assert np.array_equal(same_boot.target_rows, same_free.target_rows)  # one hidden order for both modes
    assert sorted(same_boot.target_rows) == list(pool)
    known = set(diff_boot.source_rows) & set(diff_boot.target_rows)
    assert len(known) == 4 and set(diff_free.source_rows) == set(diff_boot.source_rows) - known


def test_exact_pairs_are_scored_against_the_hidden_truth():
    """The real bootstrap on spaces an exact rotation apart: nearly every pair joins a sample to itself, and the
    stitched accuracy matches the true anchors' (so the truth travels with the shuffled rows)."""
    a, b, labels = spaces(noise=0.01)
    results = alignment_benchmark(a, b, labels, modes=["bootstrap"], sides=["same"], n_seed_pairs=5,
                                  test_size=TEST, true_anchors=TRUE, seeds=[0])
    assert len(results) == 2 and (results.method == "bootstrap").all() and (results.matching == "exact").all()
    assert (results.exact > 0.9).all() and (results.purity > 0.9).all() and (results.n_pairs > 100).all()
    assert (results.ratio_true > 0.97).all() and (results.top1 > 0.9).all()
    summary = summarize(results)
    assert list(summary[["sides", "mode"]].iloc[0]) == ["same", "bootstrap"] and summary.runs.iloc[0] == 2
    assert summary.accuracy.iloc[0] == pytest.approx(results.accuracy.mean())
    assert summary.min_ratio_true.iloc[0] == pytest.approx(results.ratio_true.min())


def test_bad_protocol_settings_are_typed_errors():
    a, b, labels = spaces()
    with pytest.raises(InvalidParameterError, match="modes must be"):
        alignment_benchmark(a, b, labels, modes=["magic"], test_size=TEST, true_anchors=TRUE)
    with pytest.raises(InvalidParameterError, match="sides must be"):
        alignment_benchmark(a, b, labels, sides=[], test_size=TEST, true_anchors=TRUE)
    with pytest.raises(InvalidParameterError, match="n_seed_pairs"):
        alignment_benchmark(a, b, labels, n_seed_pairs=2, test_size=TEST, true_anchors=TRUE)
    with pytest.raises(InvalidParameterError, match="too few"):
        alignment_benchmark(a, b, labels, n_seed_pairs=80, test_size=TEST, true_anchors=TRUE)


def test_alignment_scenarios_are_built_in_and_validated(tmp_path):
    bbc, fashion = load_scenario("align-bbc"), load_scenario("align-fashion")
    assert bbc.kind == fashion.kind == "alignment" and bbc.pairs == [[MINILM, MPNET]] and bbc.n_samples is None
    assert fashion.pairs == [["effnet:lite0", "effnet:lite2"]] and fashion.n_samples - fashion.test_size >= 1300
    assert bbc.test_size == fashion.test_size == 900 and bbc.n_anchors == 300 and bbc.n_seed_pairs == 10
    assert bbc.encoders() == sorted([MINILM, MPNET]) and set(BUILTIN) >= {"align-bbc", "align-fashion"}
    base = dataclasses.replace(BUILTIN["align-bbc"])
    cases = {
        "modes": (["bootstrap", "magic"], "modes must be a non-empty list of 'bootstrap', 'unsupervised'"),
        "sides": ([], "sides must be a non-empty list of 'same', 'different'"),
        "n_seed_pairs": (2, "n_seed_pairs must be an integer of at least 3"),
        "unpaired_method": ("hungarian", "unpaired_method must be one of 'auto', 'gw', 'centroids'"),
        "kind": ("aligned", "kind must be one of 'stitching', 'asif', 'clip', 'alignment'"),
    }
    for field_name, (value, message) in cases.items():
        with pytest.raises(ConfigError, match=f"Scenario 'align-bbc': {message}"):
            dataclasses.replace(base, **{field_name: value}).validate()
    with pytest.raises(ConfigError, match="an alignment scenario needs 'pairs'"):
        ExperimentScenario(name="x", kind="alignment").validate()
    (tmp_path / "modes.toml").write_text('name = "m"\nkind = "alignment"\npairs = [["a:b", "c:d"]]\nmodes = "gw"\n')
    with pytest.raises(ConfigError, match="Scenario 'm': modes must be a non-empty list"):
        load_scenario(str(tmp_path / "modes.toml"))


def test_the_cli_runs_an_alignment_scenario_on_fake_encoders(tmp_path, capsys, recorded):
    """The plumbing from a TOML file to results.csv and table.md (the recorders stand in for the alignment, which
    takes tens of seconds on these near-chance fake spaces; the real one runs in the test above)."""
    import tests.app.fakes  # noqa: F401 - registers fake:text-a / fake:text-b
    from latent_core.experiments.__main__ import main

    scenario = tmp_path / "tiny.toml"
    scenario.write_text(textwrap.dedent("""
        name = "tiny-align"
        kind = "alignment"
        dataset = "bbc"
        n_samples = 260
        pairs = [["fake:text-a", "fake:text-b"]]
        n_anchors = 40
        test_size = 80
        seeds = [0]
        n_seed_pairs = 5
        sides = ["same"]
        unpaired_method = "centroids"
    """))
    assert main(["run", str(scenario), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(results) == len(recorded) == 2 * 2  # directions x modes
    assert [call["kwargs"] for call in recorded if call["mode"] == "unsupervised"] == [{"method": "centroids"}] * 2
    assert set(zip(results.direction, results.encoder_a)) == {("forward", "fake:text-a"), ("reverse", "fake:text-b")}
    assert set(results["mode"]) == {"bootstrap", "unsupervised"} and (results.n_pool == 180).all()
    assert results.accuracy.between(0, 1).all() and (results.n_true_anchors == 40).all()
    table = (tmp_path / "out" / "table.md").read_text()
    assert table in capsys.readouterr().out
    header = next(line for line in table.splitlines() if line.startswith("|"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "samples on the two sides", "anchors", "accuracy", "× true anchors", "× no-stitch", "exact %", "purity",
        "top-1", "mean rank", "mean cos", "s"]
    for text in ("none: no-stitch (A's head on A)", "40 true pairs, Procrustes", "5 known pairs + bootstrap",
                 "none (unsupervised)", "text-a → text-b", "text-b → text-a"):
        assert text in table
