"""fit-translator with no anchor pairs: the unsupervised alignment, fed from two LanceDB tables (no Ray needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from latent_core.batch import store
from latent_core.batch.cli import main
from latent_core.batch.translator_io import load_translator

D = 24


def _clusters(n: int, seed: int) -> np.ndarray:
    """Gaussian clusters with a decaying spectrum: a structure Gromov-Wasserstein can match."""
    rng = np.random.default_rng(seed)
    spectrum = 1.0 / np.sqrt(np.arange(1, D + 1))
    centres = rng.normal(size=(10, D)) * 2.0 * spectrum
    return (centres[rng.integers(10, size=n)] + rng.normal(size=(n, D)) * spectrum).astype(np.float32)


@pytest.fixture
def unpaired(tmp_path):
    """Old table: 600 rows; new table: the same samples rotated, under other ids and in another order."""
    x = _clusters(700, seed=0)
    rotation = ortho_group.rvs(D, random_state=1).astype(np.float32)
    order = np.random.default_rng(2).permutation(600)
    db = tmp_path / "db"
    store.create_table(db, "old", store.make_batch([f"old-{i}" for i in range(600)], x[:600]))
    store.create_table(db, "new", store.make_batch([f"new-{i}" for i in range(600)], (x[:600] @ rotation)[order]))
    return db, x[600:], rotation


def test_no_pairs_at_all_recovers_the_rotation_from_the_tables(unpaired, tmp_path, capsys):
    db, held_out, rotation = unpaired
    out = tmp_path / "translator"
    assert main(["fit-translator", "--old-uri", str(db), "--old-table", "old", "--new-table", "new", "--out",
                 str(out), "--unpaired", "--sample", "500", "--scaling", "isotropic"]) == 0
    assert "fitted with no pairs" in capsys.readouterr().out
    translator, meta = load_translator(out)
    assert meta["anchor_ids"] == [] and meta["extra"]["unpaired_alignment"]["rows_sampled"] == [500, 500]
    translated = translator.transform(held_out)  # rows no table holds
    cosine = torch.nn.functional.cosine_similarity(translated, torch.from_numpy(held_out @ rotation), dim=1)
    assert float(cosine.mean()) > 0.99
    assert json.loads((out / "translator.json").read_text())["estimator"] == "procrustes"


def test_unpaired_refuses_pair_options(unpaired, tmp_path, capsys):
    db, _, _ = unpaired
    code = main(["fit-translator", "--old-uri", str(db), "--old-table", "old", "--new-table", "new", "--out",
                 str(tmp_path / "t"), "--unpaired", "--estimator", "linear"])
    assert code != 0 and "--unpaired fits Procrustes" in capsys.readouterr().err
