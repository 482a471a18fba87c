"""Retrieval metrics (one relevant document per query) and the migration gate (issue 15). No Ray, no model."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

from latent_core.batch import evaluate as ev
from latent_core.batch.retrieval import metrics_from_ranks, relevant_ranks, retrieval_metrics
from latent_core.errors import InvalidParameterError, MissingColumnError, ShapeMismatchError

# 5 documents, 3 queries in 2-D, worked by hand (cosines rounded):
#   q0=(1, .1)  -> d0: .995 (best of all)                                      rank 1
#   q1=(1, .9)  -> d1: .669; better: d2 (.999), d0 (.743); d4 .053, d3 -.743   rank 3
#   q2=(-1,-.2) -> d4: -.555; better: d3 (.981), d1 (-.196); d0 -.981, d2 -.832 rank 3
DOCS = np.array([[1, 0], [0, 1], [1, 1], [-1, 0], [1, -1]], np.float32)
QUERIES = np.array([[1, 0.1], [1, 0.9], [-1, -0.2]], np.float32)
RELEVANT = [0, 1, 4]


def _numpy_ranks(q, c, rel):
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    cn = c / np.linalg.norm(c, axis=1, keepdims=True)
    sims = qn.astype(np.float64) @ cn.T.astype(np.float64)
    return 1 + (sims > sims[np.arange(len(q)), rel][:, None]).sum(1)


def test_hand_worked_example():
    assert relevant_ranks(QUERIES, DOCS, RELEVANT).tolist() == [1, 3, 3]
    m = retrieval_metrics(QUERIES, DOCS, RELEVANT)
    assert m["recall@1"] == pytest.approx(1 / 3) and m["recall@5"] == 1.0 and m["recall@10"] == 1.0
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)
    assert m["ndcg@10"] == pytest.approx((1 + 2 * (1 / math.log2(4))) / 3)  # = 2/3


def test_ndcg_and_recall_cut_off_at_10():
    m = metrics_from_ranks([1, 10, 11, 500])
    assert m["recall@10"] == 0.5
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(11)) / 4)
    assert m["mrr"] == pytest.approx((1 + 0.1 + 1 / 11 + 1 / 500) / 4)


@pytest.mark.parametrize("chunk_rows", [7, 64, 100_000])
def test_ranks_equal_numpy_brute_force(chunk_rows):
    rng = np.random.default_rng(3)
    corpus = rng.normal(size=(500, 24)).astype(np.float32)
    rel = rng.integers(0, 500, size=60)
    queries = corpus[rel] + rng.normal(scale=3.0, size=(60, 24)).astype(np.float32)
    expected = _numpy_ranks(queries, corpus, rel)
    assert expected.max() > 10  # the case exercises ranks past the nDCG/Recall cut-off
    assert relevant_ranks(queries, corpus, rel, chunk_rows=chunk_rows).numpy().tolist() == expected.tolist()
    streamed = (corpus[i : i + chunk_rows] for i in range(0, 500, chunk_rows))  # an iterable of chunks, read once
    got = relevant_ranks(queries, streamed, rel, relevant_vectors=corpus[rel])
    assert got.numpy().tolist() == expected.tolist()


def test_duplicate_of_the_relevant_document_is_a_tie_in_the_query_favour():
    corpus = np.array([[1, 0], [1, 0], [0, 1]], np.float32)
    assert relevant_ranks([[1, 0.2]], corpus, [1]).tolist() == [1]


def test_bad_inputs():
    with pytest.raises(InvalidParameterError, match="outside|corpus has"):
        relevant_ranks(QUERIES, DOCS, [0, 1, 5])
    with pytest.raises(ShapeMismatchError):
        relevant_ranks(QUERIES, DOCS, [0, 1])
    with pytest.raises(InvalidParameterError, match="relevant_vectors"):
        relevant_ranks(QUERIES, iter([DOCS]), RELEVANT)
    with pytest.raises(InvalidParameterError):
        metrics_from_ranks([0, 1])


def _synthetic(seed=0, n=400, m=80, d=32):
    rng = np.random.default_rng(seed)
    corpus = rng.normal(size=(n, d)).astype(np.float32)
    rel = rng.choice(n, size=m, replace=False)
    queries = corpus[rel] + rng.normal(scale=0.9, size=(m, d)).astype(np.float32)
    noisy = corpus + rng.normal(scale=0.8, size=(n, d)).astype(np.float32)
    return queries, corpus, noisy, rel


def test_gate_exact_translation_migrates_and_noise_flips_at_the_threshold():
    queries, corpus, noisy, rel = _synthetic()
    exact = ev.gate(queries, corpus, corpus.copy(), rel, threshold=1.0)
    assert exact.verdict == "migrate" and exact.paired_cosine == pytest.approx(1.0, abs=1e-6)
    assert all(v == 1.0 for v in exact.retention.values())
    bad = ev.gate(queries, corpus, noisy, rel)
    retention = bad.retention["recall@10"]
    assert 0 < retention < 0.95 and bad.verdict == "re-embed" and bad.paired_cosine < 0.9
    assert ev.gate(queries, corpus, noisy, rel, threshold=retention).verdict == "migrate"
    assert ev.gate(queries, corpus, noisy, rel, threshold=retention + 1e-9).verdict == "re-embed"
    assert json.loads(bad.to_json())["verdict"] == "re-embed"
    assert "RE-EMBED" in bad.table() and "recall@10" in bad.table()


def test_gate_rejects_bad_threshold_and_shapes():
    queries, corpus, noisy, rel = _synthetic()
    with pytest.raises(InvalidParameterError):
        ev.gate(queries, corpus, noisy, rel, threshold=0)
    with pytest.raises(ShapeMismatchError):
        ev.gate(queries, corpus, noisy[:-1], rel)


def _tables(tmp_path, queries, corpus, translated, rel, shuffle_seed=1):
    from latent_core.batch import store

    ids = [f"doc{i}" for i in range(len(corpus))]
    order = np.random.default_rng(shuffle_seed).permutation(len(corpus))  # the translated table in another order
    store.create_table(tmp_path, "q", store.make_batch([ids[i] for i in rel], queries))
    store.create_table(tmp_path, "new", store.make_batch(ids, corpus))
    store.create_table(tmp_path, "tr", store.make_batch([ids[i] for i in order], translated[order], column="vec"))


def test_gate_on_lance_tables_equals_in_memory(tmp_path):
    queries, corpus, noisy, rel = _synthetic()
    _tables(tmp_path, queries, corpus, noisy, rel)
    expected = ev.gate(queries, corpus, noisy, rel)
    got = ev.gate_tables(str(tmp_path), "q", "new", "tr", translated_column="vec", chunk_rows=57)
    assert got.verdict == expected.verdict
    for side in ("reembedded", "translated", "retention"):
        assert getattr(got, side) == pytest.approx(getattr(expected, side))
    assert got.paired_cosine == pytest.approx(expected.paired_cosine, abs=1e-6)
    with pytest.raises(MissingColumnError):
        ev.gate_tables(str(tmp_path), "q", "new", "tr", translated_column="vec", relevant_column="doc")


def test_same_order_tables_written_in_other_batch_sizes(tmp_path):
    """The corpora in the same order but in files of other sizes (as ``encode`` fragments write them): the paired
    cosine must pair rows, not batches (the demo of 400 BBC articles in 2 x 200 vs 400 rows failed this)."""
    from latent_core.batch import store

    queries, corpus, noisy, rel = _synthetic()
    ids = [f"doc{i}" for i in range(len(corpus))]
    store.create_table(tmp_path, "q", store.make_batch([ids[i] for i in rel], queries))
    store.create_table(tmp_path, "new", store.make_batch(ids, corpus))
    cut = len(corpus) // 3
    store.create_table(tmp_path, "tr", store.make_batch(ids[:cut], noisy[:cut]))
    store.append(store.open_table(tmp_path, "tr"), store.make_batch(ids[cut:], noisy[cut:]))
    expected = ev.gate(queries, corpus, noisy, rel)
    got = ev.gate_tables(str(tmp_path), "q", "new", "tr", chunk_rows=1000)
    assert got.paired_cosine == pytest.approx(expected.paired_cosine, abs=1e-6)
    assert got.retention == pytest.approx(expected.retention)


def test_cli_subcommand_prints_table_and_json(tmp_path, capsys):
    queries, corpus, _, rel = _synthetic()
    _tables(tmp_path, queries, corpus, corpus, rel)
    parser = argparse.ArgumentParser()
    ev.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "gate.json"
    args = parser.parse_args(["evaluate", "--uri", str(tmp_path), "--queries", "q", "--corpus-new", "new",
                              "--corpus-translated", "tr", "--translated-column", "vec", "--json", str(out)])
    assert args.run(args) == 0
    assert "MIGRATE" in capsys.readouterr().out
    assert json.loads(out.read_text())["retention"]["recall@10"] == 1.0
