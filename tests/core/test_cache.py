import json
import warnings

import numpy as np
import pytest

from latent_core.cache import EmbeddingCache, atomic_write_bytes, cache_key


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
