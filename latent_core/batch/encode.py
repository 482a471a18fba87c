"""``encode``: a Parquet or Lance dataset of texts (or image paths) -> a Lance table of embeddings, on Ray Data.

Layout. The input's rows are cut into fixed fragments of ``fragment_rows`` rows (fragment ``f`` = rows
``[f * fragment_rows, (f + 1) * fragment_rows)`` in the input's order). The output is the LanceDB table
``<uri>/<table>.lance`` with rows ``id`` (string), ``vector`` (fixed-size list of float32 ``[D]``) and ``fragment``
(int32, the input fragment the row came from). Its schema metadata records the encoder (spec, weights fingerprint,
dimension), the input (path, rows) and ``fragment_rows``; a restart with other settings is refused.

Execution. ``ray.data.from_items`` over the fragments still to do, then ``map_batches`` with a callable-class actor
(:class:`FragmentEncoder`: the encoder loads once per actor; ``num_gpus=1`` per actor when the cluster has GPUs,
else ``num_cpus``). Each actor call reads ONE fragment's rows straight from the input (no process holds the whole
input), encodes them, and writes them as Lance data files (``lance.fragment.write_fragments``) WITHOUT committing;
it returns only the file metadata. The driver commits each finished fragment as its own Lance ``Append``
transaction as results stream in.

Resumability. A Lance commit is atomic, so the table only ever holds whole fragments. A run killed mid-way leaves
the fragments committed so far, plus at worst some uncommitted data files (invisible to readers; reclaimed by
Lance's cleanup). A restart reads the ``fragment`` column, skips those fragments, and encodes the rest: every input
row ends up exactly once. ``max_fragments`` stops a run after that many fragments (batching a long job).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from latent_core.batch.options import add_ray_options, positive_int
from latent_core.errors import ConfigError, DatasetFormatError, EmptyDatasetError, MissingColumnError

FRAGMENT_COLUMN = "fragment"
DEFAULT_FRAGMENT_ROWS = 10_000
DEFAULT_BATCH_SIZE = 64
DEFAULT_CONCURRENCY = 1  # encoder actors: each loads the model
META_PREFIX = "latent."


# ---- input: row ranges of a Parquet file/folder or a Lance dataset -----------------------------------------------


class InputSource:
    """Random access by row range to a Parquet file, a folder of Parquet files (sorted by name) or a Lance dataset.

    Picklable (only paths and row counts), so each Ray actor reads its own ranges.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        p = Path(self.path)
        if not p.exists():
            raise DatasetFormatError(f"Input {self.path!r} does not exist.")
        if p.is_dir() and (p.suffix == ".lance" or (p / "_versions").is_dir()):
            import lance

            self.kind, self.files, self.group_rows = "lance", [], []
            dataset = lance.dataset(self.path)
            self.num_rows, self.schema = dataset.count_rows(), dataset.schema
            return
        import pyarrow.parquet as pq

        self.kind = "parquet"
        self.files = sorted(str(f) for f in p.rglob("*.parquet")) if p.is_dir() else [self.path]
        if not self.files:
            raise DatasetFormatError(f"Input folder {self.path!r} holds no .parquet files and is not a Lance dataset.")
        try:
            metas = [pq.ParquetFile(f).metadata for f in self.files]
            self.schema = pq.read_schema(self.files[0])
        except (OSError, pa.ArrowInvalid) as error:
            raise DatasetFormatError(f"Cannot read {self.path!r} as Parquet: {error}") from error
        # (file index, row group, first global row, rows) of every row group, in order
        self.group_rows, start = [], 0
        for index, meta in enumerate(metas):
            for group in range(meta.num_row_groups):
                rows = meta.row_group(group).num_rows
                self.group_rows.append((index, group, start, rows))
                start += rows
        self.num_rows = start

    def check_columns(self, columns: Sequence[str]) -> None:
        missing = [c for c in columns if c not in self.schema.names]
        if missing:
            raise MissingColumnError(f"Input {self.path!r} has no column {missing[0]!r}; its columns: "
                                     f"{', '.join(self.schema.names)}. Use --column / --id-column.")

    def read(self, start: int, stop: int, columns: Sequence[str]) -> pa.Table:
        """Rows ``[start, stop)`` (input order) of ``columns``."""
        if self.kind == "lance":
            import lance

            return lance.dataset(self.path).to_table(columns=list(columns), offset=start, limit=stop - start)
        import pyarrow.parquet as pq

        parts = []
        for index, group, first, rows in self.group_rows:
            if first + rows <= start or first >= stop:
                continue
            table = pq.ParquetFile(self.files[index]).read_row_group(group, columns=list(columns))
            lo, hi = max(start, first) - first, min(stop, first + rows) - first
            parts.append(table.slice(lo, hi - lo))
        return pa.concat_tables(parts) if parts else self.schema.empty_table().select(list(columns))


def plan_fragments(num_rows: int, fragment_rows: int) -> list[tuple[int, int, int]]:
    """``[(fragment id, start, stop)]`` covering ``num_rows`` rows in order."""
    if fragment_rows < 1:
        raise ConfigError(f"fragment_rows must be >= 1, got {fragment_rows}.")
    return [(f, s, min(s + fragment_rows, num_rows)) for f, s in enumerate(range(0, num_rows, fragment_rows))]


# ---- the actor ---------------------------------------------------------------------------------------------------


def output_schema(dim: int, metadata: dict[str, str]) -> pa.Schema:
    """``id`` string, ``vector`` float32 ``[dim]``, ``fragment`` int32, with ``latent.*`` metadata."""
    from latent_core.batch.store import ID_COLUMN, VECTOR_COLUMN, vector_type

    fields = [pa.field(ID_COLUMN, pa.string()), pa.field(VECTOR_COLUMN, vector_type(dim)),
              pa.field(FRAGMENT_COLUMN, pa.int32())]
    return pa.schema(fields, metadata={f"{META_PREFIX}{k}": str(v) for k, v in metadata.items()})


class FragmentEncoder:
    """Ray Data callable class: one encoder per actor; each call encodes whole fragments and writes them (uncommitted).

    Input batch: ``{"fragment", "start", "stop"}`` arrays. Output: ``{"fragment", "rows", "files"}`` where ``files`` is
    the JSON of the written Lance fragments' metadata, for the driver to commit.
    """

    def __init__(self, spec: str, source: InputSource, column: str, id_column: str, out_path: str, dim: int,
                 batch_size: int, device: str, threads: int | None = None, fail_fragments: Sequence[int] = (),
                 trace_dir: str | None = None) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        from latent_core.encoders import get_encoder

        self.encoder = get_encoder(spec, device=device)
        self.source, self.column, self.id_column = source, column, id_column
        self.out_path, self.schema, self.batch_size = out_path, output_schema(dim, {}), batch_size
        self.fail_fragments, self.trace_dir = set(int(f) for f in fail_fragments), trace_dir

    def _items(self, values: list) -> list:
        if self.encoder.modality != "image":
            return ["" if v is None else str(v) for v in values]
        from PIL import Image

        return [Image.open(v).convert("RGB") for v in values]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from lance.fragment import write_fragments

        from latent_core.batch.store import ID_COLUMN, VECTOR_COLUMN, vector_array

        out = {"fragment": [], "rows": [], "files": []}
        for fid, start, stop in zip(batch["fragment"], batch["start"], batch["stop"], strict=True):
            fid, start, stop = int(fid), int(start), int(stop)
            if fid in self.fail_fragments:  # fault injection for the resume tests
                raise RuntimeError(f"injected failure in fragment {fid}")
            rows = self.source.read(start, stop, [self.id_column, self.column])
            vectors = self.encoder.encode(self._items(rows.column(self.column).to_pylist()),
                                          batch_size=self.batch_size).cpu().numpy()
            table = pa.table({ID_COLUMN: pa.array([str(i) for i in rows.column(self.id_column).to_pylist()]),
                              VECTOR_COLUMN: vector_array(vectors),
                              FRAGMENT_COLUMN: pa.array(np.full(len(vectors), fid, np.int32))}, schema=self.schema)
            written = write_fragments(table, self.out_path, schema=self.schema, max_rows_per_file=len(table) + 1)
            if self.trace_dir:  # one marker file per fragment encoded (tests count recomputation)
                Path(self.trace_dir, f"{fid}-{uuid.uuid4().hex}").touch()
            out["fragment"].append(fid)
            out["rows"].append(len(table))
            out["files"].append(json.dumps([f.to_json() for f in written]))
        return {k: np.asarray(v) for k, v in out.items()}


# ---- the driver --------------------------------------------------------------------------------------------------


@dataclass
class EncodeResult:
    """What one :func:`encode` run did. ``encoded``: fragment ids encoded now; ``skipped``: already complete."""

    path: str
    rows: int
    fragments: int
    encoded: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return len(self.encoded) + len(self.skipped) == self.fragments


def completed_fragments(path: str) -> set[int]:
    """Fragment ids present in the output table at ``path`` (each was committed whole)."""
    import lance
    import pyarrow.compute as pc

    column = lance.dataset(path).to_table(columns=[FRAGMENT_COLUMN]).column(FRAGMENT_COLUMN)
    return set(pc.unique(column).to_pylist())


def _open_or_create(path: str, schema: pa.Schema) -> None:
    import lance

    if not Path(path).exists():
        lance.write_dataset(schema.empty_table(), path, schema=schema, mode="create")
        return
    found = lance.dataset(path).schema
    want = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
    have = {k.decode(): v.decode() for k, v in (found.metadata or {}).items() if k.decode().startswith(META_PREFIX)}
    differ = sorted(k for k in want if have.get(k) != want[k])
    if differ or found.names != schema.names:
        detail = "; ".join(f"{k[len(META_PREFIX):]}: table has {have.get(k)!r}, this run {want[k]!r}" for k in differ)
        raise ConfigError(f"Table {path!r} exists but was written with other settings ({detail or 'other columns'}). "
                          "Resume with the same input, encoder and fragment_rows, or pick another --table.")


def encode(
    input_path: str | Path,
    uri: str | Path,
    table: str,
    encoder: str,
    *,
    column: str = "text",
    id_column: str = "id",
    fragment_rows: int = DEFAULT_FRAGMENT_ROWS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
    cpus_per_actor: int = 1,
    num_gpus: float | None = None,
    address: str | None = None,
    max_fragments: int | None = None,
    progress: bool = True,
    fail_fragments: Sequence[int] = (),
    trace_dir: str | None = None,
) -> EncodeResult:
    """Encode ``input_path`` into the LanceDB table ``table`` of database folder ``uri``, resuming a previous run.

    Args:
        input_path: Parquet file, folder of Parquet files, or Lance dataset folder with ``column`` and ``id_column``.
        encoder: a ``latent_core`` encoder spec (``st:sentence-transformers/all-MiniLM-L6-v2``, ``effnet:lite0``...).
        column: the texts, or the image paths for an image encoder.
        fragment_rows: rows per fragment (the unit of work and of resumption; fixed for the life of a table).
        batch_size: items per encoder forward pass inside an actor.
        concurrency: encoder actors (each loads the model once).
        cpus_per_actor: CPUs reserved per actor on a CPU cluster (also its torch threads).
        num_gpus: GPUs per actor; default 1 when the cluster has GPUs, else 0 (CPU actors).
        address: a Ray cluster address (``ray://...`` or ``auto``); default: an already initialised Ray, or a local one.
        max_fragments: stop after encoding this many fragments (the rest are left for the next run).
        fail_fragments, trace_dir: testing aids (raise inside the actor on those fragments; a marker file per
            encoded fragment).

    Raises:
        DatasetFormatError / MissingColumnError: unreadable input or missing columns. EmptyDatasetError: no rows.
        ConfigError: bad options, or the table exists with other settings. UnknownEncoderError /
        EncoderUnavailableError: the encoder spec. Anything an actor raises propagates (committed fragments stay).
    """
    import lance
    from lance import LanceOperation
    from lance.fragment import FragmentMetadata

    from latent_core.batch.session import cluster_gpus, ray_session
    from latent_core.batch.store import table_path
    from latent_core.encoders import get_encoder

    began = time.perf_counter()
    limits = (("batch_size", batch_size), ("concurrency", concurrency), ("cpus_per_actor", cpus_per_actor),
              ("max_fragments", 1 if max_fragments is None else max_fragments))
    for name, value in limits:
        if int(value) < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}.")
    source = InputSource(input_path)
    source.check_columns([column, id_column])
    if source.num_rows == 0:
        raise EmptyDatasetError(f"Input {source.path!r} has no rows.")
    model = get_encoder(encoder, device="cpu")  # builds lazily: the fingerprint hashes files, no weights load
    metadata = {"encoder": model.spec, "encoder_fingerprint": model.fingerprint, "dim": model.dim,
                "input": str(Path(source.path).resolve()), "input_rows": source.num_rows,
                "fragment_rows": fragment_rows, "column": column}
    path = table_path(uri, table)
    Path(uri).mkdir(parents=True, exist_ok=True)
    plan = plan_fragments(source.num_rows, fragment_rows)
    _open_or_create(path, output_schema(model.dim, metadata))
    done = completed_fragments(path)
    pending = [p for p in plan if p[0] not in done]
    if max_fragments is not None:
        pending = pending[: int(max_fragments)]
    result = EncodeResult(path, source.num_rows, len(plan), skipped=sorted(done))
    if not pending:
        result.seconds = time.perf_counter() - began
        return result

    with ray_session(address) as ray:
        gpus = num_gpus if num_gpus is not None else (1 if cluster_gpus() > 0 else 0)
        resources = {"num_gpus": gpus} if gpus else {"num_cpus": cpus_per_actor}
        items = [{"fragment": f, "start": s, "stop": e} for f, s, e in pending]
        data = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            FragmentEncoder, batch_size=1, compute=ray.data.ActorPoolStrategy(size=min(concurrency, len(items))),
            fn_constructor_kwargs={"spec": encoder, "source": source, "column": column, "id_column": id_column,
                                   "out_path": path, "dim": model.dim, "batch_size": batch_size,
                                   "device": "cuda" if gpus else "cpu", "threads": None if gpus else cpus_per_actor,
                                   "fail_fragments": list(fail_fragments), "trace_dir": trace_dir},
            **resources)
        bar = _progress(len(plan), len(done), progress)
        for row in data.iter_rows():
            fragments = [FragmentMetadata.from_json(json.dumps(f)) for f in json.loads(row["files"])]
            version = lance.dataset(path).version
            lance.LanceDataset.commit(path, LanceOperation.Append(fragments), read_version=version)
            result.encoded.append(int(row["fragment"]))
            bar.update(1)
        bar.close()
    result.encoded.sort()
    result.seconds = time.perf_counter() - began
    return result


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, initial: int, enabled: bool):
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm ships with the model libraries
        return _NoBar()
    return tqdm(total=total, initial=initial, unit="fragment", desc="encode")


# ---- CLI -------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    result = encode(args.input, args.uri, args.table, args.encoder, column=args.column, id_column=args.id_column,
                    fragment_rows=args.fragment_rows, batch_size=args.batch_size, concurrency=args.concurrency,
                    cpus_per_actor=args.cpus_per_actor, num_gpus=args.num_gpus, address=args.address,
                    max_fragments=args.max_fragments, progress=not args.no_progress, trace_dir=args.trace_dir)
    state = "complete" if result.complete else f"{result.fragments - len(result.skipped) - len(result.encoded)} " \
                                               "fragments left (run again to resume)"
    print(f"{result.path}: encoded {len(result.encoded)} fragments, {len(result.skipped)} already done, "
          f"{result.fragments} in all ({result.rows} rows); {state}; {result.seconds:.1f} s")
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``encode`` subcommand (``set_defaults(run=run)``)."""
    parser = subparsers.add_parser("encode", help="texts or image paths -> a Lance table of embeddings (resumable)",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="Parquet file, folder of Parquet files, or Lance dataset folder")
    parser.add_argument("--uri", required=True, help="LanceDB database folder for the output table")
    parser.add_argument("--table", required=True, help="output table name (resumed when it exists)")
    parser.add_argument("--encoder", required=True, help="encoder spec, e.g. st:sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--column", default="text", help="column of texts or image paths (default: text)")
    parser.add_argument("--id-column", default="id")
    parser.add_argument("--fragment-rows", type=positive_int, default=DEFAULT_FRAGMENT_ROWS,
                        help=f"rows per fragment, the unit of resumption (default {DEFAULT_FRAGMENT_ROWS})")
    parser.add_argument("--cpus-per-actor", type=positive_int, default=1,
                        help="CPUs (and torch threads) per CPU actor (default 1)")
    parser.add_argument("--max-fragments", type=positive_int, default=None, help="stop after this many fragments")
    parser.add_argument("--trace-dir", default=None, help=argparse.SUPPRESS)  # testing aid: a marker per fragment
    # each actor holds one model: one actor unless asked for more
    add_ray_options(parser, DEFAULT_BATCH_SIZE, concurrency=DEFAULT_CONCURRENCY,
                    batch_help="items per forward pass inside an actor")
    parser.set_defaults(run=run)
    return parser
