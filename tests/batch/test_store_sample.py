"""Samples of a LanceDB table without reading it whole (``store.sample_rows``, ``store.rows_with_ids``)."""

from __future__ import annotations

import numpy as np

from latent_core.batch import store


def test_sample_positions_are_one_per_stratum_and_seeded():
    positions = store.sample_positions(10, 4, seed=0)
    edges = [0, 2, 5, 7, 10]
    assert len(positions) == 4 and all(lo <= p < hi for p, lo, hi in zip(positions, edges, edges[1:]))
    assert list(store.sample_positions(10, 4, seed=0)) == list(positions)
    assert list(store.sample_positions(3, 10, 0)) == [0, 1, 2]  # never more than the table
    assert len(store.sample_positions(0, 10, 0)) == 0


def test_a_large_table_is_sampled_evenly_without_reading_it_whole(tmp_path, monkeypatch):
    import lance

    ids = [f"{i:06d}" for i in range(50_000)]
    vectors = np.arange(50_000 * 8, dtype=np.float32).reshape(50_000, 8)
    table = store.create_table(tmp_path / "db", "big", store.make_batch(ids, vectors))
    calls = []
    to_table = lance.LanceDataset.to_table

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return to_table(self, *args, **kwargs)

    monkeypatch.setattr(lance.LanceDataset, "to_table", spy)
    sample = store.sample_rows(table, 5000, seed=3, columns=["id", "vector"])
    assert sample.num_rows == 5000 and not calls  # random access by row offsets, no scan
    rows = np.array([int(i) for i in sample.column("id").to_pylist()])
    assert np.all(rows // 10 == np.arange(5000))  # one row in each stratum of 10 rows: from across the table
    np.testing.assert_array_equal(store.vectors_of(sample), vectors[rows])
    assert store.sample_rows(table, 5000, seed=3, columns=["id"]).column("id").to_pylist() == sample["id"].to_pylist()
    assert store.sample_rows(table, 5000, seed=4, columns=["id"]).column("id").to_pylist() != sample["id"].to_pylist()
    found = store.rows_with_ids(table, ["000007", "049999", "nope"], ["id", "vector"])
    assert sorted(found.column("id").to_pylist()) == ["000007", "049999"]
    assert calls and all(call.get("filter") for call in calls)  # only filtered reads


def test_vector_columns_are_the_fixed_size_float_lists():
    import pyarrow as pa

    schema = pa.schema([("id", pa.string()), ("vector", store.vector_type(4)), ("tags", pa.list_(pa.string())),
                        ("relative", pa.list_(pa.float64(), 3)), ("score", pa.float32())])
    assert store.vector_columns(schema) == ["vector", "relative"]
