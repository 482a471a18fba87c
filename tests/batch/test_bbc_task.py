"""The BBC retention table's mechanics on synthetic spaces (no models, no Ray): a rotated copy keeps everything."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from latent_core.batch.bbc_task import format_rows, retention_table, shrinkage_value, split_queries_anchors
from latent_core.errors import InvalidParameterError


def test_queries_and_anchors_are_disjoint_and_seeded():
    queries, anchors = split_queries_anchors(100, 30, 50, seed=3)
    assert len(set(queries) | set(anchors)) == 80 and not set(queries) & set(anchors)
    again = split_queries_anchors(100, 30, 50, seed=3)
    assert np.array_equal(queries, again[0]) and np.array_equal(anchors, again[1])
    with pytest.raises(InvalidParameterError, match="at most 100 articles"):
        split_queries_anchors(100, 60, 50, seed=0)


def _spaces(n: int = 400, d: int = 24, seed: int = 0):
    rng = np.random.default_rng(seed)
    bodies = rng.normal(size=(n, d))
    heads = bodies + 0.3 * rng.normal(size=(n, d))  # a headline is near its own article
    rotation = ortho_group.rvs(d, random_state=seed)
    old = (torch.tensor(heads, dtype=torch.float32), torch.tensor(bodies, dtype=torch.float32))
    new = (torch.tensor(heads @ rotation, dtype=torch.float32), torch.tensor(bodies @ rotation, dtype=torch.float32))
    return old, new


def test_a_rotated_copy_keeps_all_its_retrieval_through_procrustes():
    old, new = _spaces()
    rows = retention_table(old, new, ["procrustes", "linear"], [100], seed=0, shrinkage="cv")
    for row in rows:
        assert row.report.retention["recall@10"] == pytest.approx(1.0, abs=1e-9)
        assert row.report.paired_cosine > 0.99  # standard scaling per dimension is not rotation-equivariant
        assert row.report.verdict == "migrate"
    assert rows[0].shrinkage == 0.0  # Procrustes has no regression to shrink
    table = format_rows(rows)
    assert table.count("\n") == 3 and "| procrustes | 100 | 0 |" in table


def test_unrelated_spaces_retain_little():
    old, _ = _spaces(seed=1)
    _, new = _spaces(seed=2)
    (row,) = retention_table(old, new, ["procrustes"], [100], seed=0)
    assert row.report.retention["recall@10"] < 0.3 and row.report.verdict == "re-embed"


@pytest.mark.parametrize("text, expected", [("cv", "cv"), ("0", 0.0), ("0.01", 0.01)])
def test_shrinkage_argument(text, expected):
    assert shrinkage_value(text) == expected


@pytest.mark.parametrize("text", ["-1", "auto", "nan"])
def test_bad_shrinkage_argument(text):
    with pytest.raises(argparse.ArgumentTypeError, match="number >= 0 or cv"):
        shrinkage_value(text)


def test_unpaired_rows_recover_a_rotated_copy_without_any_pairs():
    from latent_core.batch.bbc_task import unpaired_rows

    rng = np.random.default_rng(5)
    spectrum = 1.0 / np.sqrt(np.arange(1, 17))
    centres = rng.normal(size=(8, 16)) * 2.0 * spectrum
    bodies = centres[rng.integers(8, size=700)] + rng.normal(size=(700, 16)) * spectrum
    heads = bodies + 0.1 * rng.normal(size=bodies.shape) * spectrum
    rotation = ortho_group.rvs(16, random_state=6)
    as_tensor = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    old, new = (as_tensor(heads), as_tensor(bodies)), (as_tensor(heads @ rotation), as_tensor(bodies @ rotation))
    same, other = unpaired_rows(old, new, sample=300, n_queries=100)
    assert same.translator == "unpaired, same docs" and same.anchors == 0
    assert same.report.retention["recall@10"] > 0.95 and same.report.paired_cosine > 0.95
    # other samples of the same clusters: a soft match, partly aligned (a random rotation would give about 0)
    assert other.report.paired_cosine > 0.5
