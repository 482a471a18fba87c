import errno
import hashlib
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import latent_core.cache as cache_module
from latent_core.cache import EmbeddingCache, atomic_write_bytes, cache_key, clean_orphan_temp_files, try_write_bytes
from latent_core.config import cache_root, cache_subdir


def test_key_depends_on_every_part_but_not_their_order():
    base = cache_key(encoder="a", weights="w", dataset="d")
    assert base == cache_key(dataset="d", weights="w", encoder="a")
    assert base != cache_key(encoder="a", weights="w2", dataset="d")
    assert base != cache_key(encoder="a", weights="w", dataset="d2")


def test_round_trip_is_exact_and_float32(tmp_path):
    cache = EmbeddingCache(tmp_path, bundled=[])
    x = np.random.default_rng(0).normal(size=(7, 3))
    cache.save("k", x, {"note": "t"})
    loaded = cache.load("k", expected_rows=7)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, x.astype(np.float32))
    assert json.loads((tmp_path / "k.json").read_text())["shape"] == [7, 3]
    assert not list(tmp_path.glob("*.tmp")), "no temporary file is left behind"


def test_get_or_compute_hits_on_the_second_call(tmp_path):
    cache = EmbeddingCache(tmp_path, bundled=[])
    calls = []

    def compute():
        calls.append(1)
        return np.ones((4, 2))

    first, hit1 = cache.get_or_compute("k", compute, {})
    second, hit2 = cache.get_or_compute("k", compute, {})
    assert (hit1, hit2, len(calls)) == (False, True, 1)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("damage", [b"", b"not an npy file", "truncate", "object", "rows"])
def test_corrupted_entry_warns_and_is_recomputed(tmp_path, damage):
    cache = EmbeddingCache(tmp_path, bundled=[])
    cache.save("k", np.ones((5, 2)), {})
    path = tmp_path / "k.npy"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:-8])
    elif damage == "object":
        np.save(path, np.array([{"a": 1}] * 5, dtype=object), allow_pickle=True)
    elif damage == "rows":
        np.save(path, np.ones((3, 2), dtype=np.float32))
    else:
        path.write_bytes(damage)
    with pytest.warns(RuntimeWarning, match="corrupted"):
        value, hit = cache.get_or_compute("k", lambda: np.full((5, 2), 2.0), {}, expected_rows=5)
    assert not hit
    np.testing.assert_array_equal(value, np.full((5, 2), 2.0, dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.get_or_compute("k", lambda: pytest.fail("recomputed twice"), {}, expected_rows=5)[1]


def test_failed_write_leaves_no_entry(tmp_path):
    cache = EmbeddingCache(tmp_path, bundled=[])

    def boom():
        raise RuntimeError("encoder crashed")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("k", boom, {})
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_whole_files(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_bundled_entries_are_read_only_fallbacks(tmp_path):
    bundled = tmp_path / "bundled"
    EmbeddingCache(bundled, bundled=[]).save("k", np.eye(3), {})
    cache = EmbeddingCache(tmp_path / "user", bundled=[bundled])
    np.testing.assert_array_equal(cache.load("k", expected_rows=3), np.eye(3, dtype=np.float32))
    with pytest.warns(RuntimeWarning, match="unusable"):
        assert cache.load("k", expected_rows=4) is None
    assert cache.load("other") is None


# --- Completeness, self-healing, fall-backs (the in-process half; subprocess faults are in test_cache_faults.py) ---

def test_metadata_is_committed_last_and_records_what_the_data_must_be(tmp_path, monkeypatch):
    committed = []
    real_replace = os.replace
    monkeypatch.setattr(cache_module.os, "replace", lambda src, dst: (committed.append(os.path.basename(dst)),
                                                                      real_replace(src, dst)))
    EmbeddingCache(tmp_path, bundled=[]).save("k", np.ones((4, 3)), {"note": "t"})
    assert committed == ["k.npy", "k.json"]
    meta = json.loads((tmp_path / "k.json").read_text())
    assert meta["key"] == "k" and meta["shape"] == [4, 3] and meta["dtype"] == "float32"
    assert meta["entry_format"] == cache_module.ENTRY_FORMAT and meta["note"] == "t"
    assert meta["sha256"] == hashlib.sha256((tmp_path / "k.npy").read_bytes()).hexdigest()


def test_expected_dim_is_checked_on_load(tmp_path):
    cache = EmbeddingCache(tmp_path, bundled=[])
    cache.save("k", np.ones((4, 3)), {})
    assert cache.load("k", expected_rows=4, expected_dim=3) is not None
    with pytest.warns(RuntimeWarning, match="dimension 3, expected 2"):
        assert cache.load("k", expected_rows=4, expected_dim=2) is None
    assert list(tmp_path.iterdir()) == [], "the wrong-dimension entry is removed"


def test_temp_files_carry_the_writer_pid(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace
    monkeypatch.setattr(cache_module.os, "replace", lambda src, dst: (seen.append(os.path.basename(src)),
                                                                      real_replace(src, dst)))
    atomic_write_bytes(tmp_path / "f.bin", b"x")
    assert seen[0].startswith(f".f.bin.{os.getpid()}.") and seen[0].endswith(".tmp")


def test_orphan_temp_files_of_dead_writers_or_older_than_an_hour_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    orphan = tmp_path / f".k.npy.{dead_pid}.abc123_x.tmp"
    mine = tmp_path / f".k.npy.{os.getpid()}.abc123_y.tmp"  # a live writer (this process): kept
    old = tmp_path / ".k.json.abcdefgh.tmp"  # an older name without a pid: removed by age only
    young_unknown = tmp_path / ".k.json.zzzzzzzz.tmp"
    for path in (orphan, mine, old, young_unknown):
        path.write_bytes(b"partial")
    os.utime(old, (0, 0))
    (tmp_path / "keep.npy").write_bytes(b"not a temp file")
    EmbeddingCache(tmp_path, bundled=[])  # opening the cache cleans
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, young_unknown.name, "keep.npy"])
    os.utime(mine, (0, 0))
    assert clean_orphan_temp_files(tmp_path) == 1 and not mine.exists()


def test_a_failed_metadata_commit_takes_the_data_back_and_keeps_the_result_in_memory(tmp_path, monkeypatch):
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    cache = EmbeddingCache(tmp_path, bundled=[])
    monkeypatch.setattr(cache_module.os, "replace", replace)
    with pytest.warns(RuntimeWarning, match="kept in memory") as caught:
        value, hit = cache.get_or_compute("k", lambda: np.full((3, 2), 7.0), {}, expected_rows=3, expected_dim=2)
    assert len(caught) == 1 and not hit and (value == 7.0).all()
    assert list(tmp_path.iterdir()) == [], "no data file without metadata, no temp file"
    monkeypatch.setattr(cache_module.os, "replace", real_replace)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again, hit = EmbeddingCache(tmp_path, bundled=[]).get_or_compute("k", lambda: pytest.fail("lost"), {}, 3, 2)
    assert hit and (again == 7.0).all()


def test_try_write_bytes_returns_false_and_warns_once_per_folder(tmp_path, monkeypatch):
    assert try_write_bytes(tmp_path / "ok.bin", b"data") and (tmp_path / "ok.bin").read_bytes() == b"data"
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    with pytest.warns(RuntimeWarning, match="Set LATENT_CACHE_DIR to a writable folder") as caught:
        assert try_write_bytes(blocker / "x.bin", b"data") is False
        assert try_write_bytes(blocker / "y.bin", b"data") is False
    assert len(caught) == 1 and str(blocker) in str(caught[0].message)
    with pytest.raises(OSError):
        atomic_write_bytes(blocker / "z.bin", b"data")  # the strict writer still raises


def test_cache_root_falls_back_to_a_temporary_folder_with_one_warning(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    monkeypatch.setenv("LATENT_CACHE_DIR", str(blocker / "cache"))  # mkdir fails with ENOTDIR, even for root
    with pytest.warns(RuntimeWarning, match="cannot be written") as caught:
        root = cache_root()
        sub = cache_subdir("numba")
        cache_root()
    assert len(caught) == 1 and str(blocker / "cache") in str(caught[0].message)
    assert root != blocker / "cache" and sub == root / "numba" and os.access(sub, os.W_OK)
    assert "LATENT_CACHE_DIR" in str(caught[0].message)


def test_legacy_metadata_without_hash_is_accepted_and_upgraded(tmp_path):
    cache = EmbeddingCache(tmp_path, bundled=[])
    np.save(tmp_path / "k.npy", np.eye(3, dtype=np.float32))
    (tmp_path / "k.json").write_text(json.dumps({"encoder": "e", "shape": [3, 3]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(cache.load("k", expected_rows=3, expected_dim=3), np.eye(3))
    meta = json.loads((tmp_path / "k.json").read_text())
    assert meta["encoder"] == "e" and meta["key"] == "k" and len(meta["sha256"]) == 64


def test_shipped_bundled_entries_still_load(tmp_path):
    from latent_core.cache import BUNDLED_DIR

    metas = sorted(BUNDLED_DIR.glob("*.json"))
    assert metas, "assets/embeddings has entries"
    cache = EmbeddingCache(tmp_path, bundled=[BUNDLED_DIR])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for meta_path in metas:
            rows, dim = json.loads(meta_path.read_text())["shape"]
            assert cache.load(meta_path.stem, expected_rows=rows, expected_dim=dim).shape == (rows, dim)
    assert list(tmp_path.iterdir()) == [], "bundled hits are not copied"
