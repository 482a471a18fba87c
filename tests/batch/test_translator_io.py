"""Saved translators (safetensors + JSON, never pickle): every registered translator round-trips exactly, and a
tampered or mismatched file is rejected with a TranslatorFormatError. No Ray: fast."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latent_core.batch import anchors_io
from latent_core.batch.translator_io import META_FILE, TENSORS_FILE, load_translator, read_meta, save_translator
from latent_core.errors import TranslatorFormatError
from latent_core.relative import relative_projection
from latent_core.translate import TRANSLATORS, Translator, get_translator, register_translator

RNG = np.random.default_rng(15)
SOURCE = RNG.normal(size=(120, 12)).astype(np.float32)
TARGET = (SOURCE @ RNG.normal(size=(12, 9)) + 0.1 * RNG.normal(size=(120, 9))).astype(np.float32)
QUERIES = RNG.normal(size=(40, 12)).astype(np.float32)
IDS = [f"doc-{i}" for i in range(120)]


def saved(tmp_path, name="procrustes", **kwargs):
    translator = get_translator(name, **kwargs).fit(SOURCE, TARGET)
    save_translator(translator, tmp_path, anchor_ids=IDS, fingerprints={"source": "old-fp", "target": "new-fp"})
    return translator


@pytest.mark.parametrize("name", list(TRANSLATORS))
@pytest.mark.parametrize("scaling", ["standard", "isotropic", None])
def test_every_translator_round_trips(tmp_path, name, scaling):
    translator = saved(tmp_path, name, scaling=scaling)
    loaded, meta = load_translator(tmp_path)
    assert type(loaded) is type(translator)
    np.testing.assert_allclose(loaded.transform(QUERIES).numpy(), translator.transform(QUERIES).numpy(), atol=1e-6)
    assert meta["estimator"] == name and meta["scaling"] == scaling
    assert (meta["source_dim"], meta["target_dim"]) == (12, 9)
    assert meta["anchor_ids"] == IDS and meta["fingerprints"] == {"source": "old-fp", "target": "new-fp"}
    assert set(meta["scaling_statistics"]) <= set(meta["tensors"])


def test_files_are_safetensors_and_json_never_pickle(tmp_path):
    saved(tmp_path, "affine")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([TENSORS_FILE, META_FILE])
    raw = (tmp_path / TENSORS_FILE).read_bytes()
    header_len = int.from_bytes(raw[:8], "little")  # safetensors: u64 header size, then a JSON header
    header = json.loads(raw[8:8 + header_len])
    assert {"weight_", "bias_", "source_scaler.mean"} <= set(header)
    assert not raw.startswith(b"\x80") and b"PK\x03\x04" not in raw[:4]  # no pickle protocol, no torch.save zip
    json.loads((tmp_path / META_FILE).read_text())


def _edit_meta(tmp_path, change):
    meta = json.loads((tmp_path / META_FILE).read_text())
    change(meta)
    (tmp_path / META_FILE).write_text(json.dumps(meta))


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(estimator="nope"), "unknown estimator"),
    (lambda m: m.update(version=99), "version"),
    (lambda m: m.update(format="other"), "not a latent-core-translator"),
    (lambda m: m["tensors"]["rotation_"].update(shape=[3, 3]), "JSON says"),
    (lambda m: m["tensors"].pop("rotation_"), "not in the JSON"),
    (lambda m: m["tensors"].update(extra_=dict(shape=[1], dtype="float64")), "missing"),
    (lambda m: m.update(source_dim=11), "dims disagree"),
    (lambda m: m.update(tensors_sha256="0" * 64), "hash"),
])
def test_tampered_json_is_rejected(tmp_path, change, message):
    saved(tmp_path)
    _edit_meta(tmp_path, change)
    with pytest.raises(TranslatorFormatError, match=message):
        load_translator(tmp_path)


def test_tampered_tensor_file_is_rejected(tmp_path):
    saved(tmp_path)
    path = tmp_path / TENSORS_FILE
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(TranslatorFormatError, match="hash"):
        load_translator(tmp_path)


def test_a_consistent_but_wrong_tensor_set_is_rejected(tmp_path):
    """Tensors rewritten with a matching JSON and hash, but missing the map itself: fails the smoke transform."""
    from safetensors.torch import load_file, save_file

    from latent_core.batch import translator_io

    saved(tmp_path)
    tensors = load_file(str(tmp_path / TENSORS_FILE))
    del tensors["rotation_"]
    save_file(tensors, str(tmp_path / TENSORS_FILE))
    _edit_meta(tmp_path, lambda m: (m["tensors"].pop("rotation_"),
                                    m.update(tensors_sha256=translator_io._sha256(tmp_path / TENSORS_FILE))))
    with pytest.raises(TranslatorFormatError, match="does not work"):
        load_translator(tmp_path)


def test_missing_files_and_unfitted_translators(tmp_path):
    with pytest.raises(TranslatorFormatError, match="missing"):
        read_meta(tmp_path)
    with pytest.raises(TranslatorFormatError, match="not fitted"):
        save_translator(get_translator("linear"), tmp_path)
    saved(tmp_path)
    (tmp_path / TENSORS_FILE).unlink()
    with pytest.raises(TranslatorFormatError, match="missing"):
        load_translator(tmp_path)


def test_state_the_format_cannot_express_is_refused(tmp_path):
    @register_translator("_test_callable_state", live=False)
    class Odd(Translator):
        def _fit_scaled(self, source, target):
            self.weight_ = torch.linalg.lstsq(source, target).solution
            self.hook_ = lambda z: z  # not a tensor: cannot be saved without pickle

        def _map(self, source):
            return source @ self.weight_

    try:
        translator = Odd().fit(SOURCE, TARGET)
        with pytest.raises(TranslatorFormatError, match="cannot express"):
            save_translator(translator, tmp_path)
    finally:
        TRANSLATORS.unregister("_test_callable_state")


@pytest.mark.parametrize("projection", ["cosine", "euclidean", "product"])
def test_anchors_round_trip(tmp_path, projection):
    anchors_io.save_anchors(SOURCE[:20], tmp_path, anchor_ids=IDS[:20], projection=projection, fingerprint="fp")
    projection_, meta = anchors_io.load_projection(tmp_path)
    expected = relative_projection(QUERIES, SOURCE[:20], projection).numpy()
    np.testing.assert_allclose(projection_.transform(QUERIES).numpy(), expected, atol=1e-6)
    assert anchors_io.output_dim(meta) == expected.shape[1]
    (tmp_path / anchors_io.TENSORS_FILE).write_bytes(b"junk")
    with pytest.raises(TranslatorFormatError, match="hash"):
        anchors_io.load_projection(tmp_path)


@pytest.mark.parametrize("artifact", ["translator", "anchors"])
@pytest.mark.parametrize("content, message", [
    (None, "No saved {what} in .*: {file} is missing"),
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "is not a {format} file"),
    ('{"format": "FORMAT", "version": 99}', "has format version 99; this code reads version 1. {redo}"),
])
def test_both_json_readers_share_the_checks(tmp_path, artifact, content, message):
    """translator.json and anchors.json go through one reader: the same checks, the same messages."""
    from latent_core.batch import translator_io

    module, read, what, redo = ((translator_io, read_meta, "translator", "Refit and save the translator again.")
                                if artifact == "translator" else
                                (anchors_io, anchors_io.read_anchor_meta, "anchors", "Save the anchors again"))
    if content is not None:
        (tmp_path / module.META_FILE).write_text(content.replace("FORMAT", module.FORMAT))
    expected = message.format(what=what, file=module.META_FILE, format=module.FORMAT, redo=redo)
    with pytest.raises(TranslatorFormatError, match=expected.replace(".", r"\.").replace(r"\.*", ".*")):
        read(tmp_path)
