"""Throughput of the batch pipeline (``latent_core.batch``) against bare in-process references, in ONE local Ray
session (a benchmark, not a test: the numbers depend on the machine; every ratio is ours / reference measured in
the same run).

1. **translate** (:func:`translate_throughput`): ``translate_table(..., index=False)`` of synthetic 384-d float32
   rows (written into a Lance table piecewise, ``CHUNK_ROWS`` rows per append) through a Procrustes translator
   384 -> 768 fitted on synthetic anchors and saved with ``translator_io``: Lance read -> Ray actors -> Lance write.
   Reference: the bare numpy matmul of the same rows in the driver, a chunk at a time, with the translator's
   scaling folded in: ``x @ W + b`` with ``W = diag(1 / s_src) R diag(s_tgt)`` and ``b = mu_tgt - (mu_src /
   s_src) R diag(s_tgt)`` (float32; the rows are regenerated per chunk from their seed, untimed, so the driver
   never holds them all). ``ratio = ours rows/s / bare rows/s`` (goal >= 0.5). The output is checked against the
   bare product (all rows in ``--quick``, a sample of ids otherwise).
2. **encode** (:func:`encode_throughput`): ``latent_core.batch.encode.encode`` of distinct BBC sentences (a
   Parquet file) with ``onnx:paraphrase-MiniLM-L3-v2``, against the bare ``encoder.encode`` of the same texts in the
   driver (same batch size, the driver's torch threads). Encoding 1M real rows is not measured here (see the
   per-row rate in the output).
3. **peak memory per worker**: the peak RSS (``VmHWM`` of ``/proc/<pid>/status``, polled every 0.2 s) of every Ray
   worker process that ran during a step, by process title, and of the driver (its peak reset before each step
   with ``/proc/self/clear_refs``). Ray's shared-memory object store pages count in the RSS of the processes that
   map them.

Usage::

    python benchmarks/batch_speed.py [--quick] [--rows 20000,1000000] [--encode-rows 20000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SOURCE_DIM, TARGET_DIM, ANCHORS = 384, 768, 2000
CHUNK_ROWS = 50_000  # rows per append when writing the synthetic table, and per bare-matmul chunk
ENCODER = "onnx:paraphrase-MiniLM-L3-v2"
TRANSLATE_ROWS = (20_000, 1_000_000)
ENCODE_ROWS = 20_000
QUICK_TRANSLATE_ROWS, QUICK_ENCODE_ROWS = (3_000,), 300


# ---- memory ------------------------------------------------------------------------------------------------------


def _vm_hwm_mib(pid: int | str = "self") -> float | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux >= 4.0); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


class WorkerPeaks:
    """Poll the peak RSS of every Ray worker process (a descendant of this driver titled ``ray::...``)."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval, self.peaks, self.names = interval, {}, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _poll(self) -> None:
        import psutil

        for proc in psutil.Process().children(recursive=True):
            try:
                title = " ".join(proc.cmdline())
            except (psutil.Error, OSError):
                continue
            if not title.startswith("ray::"):
                continue
            peak = _vm_hwm_mib(proc.pid)
            if peak is not None:
                self.peaks[proc.pid] = max(self.peaks.get(proc.pid, 0.0), peak)
                name = title.split()[0]
                if name != "ray::IDLE":  # a reused worker keeps the last real title it had
                    self.names[proc.pid] = name
                self.names.setdefault(proc.pid, name)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll()
            self._stop.wait(self.interval)

    def __enter__(self) -> WorkerPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()

    def summary(self) -> list[dict]:
        """``[{"process", "pid", "peak_rss_mib"}]``, largest first."""
        rows = [{"process": self.names[pid], "pid": pid, "peak_rss_mib": round(peak, 1)}
                for pid, peak in self.peaks.items()]
        return sorted(rows, key=lambda r: -r["peak_rss_mib"])


# ---- translate ---------------------------------------------------------------------------------------------------


def _chunk(rows: int, index: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Rows ``[index * CHUNK_ROWS, ...)`` of the synthetic table: ids and ``[n, 384]`` float32 (seeded per chunk)."""
    start = index * CHUNK_ROWS
    n = min(CHUNK_ROWS, rows - start)
    rng = np.random.default_rng([seed, index])
    vectors = rng.standard_normal((n, SOURCE_DIM), dtype=np.float32)
    vectors *= 0.05
    vectors += 0.01
    return [f"r{start + i:08d}" for i in range(n)], vectors


def _chunks(rows: int) -> range:
    return range((rows + CHUNK_ROWS - 1) // CHUNK_ROWS)


def make_translator(directory: Path, seed: int = 0):
    """Fit a Procrustes 384 -> 768 on synthetic anchor pairs and save it; returns the directory."""
    from latent_core.batch.translator_io import save_translator
    from latent_core.translate import get_translator

    rng = np.random.default_rng(seed)
    source = (0.05 * rng.standard_normal((ANCHORS, SOURCE_DIM)) + 0.01).astype(np.float32)
    mix = rng.standard_normal((SOURCE_DIM, TARGET_DIM)) / np.sqrt(SOURCE_DIM)
    target = (source @ mix + 0.01 * rng.standard_normal((ANCHORS, TARGET_DIM))).astype(np.float32)
    translator = get_translator("procrustes").fit(source, target)
    save_translator(translator, directory, anchor_ids=[f"a{i}" for i in range(ANCHORS)])
    return directory


def folded_weights(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(W [Ds, Dt], b [Dt])`` float32: the saved linear translator's map with both scalings folded in."""
    from latent_core.batch.translator_io import load_translator

    translator, _ = load_translator(directory)
    mean_s = translator.source_scaler_.mean_.double().numpy()
    scale_s = translator.source_scaler_.scale_.double().numpy()
    mean_t = translator.target_scaler_.mean_.double().numpy()
    scale_t = translator.target_scaler_.scale_.double().numpy()
    rotation = translator.rotation_.double().numpy()[:SOURCE_DIM, :TARGET_DIM]
    weight = (rotation / scale_s[:, None]) * scale_t[None, :]
    bias = mean_t - (mean_s / scale_s) @ rotation * scale_t
    return weight.astype(np.float32), bias.astype(np.float32)


def write_source(db: Path, rows: int, seed: int) -> float:
    """The synthetic source table ``src`` in ``db``, one append per chunk; returns seconds."""
    from latent_core.batch import store

    start = time.perf_counter()
    table = None
    for index in _chunks(rows):
        ids, vectors = _chunk(rows, index, seed)
        batch = store.make_batch(ids, vectors)
        if table is None:
            table = store.create_table(db, "src", batch, mode="overwrite")
        else:
            store.append(table, batch)
    return time.perf_counter() - start


def bare_matmul(rows: int, seed: int, weight: np.ndarray, bias: np.ndarray) -> float:
    """Seconds of ``x @ W + b`` over every chunk of the synthetic rows (generation untimed)."""
    total = 0.0
    for index in _chunks(rows):
        _, x = _chunk(rows, index, seed)
        start = time.perf_counter()
        out = x @ weight
        out += bias
        total += time.perf_counter() - start
        del out
    return total


def check_output(db: Path, rows: int, seed: int, weight: np.ndarray, bias: np.ndarray, sample: int | None) -> dict:
    """Max |ours - bare| over all rows (``sample=None``) or over ``sample`` ids per chunk; and the row count."""
    from latent_core.batch import store

    table = store.open_table(db, "dst")
    worst, checked = 0.0, 0
    rng = np.random.default_rng(seed + 1)
    for index in _chunks(rows):
        ids, x = _chunk(rows, index, seed)
        pick = np.arange(len(ids)) if sample is None else np.sort(rng.choice(len(ids), min(sample, len(ids)),
                                                                             replace=False))
        got = store.read_vectors(table, [ids[i] for i in pick])
        worst = max(worst, float(np.abs(got - (x[pick] @ weight + bias)).max()))
        checked += len(pick)
    return {"max_abs_diff": worst, "rows_checked": checked, "rows_written": store.count_rows(table)}


def translate_throughput(rows: int, workdir: Path, *, batch_size: int | None = None, concurrency: int | None = None,
                         seed: int = 0, sample: int | None = 200, index: bool = False) -> dict:
    """One translate run of ``rows`` synthetic rows (needs a running Ray) against the bare matmul of the same rows.

    Returns ``rows``, ``ours_s``, ``bare_s``, ``ours_rows_per_s``, ``bare_rows_per_s``, ``ratio`` (ours / bare
    rows/s), ``write_source_s``, ``check`` (:func:`check_output`), ``workers`` (peak RSS per Ray worker),
    ``driver_peak_rss_mib``, ``batch_size``, ``actors``, ``index_s``; ``bare_s`` is the mean of one bare pass
    before and one after ours (``bare_runs_s``).
    """
    from latent_core.batch import pipeline, store

    db, tdir = workdir / f"db-{rows}", workdir / "translator"
    if not (tdir / "translator.json").exists():
        make_translator(tdir, seed)
    weight, bias = folded_weights(tdir)
    write_s = write_source(db, rows, seed)
    bare_matmul(min(rows, CHUNK_ROWS), seed, weight, bias)  # warm-up (BLAS threads, pages)
    bare_before = bare_matmul(rows, seed, weight, bias)
    batch_size = batch_size or pipeline.DEFAULT_BATCH_SIZE
    reset = _reset_peak()
    with WorkerPeaks() as peaks:
        summary = pipeline.translate_table(db, "src", tdir, db, "dst", batch_size=batch_size,
                                           concurrency=concurrency, index=False)
    driver_peak = _vm_hwm_mib() if reset else None
    ours_s = summary["seconds"]
    bare_after = bare_matmul(rows, seed, weight, bias)  # the machine is shared: the reference brackets ours
    bare_s = (bare_before + bare_after) / 2
    index_s = None
    if index:
        start = time.perf_counter()
        store.build_index(store.open_table(db, "dst"), exact_max_rows=0)
        index_s = time.perf_counter() - start
    check = check_output(db, rows, seed, weight, bias, sample)
    return {
        "rows": rows, "ours_s": ours_s, "bare_s": bare_s, "ours_rows_per_s": rows / ours_s,
        "bare_rows_per_s": rows / bare_s, "ratio": bare_s / ours_s, "write_source_s": write_s, "check": check,
        "bare_runs_s": [bare_before, bare_after], "workers": peaks.summary(), "driver_peak_rss_mib": driver_peak,
        "batch_size": batch_size, "actors": concurrency or _default_actors(), "index_s": index_s,
    }


def _default_actors() -> int:
    from latent_core.batch.session import cluster_cpus, cluster_gpus

    return max(1, int(cluster_gpus())) if cluster_gpus() else cluster_cpus()


def startup_cost(workdir: Path, rows: int = 1_024, *, batch_size: int | None = None,
                 concurrency: int | None = None, seed: int = 0) -> dict:
    """Seconds of ``translate_table`` on ``rows`` rows: what every call pays whatever its size (actors start,
    import torch, load and check the translator, plan, commit). Needs a running Ray."""
    import shutil

    from latent_core.batch import pipeline

    db, tdir = workdir / "db-startup", workdir / "translator"
    if not (tdir / "translator.json").exists():
        make_translator(tdir, seed)
    write_source(db, rows, seed)
    start = time.perf_counter()
    pipeline.translate_table(db, "src", tdir, db, "dst", batch_size=batch_size or pipeline.DEFAULT_BATCH_SIZE,
                             concurrency=concurrency, index=False)
    seconds = time.perf_counter() - start
    shutil.rmtree(db, ignore_errors=True)
    return {"rows": rows, "seconds": seconds}


# ---- encode ------------------------------------------------------------------------------------------------------


def bbc_sentences(n: int) -> list[str]:
    """The first ``n`` distinct sentences (> 20 characters) of the BBC article bodies, in corpus order."""
    from latent_core.batch.bbc_task import load_bbc_retrieval

    seen, out = set(), []
    for body in load_bbc_retrieval().bodies.items:
        for sentence in re.split(r"(?<=[.!?])\s+", body):
            sentence = sentence.strip()
            if len(sentence) > 20 and sentence not in seen:
                seen.add(sentence)
                out.append(sentence)
                if len(out) == n:
                    return out
    raise ValueError(f"only {len(out)} distinct BBC sentences; asked for {n}")


def _timed_encode(source: Path, uri: Path, spec: str, **options) -> tuple:
    """``encode(source -> uri/emb)`` timed, with every Ray worker's peak RSS and the driver's: ``(result, seconds,
    worker peaks, driver peak MiB or None)``. ``options``: ``encode``'s fragment_rows, batch_size, concurrency,
    cpus_per_actor."""
    from latent_core.batch.encode import encode

    reset = _reset_peak()
    with WorkerPeaks() as peaks:
        start = time.perf_counter()
        result = encode(source, uri, "emb", spec, progress=False, **options)
        seconds = time.perf_counter() - start
    return result, seconds, peaks.summary(), (_vm_hwm_mib() if reset else None)


def encode_throughput(n: int, workdir: Path, *, spec: str = ENCODER, batch_size: int = 64,
                      fragment_rows: int = 2_500, cpus_per_actor: int = 2, concurrency: int = 1) -> dict:
    """``encode`` of ``n`` BBC sentences vs the bare ``encoder.encode`` of the same texts (needs a running Ray);
    ``bare_s`` is the mean of one bare pass before and one after ours (``bare_runs_s``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch

    from latent_core.batch import store
    from latent_core.encoders import get_encoder

    texts = bbc_sentences(n)
    ids = [f"s{i:07d}" for i in range(n)]
    source = workdir / f"sentences-{n}.parquet"
    pq.write_table(pa.table({"id": ids, "text": texts}), source, row_group_size=fragment_rows)
    encoder = get_encoder(spec, device="cpu")
    encoder.encode(texts[:batch_size], batch_size=batch_size)  # load + warm-up, untimed
    start = time.perf_counter()
    bare = encoder.encode(texts, batch_size=batch_size).cpu().numpy()
    bare_before = time.perf_counter() - start
    uri = workdir / f"enc-{n}"
    result, ours_s, workers, driver_peak = _timed_encode(source, uri, spec, fragment_rows=fragment_rows,
                                                         batch_size=batch_size, concurrency=concurrency,
                                                         cpus_per_actor=cpus_per_actor)
    start = time.perf_counter()  # the machine is shared: the reference brackets ours
    encoder.encode(texts, batch_size=batch_size)
    bare_after = time.perf_counter() - start
    bare_s = (bare_before + bare_after) / 2
    table = store.open_table(uri, "emb")
    got = store.read_vectors(table, ids)
    return {
        "rows": n, "encoder": spec, "dim": int(bare.shape[1]), "batch_size": batch_size,
        "fragment_rows": fragment_rows, "concurrency": concurrency, "cpus_per_actor": cpus_per_actor,
        "driver_threads": torch.get_num_threads(), "ours_s": ours_s, "bare_s": bare_s,
        "ours_rows_per_s": n / ours_s, "bare_rows_per_s": n / bare_s, "ratio": bare_s / ours_s,
        "bare_runs_s": [bare_before, bare_after], "rows_written": store.count_rows(table), "complete": result.complete,
        "max_abs_diff": float(np.abs(got - bare).max()), "workers": workers, "driver_peak_rss_mib": driver_peak,
    }


def encode_scale(n: int, workdir: Path, *, spec: str = ENCODER, batch_size: int = 64, fragment_rows: int = 10_000,
                 cpus_per_actor: int = 2, concurrency: int = 1, sample: int = 1_000, seed: int = 0) -> dict:
    """``encode`` at corpus scale (needs a running Ray): ``n`` rows whose texts are the 2,225 BBC headlines in turn
    (row ``i`` holds headline ``i mod 2225``: real short texts, like titles; ``encode`` does not deduplicate, so
    every row is encoded), written to Parquet a fragment at a time. No bare reference (it would take as long
    again); a seeded ``sample`` of rows is checked against ``encoder.encode`` of the same texts in the driver.
    Returns ``rows``, ``ours_s``, ``ours_rows_per_s``, ``rows_written``, ``max_abs_diff``, ``workers``, ..."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from latent_core.batch import store
    from latent_core.batch.bbc_task import load_bbc_retrieval
    from latent_core.encoders import get_encoder

    headlines = load_bbc_retrieval().headlines.items

    def ids(rows) -> list[str]:
        return [f"h{i:08d}" for i in rows]

    def texts(rows) -> list[str]:
        return [headlines[i % len(headlines)] for i in rows]

    source = workdir / f"headlines-{n}.parquet"
    schema = pa.schema([("id", pa.string()), ("text", pa.string())])
    with pq.ParquetWriter(source, schema) as writer:
        for start in range(0, n, fragment_rows):
            rows = range(start, min(start + fragment_rows, n))
            writer.write_table(pa.table({"id": ids(rows), "text": texts(rows)}, schema=schema))
    uri = workdir / f"enc-scale-{n}"
    result, ours_s, workers, driver_peak = _timed_encode(source, uri, spec, fragment_rows=fragment_rows,
                                                         batch_size=batch_size, concurrency=concurrency,
                                                         cpus_per_actor=cpus_per_actor)
    picked = np.sort(np.random.default_rng(seed).choice(n, min(sample, n), replace=False))
    encoder = get_encoder(spec, device="cpu")
    expected = encoder.encode(texts(picked), batch_size=batch_size).cpu().numpy()
    table = store.open_table(uri, "emb")
    got = store.read_vectors(table, ids(picked))
    return {
        "rows": n, "encoder": spec, "texts": "BBC headlines in turn", "batch_size": batch_size,
        "fragment_rows": fragment_rows, "concurrency": concurrency, "cpus_per_actor": cpus_per_actor,
        "ours_s": ours_s, "ours_rows_per_s": n / ours_s, "rows_written": store.count_rows(table),
        "complete": result.complete, "rows_checked": len(picked), "max_abs_diff": float(np.abs(got - expected).max()),
        "workers": workers, "driver_peak_rss_mib": driver_peak,
    }


# ---- the report --------------------------------------------------------------------------------------------------


def run(quick: bool = False, translate_rows: tuple[int, ...] | None = None, encode_rows: int | None = None,
        batch_size: int | None = None, concurrency: int | None = None, encode_spec: str = ENCODER,
        index: bool = False, num_cpus: int | None = None, workdir: Path | None = None,
        encode_scale_rows: tuple[int, ...] = ()) -> dict:
    """Every measurement in one local Ray session; returns ``{"translate": [...], "encode": [...], "machine"}``.

    ``quick``: tiny sizes (a smoke run: every output row is checked against the bare product; ratios mean nothing).
    ``workdir``: the folder that holds the tables (a temporary folder inside it; the system's temporary folder by
    default). ``/dev/shm`` takes the disk out of the measurement. ``encode_scale_rows``: sizes for
    :func:`encode_scale` (none by default: 1M rows take about half an hour on 2 cores).
    """
    from latent_core.batch.session import cluster_cpus, ray_session

    if translate_rows is None:
        translate_rows = QUICK_TRANSLATE_ROWS if quick else TRANSLATE_ROWS
    translate_rows = tuple(r for r in translate_rows if r > 0)
    encode_rows = encode_rows if encode_rows is not None else (QUICK_ENCODE_ROWS if quick else ENCODE_ROWS)
    report: dict = {"quick": quick, "translate": [], "encode": [], "encode_scale": []}
    with tempfile.TemporaryDirectory(prefix="bench-batch-", dir=workdir) as tmp, ray_session(num_cpus=num_cpus):
        report["machine"] = {"ray_cpus": cluster_cpus(), "os_cpus": os.cpu_count(), "workdir": tmp,
                             "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        workdir = Path(tmp)
        if translate_rows:
            report["startup"] = startup_cost(workdir, batch_size=batch_size, concurrency=concurrency)
            print(f"translate_table of {report['startup']['rows']:,} rows (the fixed cost of a call): "
                  f"{report['startup']['seconds']:.2f} s", flush=True)
        for rows in translate_rows:
            result = translate_throughput(rows, workdir, batch_size=batch_size, concurrency=concurrency,
                                          sample=None if quick else 200, index=index and rows >= 50_000)
            report["translate"].append(result)
            _print_translate(result)
            for path in workdir.glob(f"db-{rows}"):  # free the disk before the next size
                import shutil

                shutil.rmtree(path, ignore_errors=True)
        if encode_rows:
            result = encode_throughput(encode_rows, workdir, spec=encode_spec)
            report["encode"].append(result)
            _print_encode(result)
        for rows in encode_scale_rows:
            result = encode_scale(rows, workdir, spec=encode_spec)
            report["encode_scale"].append(result)
            _print_encode_scale(result)
    return report


def _workers(result: dict) -> str:
    return ", ".join(f"{w['process']} {w['peak_rss_mib']:.0f}" for w in result["workers"][:4])


def _print_translate(r: dict) -> None:
    print(f"translate {r['rows']:,} rows: ours {r['ours_s']:.2f} s ({r['ours_rows_per_s']:,.0f} rows/s), bare matmul "
          f"{r['bare_s']:.2f} s ({r['bare_rows_per_s']:,.0f} rows/s), ratio {r['ratio']:.3f}; max abs diff "
          f"{r['check']['max_abs_diff']:.1e} over {r['check']['rows_checked']:,} rows; peak RSS MiB: driver "
          f"{r['driver_peak_rss_mib']}, {_workers(r)}", flush=True)


def _print_encode(r: dict) -> None:
    print(f"encode {r['rows']:,} BBC sentences ({r['encoder']}): ours {r['ours_s']:.1f} s "
          f"({r['ours_rows_per_s']:,.0f} rows/s), bare encoder.encode {r['bare_s']:.1f} s "
          f"({r['bare_rows_per_s']:,.0f} rows/s), ratio {r['ratio']:.3f}; max abs diff {r['max_abs_diff']:.1e}; "
          f"1M rows at this rate: ~{1_000_000 / r['ours_rows_per_s'] / 60:.0f} min (not measured); peak RSS MiB: "
          f"driver {r['driver_peak_rss_mib']}, {_workers(r)}", flush=True)


def _print_encode_scale(r: dict) -> None:
    print(f"encode {r['rows']:,} rows ({r['texts']}, {r['encoder']}): {r['ours_s']:.0f} s "
          f"({r['ours_rows_per_s']:,.0f} rows/s), {r['rows_written']:,} rows written; max abs diff "
          f"{r['max_abs_diff']:.1e} over {r['rows_checked']:,} sampled rows; peak RSS MiB: driver "
          f"{r['driver_peak_rss_mib']}, {_workers(r)}", flush=True)


def markdown(report: dict, command: str = "python benchmarks/batch_speed.py") -> str:
    """The README table of a :func:`run` report."""
    lines = [f"`{command}`, {report['machine']['date']}, {report['machine']['ray_cpus']} Ray CPUs "
             "(2 cores, shared).", "",
             "| step | rows | ours rows/s | reference | reference rows/s | ratio ours/ref | goal | peak RSS per "
             "worker (MiB) | notes |", "|---|---|---|---|---|---|---|---|---|"]
    if report.get("startup"):
        lines.append(f"| translate, fixed cost of a call | {report['startup']['rows']:,} | | | | | | | "
                     f"{report['startup']['seconds']:.1f} s (actors start, load the model, commit) |")
    for r in report["translate"]:
        lines.append(
            f"| translate 384 -> 768 (Procrustes) | {r['rows']:,} | {r['ours_rows_per_s']:,.0f} | numpy `x @ W + b` "
            f"(scaling folded, float32) | {r['bare_rows_per_s']:,.0f} | {r['ratio']:.2f} | >= 0.5 | "
            f"{_workers(r)}; driver {r['driver_peak_rss_mib']:.0f} | batch {r['batch_size']}, {r['actors']} actors, "
            f"max abs diff {r['check']['max_abs_diff']:.1e} over {r['check']['rows_checked']:,} rows |")
    for r in report["encode"]:
        lines.append(
            f"| encode ({r['encoder']}) | {r['rows']:,} | {r['ours_rows_per_s']:,.0f} | bare `encoder.encode` "
            f"| {r['bare_rows_per_s']:,.0f} | {r['ratio']:.2f} | | {_workers(r)}; driver "
            f"{r['driver_peak_rss_mib']:.0f} | batch {r['batch_size']}, fragments of {r['fragment_rows']:,} |")
        lines.append(f"| encode ({r['encoder']}) | 1,000,000 | not measured | | | | | | ~"
                     f"{1_000_000 / r['ours_rows_per_s'] / 60:.0f} min at the rate above |")
    for r in report.get("encode_scale", []):
        lines.append(f"| encode ({r['encoder']}), {r['texts']} | {r['rows']:,} | {r['ours_rows_per_s']:,.0f} | | | | "
                     f"| {_workers(r)}; driver {r['driver_peak_rss_mib']:.0f} | batch {r['batch_size']}, fragments of "
                     f"{r['fragment_rows']:,}, {r['rows_written']:,} rows written, max abs diff "
                     f"{r['max_abs_diff']:.1e} over {r['rows_checked']:,} sampled rows |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--rows", default=None, help="comma-separated translate sizes (default 20000,1000000; 0: skip)")
    parser.add_argument("--encode-rows", type=int, default=None, help="BBC sentences to encode (0: skip)")
    parser.add_argument("--encoder", default=ENCODER)
    parser.add_argument("--batch-size", type=int, default=None, help="translate rows per actor call")
    parser.add_argument("--concurrency", type=int, default=None, help="translate actors")
    parser.add_argument("--index", action="store_true", help="also time the IVF-PQ index build (>= 50k rows)")
    parser.add_argument("--encode-scale-rows", default="",
                        help="comma-separated sizes to encode at scale (BBC headlines in turn, no bare reference)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the tables go (default: the system's temporary folder; /dev/shm: no disk)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows = tuple(int(r) for r in args.rows.split(",")) if args.rows else None
    report = run(args.quick, rows, args.encode_rows, args.batch_size, args.concurrency, args.encoder, args.index,
                 workdir=args.workdir,
                 encode_scale_rows=tuple(int(r) for r in args.encode_scale_rows.split(",") if r.strip()))
    print(markdown(report, "python benchmarks/batch_speed.py" + (" --quick" if args.quick else "")))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
