"""translate_table / project_table on Ray Data + LanceDB (20k synthetic rows) against the in-process latent_core
functions on the same rows, and LanceDB search against numpy brute force. One Ray for the session (ray_local)."""

from __future__ import annotations

import numpy as np
import pytest

from latent_core.batch import anchors_io, store
from latent_core.batch.pipeline import numpy_rows, project_table, translate_table
from latent_core.batch.translator_io import save_translator
from latent_core.errors import MissingColumnError, MissingTableError, ShapeMismatchError
from latent_core.relative import relative_projection
from latent_core.translate import get_translator

pytestmark = pytest.mark.slow

ROWS, OLD_DIM, NEW_DIM, ANCHORS = 20_000, 64, 48, 500


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, ray_local):
    """A 20k-row old-model table (200 clusters, written in 4 appends), a Procrustes fitted on 500 anchors, and
    32 saved anchors."""
    root = tmp_path_factory.mktemp("pipeline")
    rng = np.random.default_rng(15)
    centres = rng.normal(size=(200, OLD_DIM))  # clustered, like a real corpus's topics (IVF needs structure)
    old = (centres[rng.integers(0, 200, ROWS)] + 0.35 * rng.normal(size=(ROWS, OLD_DIM))).astype(np.float32)
    mix = np.linalg.qr(rng.normal(size=(OLD_DIM, OLD_DIM)))[0][:, :NEW_DIM]
    new = (old @ mix + 0.05 * rng.normal(size=(ROWS, NEW_DIM))).astype(np.float32)
    ids = np.array([f"doc-{i:05d}" for i in range(ROWS)], dtype=object)
    db = root / "db"
    step = ROWS // 4
    table = store.create_table(db, "old", store.make_batch(ids[:step], old[:step], extra={"n": np.arange(step)}))
    for start in range(step, ROWS, step):
        rows = slice(start, start + step)
        store.append(table, store.make_batch(ids[rows], old[rows], extra={"n": np.arange(start, start + step)}))
    translator = get_translator("procrustes").fit(old[:ANCHORS], new[:ANCHORS])
    save_translator(translator, root / "translator", anchor_ids=list(ids[:ANCHORS]))
    anchors_io.save_anchors(old[:32], root / "anchors", anchor_ids=list(ids[:32]), projection="cosine")
    return {"root": root, "db": db, "old": old, "ids": ids, "translator": translator}


@pytest.fixture(scope="module")
def translated(corpus):
    summary = translate_table(corpus["db"], "old", corpus["root"] / "translator", corpus["db"], "translated",
                              batch_size=2048)
    return summary, store.open_table(corpus["db"], "translated")


def _by_id(table, column, ids):
    got_ids, vectors = numpy_rows(table, column)
    order = {key: row for row, key in enumerate(got_ids)}
    return got_ids, vectors[[order[key] for key in ids]]


def test_translate_equals_in_process_transform_and_writes_every_id_once(corpus, translated):
    summary, table = translated
    assert summary["rows"] == ROWS and summary["index"] == "flat"  # 20k rows: exact search, no ANN index
    got_ids, vectors = _by_id(table, "vector", corpus["ids"])
    assert len(got_ids) == ROWS and len(set(got_ids)) == ROWS and set(got_ids) == set(corpus["ids"])
    expected = corpus["translator"].transform(corpus["old"]).numpy()
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    extra = table.to_arrow().select(["id", "n"]).to_pydict()  # other columns ride along with their rows
    assert all(int(key[4:]) == n for key, n in zip(extra["id"], extra["n"]))


def test_project_equals_in_process_relative(corpus):
    summary = project_table(corpus["db"], "old", corpus["root"] / "anchors", corpus["db"], "relative",
                            batch_size=4096)
    assert summary["rows"] == ROWS and summary["out_dim"] == 32
    got_ids, vectors = _by_id(store.open_table(corpus["db"], "relative"), "relative", corpus["ids"])
    assert len(set(got_ids)) == ROWS
    expected = relative_projection(corpus["old"], corpus["old"][:32], "cosine").numpy()
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_exact_search_equals_numpy_brute_force(corpus, translated):
    _, table = translated
    ids, vectors = numpy_rows(table)
    queries = np.random.default_rng(1).normal(size=(25, NEW_DIM)).astype(np.float32)
    found, distances = store.search(table, queries, k=10, exact=True)
    squared = (queries**2).sum(1)[:, None] - 2 * queries @ vectors.T + (vectors**2).sum(1)[None]
    brute = np.argsort(squared, axis=1)[:, :10]
    assert (found == ids[brute]).all()
    np.testing.assert_allclose(distances, np.take_along_axis(squared, brute, 1), rtol=1e-4, atol=1e-3)


def test_ivf_pq_index_recall_at_10(corpus, translated):
    _, table = translated
    ids, vectors = numpy_rows(table)
    kind = store.build_index(table, exact_max_rows=0, index_type="ivf_pq", num_partitions=64)
    assert kind == "ivf_pq" and store.vector_indices(table)
    queries = vectors[:50] + 0.3 * np.random.default_rng(2).normal(size=(50, NEW_DIM)).astype(np.float32)
    found, _ = store.search(table, queries, k=10, nprobes=16)  # re-ranks k * store.REFINE_FACTOR candidates
    squared = ((queries[:, None] - vectors[None]) ** 2).sum(-1)
    brute = ids[np.argsort(squared, axis=1)[:, :10]]
    recall = np.mean([len(set(f) & set(b)) / 10 for f, b in zip(found, brute)])
    assert recall >= 0.9, recall
    exact, _ = store.search(table, queries, k=10, exact=True)
    assert (exact == brute).all()  # exact=True still bypasses the index


def test_typed_errors_before_any_work(corpus):
    with pytest.raises(MissingTableError):
        translate_table(corpus["db"], "absent", corpus["root"] / "translator", corpus["db"], "x")
    with pytest.raises(MissingColumnError):
        translate_table(corpus["db"], "old", corpus["root"] / "translator", corpus["db"], "x", column="nope")
    with pytest.raises(ShapeMismatchError):  # the translator maps 64 -> 48; the anchors expect 64
        project_table(corpus["db"], "translated", corpus["root"] / "anchors", corpus["db"], "x")
