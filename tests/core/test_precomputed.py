import numpy as np
import pandas as pd
import pytest

from latent_core.data import load_dataset
from latent_core.encoders import PrecomputedEncoder, get_encoder
from latent_core.errors import EmbeddingAlignmentError, EmbeddingFormatError, EncoderUnavailableError


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_npy_aligned_by_row_order_and_to_subsamples(tmp_path, digits):
    matrix = np.random.default_rng(0).normal(size=(len(digits), 5))
    np.save(tmp_path / "e.npy", matrix)
    encoder = get_encoder(f"file:{tmp_path / 'e.npy'}")
    assert encoder.dim == 5
    np.testing.assert_allclose(encoder.encode_dataset(digits).cpu().numpy(), matrix.astype(np.float32))
    sub = load_dataset("digits", n=100, seed=2)
    np.testing.assert_allclose(encoder.encode_dataset(sub).cpu().numpy(), matrix[sub.rows].astype(np.float32))


def test_parquet_aligned_by_id_column(tmp_path, digits):
    sub = load_dataset("digits", n=30, seed=0)
    shuffled = np.random.default_rng(1).permutation(len(sub))
    vectors = np.arange(len(sub) * 3, dtype=np.float32).reshape(-1, 3)
    frame = pd.DataFrame({"sample": [sub.ids[i] for i in shuffled], "embedding": list(vectors[shuffled])})
    frame.to_parquet(tmp_path / "e.parquet")
    encoder = get_encoder(f"file:{tmp_path / 'e.parquet'}#id=sample")
    np.testing.assert_array_equal(encoder.encode_dataset(sub).cpu().numpy(), vectors)


def test_parquet_numeric_columns(tmp_path):
    sub = load_dataset("digits", n=10)
    pd.DataFrame(np.eye(10, 4), columns=list("abcd")).to_parquet(tmp_path / "e.parquet")
    assert PrecomputedEncoder(tmp_path / "e.parquet").encode_dataset(sub).shape == (10, 4)


def test_object_dtype_npy_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"x": 1}, {"y": 2}], dtype=object), allow_pickle=True)
    with pytest.raises(EmbeddingFormatError, match="not a plain numeric array"):
        get_encoder(f"file:{tmp_path / 'o.npy'}")


def test_row_count_mismatch(tmp_path, digits):
    np.save(tmp_path / "e.npy", np.zeros((17, 4), dtype=np.float32))
    encoder = get_encoder(f"file:{tmp_path / 'e.npy'}")
    with pytest.raises(EmbeddingAlignmentError, match="17 rows but the dataset has 1797"):
        encoder.encode_dataset(digits)


def test_missing_ids(tmp_path):
    sub = load_dataset("digits", n=10)
    pd.DataFrame({"id": ["nope"] * 1 + sub.ids[1:], "v": range(10)}).to_parquet(tmp_path / "e.parquet")
    with pytest.raises(EmbeddingAlignmentError, match="1 of 10 sample ids"):
        get_encoder(f"file:{tmp_path / 'e.parquet'}#id=id").encode_dataset(sub)


@pytest.mark.parametrize("content,match", [
    (lambda p: np.save(p, np.zeros(5)), "expected a non-empty"),
    (lambda p: np.save(p, np.array([[1.0, np.nan]])), "NaN"),
    (lambda p: np.save(p, np.array([["a", "b"]])), "embeddings must be numbers"),
    (lambda p: p.write_bytes(b"garbage"), "not a"),
])
def test_bad_npy_files(tmp_path, content, match):
    path = tmp_path / "bad.npy"
    content(path)
    with pytest.raises(EmbeddingFormatError, match=match):
        PrecomputedEncoder(path)


def test_unsupported_and_missing_files(tmp_path):
    (tmp_path / "e.pkl").write_bytes(b"\x80\x04")
    with pytest.raises(EmbeddingFormatError, match="never pickle"):
        PrecomputedEncoder(tmp_path / "e.pkl")
    with pytest.raises(EmbeddingFormatError, match="does not exist"):
        PrecomputedEncoder(tmp_path / "missing.npy")


def test_precomputed_cannot_embed_new_inputs(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(EncoderUnavailableError, match="cannot embed new"):
        PrecomputedEncoder(tmp_path / "e.npy").encode(["new text"])
