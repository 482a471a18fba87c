"""The embedding cache under faults: SIGKILL at every point of a write, concurrent writers, a read-only folder,
a full disk, and damaged entries.

Faults are injected only in child processes (``sys.executable -c ...``) by monkeypatching ``tempfile.mkstemp``,
``os.fdopen``, ``os.fsync`` or the n-th ``os.replace`` to SIGKILL the child: there are no fault hooks in the
library. Read-only and full folders use a private mount namespace (``unshare -m``): root ignores ``chmod``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from latent_core.cache import EmbeddingCache
from latent_core.data.base import Dataset
from latent_core.embed import embed_dataset, embedding_cache_key
from latent_core.encoders.base import Encoder
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = textwrap.dedent("""
    import json, os, signal, sys, warnings
    from pathlib import Path
    import numpy as np
    import latent_core.cache as C

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
""")


def run_child(code: str, timeout: float = 120):
    """Run ``PRELUDE + code`` in a fresh interpreter."""
    return subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _quote(arg: str) -> str:
    return shlex.quote(arg)


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp")) if folder.exists() else []


def counting(value: float, shape=(50, 8)):
    calls = []

    def compute():
        calls.append(1)
        return np.full(shape, value)

    return compute, calls


# --- SIGKILL at each point of a write ------------------------------------------------------------------------

KILL_POINTS = {
    # before the data's temporary file exists
    "before-temp": "C.tempfile.mkstemp = die",
    # inside the data's temporary file: half of the bytes written, nothing flushed or synced
    "partial-data": """
        real_fdopen = os.fdopen
        class Half:
            def __init__(self, handle): self.handle = handle
            def __enter__(self): return self
            def __exit__(self, *exc): return False
            def fileno(self): return self.handle.fileno()
            def write(self, data):
                self.handle.write(data[: len(data) // 2]); self.handle.flush(); die()
        C.os.fdopen = lambda fd, mode: Half(real_fdopen(fd, mode))
    """,
    # the whole data written, before fsync
    "before-fsync": "C.os.fsync = die",
    # data temp complete, metadata temp not created yet
    "before-meta-temp": """
        real_mkstemp = C.tempfile.mkstemp
        count = [0]
        def mkstemp(*args, **kwargs):
            count[0] += 1
            if count[0] == 2:
                die()
            return real_mkstemp(*args, **kwargs)
        C.tempfile.mkstemp = mkstemp
    """,
    # both temps complete, before the data is renamed into place
    "before-data-commit": "C.os.replace = die",
    # the data file committed, the metadata not yet
    "after-data-commit": """
        real_replace = C.os.replace
        count = [0]
        def replace(src, dst):
            count[0] += 1
            if count[0] == 2:
                die()
            return real_replace(src, dst)
        C.os.replace = replace
    """,
}


@pytest.mark.parametrize("previous", [False, True], ids=["empty", "over-an-old-entry"])
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_inside_a_write_never_gives_a_partial_hit_and_leaves_no_orphan(tmp_path, point, previous):
    folder = tmp_path / "embeddings"
    if previous:  # a complete older entry of the same key, with different content
        EmbeddingCache(folder, bundled=[]).save("k", np.full((50, 8), 9.0), {})
    child = run_child(
        f"""
        {textwrap.indent(textwrap.dedent(KILL_POINTS[point]), ' ' * 8).strip()}
        cache = C.EmbeddingCache(Path({str(folder)!r}), bundled=[])
        cache.save("k", np.full((50, 8), 1.5), {{}})
        print("NOT KILLED")
        """
    )
    assert child.returncode == -signal.SIGKILL, (child.returncode, child.stdout, child.stderr)
    if point in ("partial-data", "before-fsync", "before-meta-temp", "before-data-commit", "after-data-commit"):
        assert temp_files(folder), "the killed writer left a temporary file (what the next open must clean)"

    compute, calls = counting(1.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache = EmbeddingCache(folder, bundled=[])  # a fresh open, as a new process would
        assert temp_files(folder) == [], "orphans of the dead writer are removed on open"
        value, hit = cache.get_or_compute("k", compute, {}, expected_rows=50, expected_dim=8)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    if hit:  # only the old, complete entry may hit: never the half-written new one
        assert previous and point != "after-data-commit"
        assert (value == 9.0).all() and not messages
    else:
        assert len(calls) == 1 and (value == 1.5).all()
        if point == "after-data-commit":
            reason = "sha256 of the data does not match" if previous else "metadata k.json is missing"
            assert len(messages) == 1 and "corrupted" in messages[0] and reason in messages[0], messages
        else:
            assert not messages, messages
    assert temp_files(folder) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again, hit = EmbeddingCache(folder, bundled=[]).get_or_compute("k", compute, {}, 50, 8)
    assert hit and np.array_equal(again, value)
    assert sorted(p.name for p in folder.iterdir()) == ["k.json", "k.npy"]


# --- concurrent writers of one key ---------------------------------------------------------------------------

WRITER = """
    folder, index, go = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    warnings.simplefilter("error")  # a reader that sees a damaged entry would warn: fail instead
    values = {float(v) for v in sys.argv[4].split(",")}
    while not go.exists():
        pass
    cache = C.EmbeddingCache(folder, bundled=[])
    for _ in range(25):
        cache.save("k", np.full((200, 64), float(index)), {"writer": index})
        seen = cache.load("k", expected_rows=200, expected_dim=64)
        assert seen is not None, "a complete entry is always visible"
        assert float(seen[0, 0]) in values and (seen == seen[0, 0]).all(), "one writer's whole array"
    print("OK")
"""


@pytest.mark.parametrize("writers", [2, 4])
def test_concurrent_writers_of_one_key_leave_one_complete_entry(tmp_path, writers):
    folder, go = tmp_path / "embeddings", tmp_path / "go"
    values = ",".join(str(float(i)) for i in range(writers))
    script = PRELUDE + textwrap.dedent(WRITER)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(folder), str(i), str(go), values], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(writers)]
    time.sleep(0.5)
    go.write_text("")
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0 and "OK" in out, err
    assert sorted(p.name for p in folder.iterdir()) == ["k.json", "k.npy"], "one entry, no temporary file"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = EmbeddingCache(folder, bundled=[]).load("k", expected_rows=200, expected_dim=64)
    meta = json.loads((folder / "k.json").read_text())
    assert float(loaded[0, 0]) == meta["writer"] and (loaded == loaded[0, 0]).all()
    assert meta["sha256"] == hashlib.sha256((folder / "k.npy").read_bytes()).hexdigest()


# --- read-only folder and full disk (private mount namespaces) -----------------------------------------------

def _unshare_works() -> bool:
    if shutil.which("unshare") is None or sys.platform != "linux":
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && true"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def unshare_ok():
    return _unshare_works()


def in_read_only(folder: Path, code: str, env: dict | None = None):
    """Run ``code`` in a child whose ``folder`` is a read-only bind mount; ``env`` replaces the environment."""
    f = _quote(str(folder))
    argv = [sys.executable, "-c", PRELUDE + textwrap.dedent(code)]
    shell = f"mount --bind {f} {f} && mount -o remount,bind,ro {f} && exec " + " ".join(_quote(a) for a in argv)
    return subprocess.run(["unshare", "-m", "sh", "-c", shell], cwd=ROOT, env=os.environ if env is None else env,
                          capture_output=True, text=True, timeout=120)


def in_tiny_tmpfs(folder: Path, code: str, env: dict | None = None, size: str = "64k"):
    f = _quote(str(folder))
    argv = [sys.executable, "-c", PRELUDE + textwrap.dedent(code)]
    shell = f"mount -t tmpfs -o size={size} tmpfs {f} && exec " + " ".join(_quote(a) for a in argv)
    return subprocess.run(["unshare", "-m", "sh", "-c", shell], cwd=ROOT, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=120)


CHILD_EMBED = """
    import torch
    from latent_core.data.base import Dataset
    from latent_core.embed import embed_dataset
    from latent_core.encoders.base import Encoder

    class Wide(Encoder):
        modality, spec = "text", "test:wide"
        def __init__(self, dim):
            super().__init__("cpu")
            self.dim, self.calls = dim, 0
        @property
        def fingerprint(self):
            return "w"
        def _encode_batch(self, batch):
            self.calls += len(batch)
            return np.array([[len(t) + j for j in range(self.dim)] for t in batch], dtype=np.float32)

    texts = [f"text number {i}" for i in range(40)]
    data = Dataset(name="t", ids=[str(i) for i in range(40)], items=texts, labels=np.zeros(40, dtype=int),
                   label_names=["x"], modality="text")
    expected = torch.tensor([[len(t) + j for j in range(DIM)] for t in texts], dtype=torch.float32)
"""


def _runtime_messages(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


def test_read_only_cache_folder_keeps_results_in_memory_with_one_warning(tmp_path, unshare_ok):
    require(unshare_ok, "`unshare -m` (private mount namespace, needs root or user namespaces) is not permitted here")
    ro = tmp_path / "ro"
    EmbeddingCache(ro / "embeddings", bundled=[]).save("old", np.eye(4), {})  # written before it turned read-only
    child = in_read_only(ro, CHILD_EMBED.replace("DIM", "8") + f"""
    ro = Path({str(ro)!r})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache = C.EmbeddingCache(ro / "embeddings", bundled=[])
        assert cache.load("old", expected_rows=4, expected_dim=4) is not None, "read-only entries still hit"
        encoder = Wide(8)
        first = embed_dataset(encoder, data, cache=cache)
        second = embed_dataset(encoder, data, cache=C.EmbeddingCache(ro / "embeddings", bundled=[]))
        assert torch.equal(first, expected) and torch.equal(second, expected)
        assert encoder.calls == 40, "the second call is a hit from memory"
        value, hit = C.EmbeddingCache(ro / "missing", bundled=[]).get_or_compute(
            "k", lambda: np.ones((3, 2)), {{}}, expected_rows=3, expected_dim=2)
        assert not hit and (value == 1).all()
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 2, messages  # one per unwritable folder
    assert str(ro / "embeddings") in messages[0] and str(ro / "missing") in messages[1], messages
    for text in messages:
        assert "kept in memory for this process only" in text and "LATENT_CACHE_DIR" in text, text
    print("MESSAGE", messages[0])
    print("OK")
    """)
    assert child.returncode == 0 and "OK" in child.stdout, child.stdout + child.stderr
    assert "Read-only file system" in child.stdout
    assert sorted(p.name for p in (ro / "embeddings").iterdir()) == ["old.json", "old.npy"]


def test_read_only_cache_root_falls_back_for_cache_root_and_embed_dataset(tmp_path, unshare_ok):
    require(unshare_ok, "`unshare -m` (private mount namespace, needs root or user namespaces) is not permitted here")
    ro = tmp_path / "ro"
    ro.mkdir()
    child = in_read_only(ro, CHILD_EMBED.replace("DIM", "8") + f"""
    import os
    from latent_core.config import cache_root, cache_subdir
    ro = Path({str(ro)!r})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        os.environ["LATENT_CACHE_DIR"] = str(ro / "not" / "yet")
        root = cache_root()
        assert os.access(root, os.W_OK) and not str(root).startswith(str(ro)), root
        assert cache_subdir("numba").parent == root
        os.environ["LATENT_CACHE_DIR"] = str(ro)
        encoder = Wide(8)
        assert torch.equal(embed_dataset(encoder, data), expected)
        assert torch.equal(embed_dataset(encoder, data), expected) and encoder.calls == 40
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 2, messages  # one per configured folder
    assert str(ro / "not" / "yet") in messages[0] and str(ro) in messages[1]
    assert all("LATENT_CACHE_DIR" in m and "temporary folder" in m for m in messages), messages
    print("OK")
    """)
    assert child.returncode == 0 and "OK" in child.stdout, child.stdout + child.stderr
    assert list(ro.iterdir()) == []


def test_launcher_numba_folder_on_a_read_only_cache_does_not_crash(tmp_path, unshare_ok):
    require(unshare_ok, "`unshare -m` (private mount namespace, needs root or user namespaces) is not permitted here")
    ro = tmp_path / "ro"
    ro.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["LATENT_CACHE_DIR"] = str(ro / "cache")
    child = in_read_only(ro, """
    from app import launch
    folder = launch.app_environment().get("NUMBA_CACHE_DIR")
    assert folder is None or os.access(folder, os.W_OK), folder
    print("OK", folder)
    """, env=env)
    assert child.returncode == 0 and "OK" in child.stdout, child.stdout + child.stderr
    assert "LATENT_CACHE_DIR" in child.stderr  # the one warning is printed


def test_full_disk_returns_the_result_with_one_warning_and_no_partial_entry(tmp_path, unshare_ok):
    require(unshare_ok, "`unshare -m` (private mount namespace, needs root or user namespaces) is not permitted here")
    full = tmp_path / "full"
    full.mkdir()
    child = in_tiny_tmpfs(full, CHILD_EMBED.replace("DIM", "512") + f"""
    import os
    full = Path({str(full)!r})
    os.environ["LATENT_CACHE_DIR"] = str(full)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder = Wide(512)  # 40 x 512 float32 = 80 KB > 64 KB
        assert torch.equal(embed_dataset(encoder, data), expected)
        assert torch.equal(embed_dataset(encoder, data), expected) and encoder.calls == 40
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1, messages
    assert str(full / "embeddings") in messages[0] and "No space left on device" in messages[0], messages
    assert os.listdir(full / "embeddings") == [], os.listdir(full / "embeddings")
    print("OK")
    """)
    assert child.returncode == 0 and "OK" in child.stdout, child.stdout + child.stderr


def test_full_disk_after_the_data_fits_removes_the_data_temp_file_too(tmp_path, unshare_ok):
    """The data's temporary file fits, the metadata's does not: nothing is left behind."""
    require(unshare_ok, "`unshare -m` (private mount namespace, needs root or user namespaces) is not permitted here")
    full = tmp_path / "full"
    full.mkdir()
    child = in_tiny_tmpfs(full, f"""
    full = Path({str(full)!r})
    (full / "embeddings").mkdir()
    (full / "filler").write_bytes(b"x" * (64 - 12) * 1024)  # 3 pages left: exactly the .npy below
    array = np.ones((95, 32), dtype=np.float32)  # 128-byte header + 12160 bytes = 12288
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stored = C.EmbeddingCache(full / "embeddings", bundled=[]).save("k", array, {{}})
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert stored is False and len(messages) == 1 and "No space left" in messages[0], messages
    assert os.listdir(full / "embeddings") == [], os.listdir(full / "embeddings")
    print("OK")
    """)
    assert child.returncode == 0 and "OK" in child.stdout, child.stdout + child.stderr


# --- damaged entries heal --------------------------------------------------------------------------------------

def _damage(folder: Path, how: str) -> None:
    data, meta_path = folder / "k.npy", folder / "k.json"
    meta = json.loads(meta_path.read_text())
    if how == "garbage-json":
        meta_path.write_bytes(b"\x00\xff{not json")
    elif how == "json-not-an-object":
        meta_path.write_text("[1, 2]")
    elif how == "json-wrong-shape":
        meta_path.write_text(json.dumps({**meta, "shape": [4, 8]}))
    elif how == "json-wrong-hash":
        meta_path.write_text(json.dumps({**meta, "sha256": "0" * 64}))
    elif how == "json-other-key":
        meta_path.write_text(json.dumps({**meta, "key": "another"}))
    elif how == "json-other-format":
        meta_path.write_text(json.dumps({**meta, "entry_format": 999}))
    elif how == "json-wrong-dtype":
        meta_path.write_text(json.dumps({**meta, "dtype": "float64"}))
    elif how == "missing-json":
        meta_path.unlink()
    elif how == "missing-npy":
        data.unlink()
    elif how == "float64-data":  # consistent metadata, wrong dtype inside the file
        np.save(data, np.full((5, 8), 1.0))
        meta_path.write_text(json.dumps({**meta, "sha256": hashlib.sha256(data.read_bytes()).hexdigest()}))
    else:
        raise AssertionError(how)


DAMAGE = {
    "garbage-json": "not valid JSON",
    "json-not-an-object": "not a JSON object",
    "json-wrong-shape": "the metadata says shape [4, 8], the data has [5, 8]",
    "json-wrong-hash": "sha256 of the data does not match",
    "json-other-key": "belongs to key 'another'",
    "json-other-format": "entry format 999",
    "json-wrong-dtype": "dtype 'float64'",
    "missing-json": "metadata k.json is missing",
    "missing-npy": "data k.npy is missing",
    "float64-data": "dtype float64",
}


@pytest.mark.parametrize("how", list(DAMAGE))
def test_damaged_entry_is_recomputed_with_a_warning_then_hits_cleanly(tmp_path, how):
    cache = EmbeddingCache(tmp_path, bundled=[])
    cache.save("k", np.full((5, 8), 1.0), {})
    _damage(tmp_path, how)
    compute, calls = counting(2.0, shape=(5, 8))
    with pytest.warns(RuntimeWarning, match="corrupted") as caught:
        value, hit = cache.get_or_compute("k", compute, {}, expected_rows=5, expected_dim=8)
    assert len(caught) == 1 and DAMAGE[how] in str(caught[0].message), str(caught[0].message)
    assert not hit and len(calls) == 1 and (value == 2.0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again, hit = EmbeddingCache(tmp_path, bundled=[]).get_or_compute("k", compute, {}, 5, 8)
    assert hit and len(calls) == 1 and (again == 2.0).all()


class TinyEncoder(Encoder):
    modality = "text"

    def __init__(self, dim: int = 2) -> None:
        super().__init__("cpu")
        self.spec, self.dim, self.calls = "test:tiny", dim, 0

    @property
    def fingerprint(self) -> str:
        return "tiny"

    def _encode_batch(self, batch):
        self.calls += len(batch)
        return np.array([[len(t), t.count(" ")] for t in batch], dtype=np.float32)


def _tiny_dataset(n: int = 12) -> Dataset:
    texts = [f"sample {'word ' * i}" for i in range(n)]
    return Dataset(name="tiny", ids=[str(i) for i in range(n)], items=texts, labels=np.zeros(n, dtype=int),
                   label_names=["x"], modality="text")


def test_wrong_dimension_entry_heals_in_embed_dataset(tmp_path):
    data, encoder = _tiny_dataset(), TinyEncoder()
    cache = EmbeddingCache(tmp_path, bundled=[])
    key = embedding_cache_key(encoder, data)
    cache.save(key, np.ones((len(data), 3)), {"note": "a 3-d entry under a 2-d encoder's key"})
    with pytest.warns(RuntimeWarning, match="dimension 3, expected 2"):
        healed = embed_dataset(encoder, data, cache=cache)
    expected = torch.tensor([[len(t), t.count(" ")] for t in data.items], dtype=torch.float32)
    assert encoder.calls == len(data) and torch.equal(healed, expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(embed_dataset(encoder, data, cache=EmbeddingCache(tmp_path, bundled=[])), expected)
    assert encoder.calls == len(data)


def test_bundled_entry_of_the_wrong_dimension_is_skipped_not_fatal(tmp_path):
    data, encoder = _tiny_dataset(), TinyEncoder()
    bundled = tmp_path / "bundled"
    EmbeddingCache(bundled, bundled=[]).save(embedding_cache_key(encoder, data), np.ones((len(data), 5)), {})
    with pytest.warns(RuntimeWarning, match="unusable"):
        out = embed_dataset(encoder, data, cache=EmbeddingCache(tmp_path / "user", bundled=[bundled]))
    assert out.shape == (len(data), 2) and encoder.calls == len(data)


def test_full_disk_while_unpacking_mpnet_is_a_typed_error(tmp_path, unshare_ok):
    """MPNet is unpacked once (about 440 MB) into the model cache: a full disk says so, with no half copy left."""
    require(unshare_ok, "`unshare -m` (private mount namespace, needs root or user namespaces) is not permitted here")
    from latent_core.encoders import packaged

    require(packaged.mpnet_parts() is not None, "the MPNet packages are missing: run the README's setup command")
    full = tmp_path / "full"
    full.mkdir()
    child = in_tiny_tmpfs(full, f"""
    os.environ["LATENT_CACHE_DIR"] = {str(full)!r}
    from latent_core.encoders import packaged
    from latent_core.errors import EncoderUnavailableError
    try:
        packaged.mpnet_dir()
    except EncoderUnavailableError as error:
        print("TYPED", error)
    print("LEFT", sorted(os.listdir(Path({str(full)!r}) / "models")))
    """, size="4m")
    assert child.returncode == 0, child.stderr[-2000:]
    assert "TYPED all-mpnet-base-v2 must be unpacked once" in child.stdout and "No space left" in child.stdout
    assert "LEFT []" in child.stdout, child.stdout
