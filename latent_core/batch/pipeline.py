"""Stream a Lance table of vectors through a saved translator or anchor set on Ray Data.

    row ranges of <src_uri>/<src_table>.lance (at most ROWS_PER_FILE rows each, a pinned table version)
      -> map_batches(RangeMap, actors): each actor loads the model once, then per range streams
         read batch_size rows -> VectorMap -> lance write_fragments (one data file, uncommitted)
      -> the driver commits every range's data file in one Lance transaction (LanceSink.commit), in row order
      -> the LanceDB vector index (store.build_index)

Each range is read, mapped and written inside one actor: no vector block crosses Ray's object store (only the
ranges go in and the written files' metadata comes back), and no core is held back for separate read and write
tasks. Where the time goes (benchmarks/batch_speed.py, 2 shared cores; README "Throughput"): per 125k-row range
of 384 -> 768 rows in one process, about 0.15 s reading, 0.5 s in the float32 product and 0.34 s in Lance's write,
the rest in Arrow batches and fresh memory; once per call, the actors' start-up (import torch, load and check the
model: about 3.3 s). The disk is not the limit: tables in RAM (``/dev/shm``) give the same throughput.

:func:`translate_table`: old-model vectors ``[N, Ds]`` -> a saved translator (:mod:`.translator_io`) -> ``[N, Dt]``.
:func:`project_table`: vectors ``[N, D]`` -> relative representations ``[N, K]`` (``[N, 4K]`` for ``product``)
against saved anchors (:mod:`.anchors_io`).

The output table keeps ``id`` and every other column of the source, with ``column`` replaced by ``out_column``.
Actors run on CPU, or take ``num_gpus`` each when the cluster has GPUs (default: one GPU per actor there).
Memory per actor: about ``batch_size * (D_in + D_out) * 4`` bytes of vectors plus one chunk of the model's
intermediates (see ``latent_core.translate``) plus the Lance writer's buffers. A failed run commits nothing: the
destination keeps its previous version (uncommitted data files are invisible and reclaimed by Lance's cleanup).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from latent_core.batch import store
from latent_core.batch.session import cluster_cpus, cluster_gpus
from latent_core.errors import InvalidParameterError, ShapeMismatchError

DEFAULT_BATCH_SIZE = 4096
ROWS_PER_FILE = 131_072  # rows per Lance data file written (bounds what one write task buffers)


class VectorMap:
    """Ray Data callable class: ``pyarrow.Table`` batch -> the batch with ``column`` mapped into ``out_column``.

    ``kind``: ``"translator"`` (a :mod:`.translator_io` directory) or ``"anchors"`` (an :mod:`.anchors_io`
    directory). Loaded once, in the actor's constructor, onto CUDA when the actor holds a GPU.
    """

    def __init__(self, kind: str, directory: str, column: str, out_column: str) -> None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        if kind == "translator":
            from latent_core.batch.translator_io import load_translator

            self.model, _ = load_translator(directory, device=device)
        else:
            from latent_core.batch.anchors_io import load_projection

            self.model, _ = load_projection(directory)
            if device != "cpu":
                self.model.fit(self.model.anchors_.to(device))
        self.device = device
        self.column, self.out_column = column, out_column

    def __call__(self, batch: pa.Table) -> pa.Table:
        import torch

        x = torch.from_numpy(store.vectors_of(batch, self.column))
        if self.device != "cpu":
            x = x.to(self.device)
        out = self.model.transform(x).cpu().numpy()
        rest = batch.drop_columns([self.column])
        return rest.append_column(self.out_column, store.vector_array(out))


def _source_dim(src_uri: str | Path, src_table: str, column: str) -> tuple[int, int]:
    """``(rows, D)`` of the source column; MissingTableError / MissingColumnError otherwise."""
    table = store.open_table(src_uri, src_table)
    return store.count_rows(table), store.column_dim(table.schema, column, f"table {src_table!r}")


def _check_destination(src_uri, src_table, dst_uri, dst_table) -> None:
    if Path(store.table_path(src_uri, src_table)).resolve() == Path(store.table_path(dst_uri, dst_table)).resolve():
        raise InvalidParameterError("The destination table is the source table; write to another table.")


def check_translate(src_uri, src_table: str, translator_dir, dst_uri, dst_table: str, *,
                    column: str = store.VECTOR_COLUMN) -> tuple[dict[str, Any], int]:
    """Everything :func:`translate_table` checks before starting work (no Ray needed): ``(translator meta, rows)``.

    Raises:
        TranslatorFormatError, MissingTableError, MissingColumnError, ShapeMismatchError, InvalidParameterError.
    """
    from latent_core.batch.translator_io import read_meta

    meta = read_meta(translator_dir)
    rows, dim = _source_dim(src_uri, src_table, column)
    if dim != meta["source_dim"]:
        raise ShapeMismatchError(f"Column {column!r} of {src_table!r} holds [{dim}] vectors; the translator maps "
                                 f"[{meta['source_dim']}] -> [{meta['target_dim']}].")
    _check_destination(src_uri, src_table, dst_uri, dst_table)
    return meta, rows


def check_project(src_uri, src_table: str, anchors_dir, dst_uri, dst_table: str, *,
                  column: str = store.VECTOR_COLUMN) -> tuple[dict[str, Any], int]:
    """Everything :func:`project_table` checks before starting work: ``(anchors meta, rows)``."""
    from latent_core.batch.anchors_io import read_anchor_meta

    meta = read_anchor_meta(anchors_dir)
    rows, dim = _source_dim(src_uri, src_table, column)
    if dim != meta.get("dim"):
        raise ShapeMismatchError(f"Column {column!r} of {src_table!r} holds [{dim}] vectors; the anchors are "
                                 f"[{meta.get('dim')}].")
    _check_destination(src_uri, src_table, dst_uri, dst_table)
    return meta, rows


class RangeMap:
    """Ray Data callable class: rows ``{"unit", "start", "stop"}`` (row ranges of the source) -> ``{"unit", "rows",
    "files"}``: each range read, mapped by :class:`VectorMap` and written as uncommitted Lance data files, whose
    metadata (JSON) comes back for the driver to commit."""

    def __init__(self, kind: str, directory: str, column: str, out_column: str, src_path: str, version: int,
                 dst_path: str, schema: bytes, batch_size: int) -> None:
        import lance

        self.map = VectorMap(kind, directory, column, out_column)
        self.source = lance.dataset(src_path, version=version)
        self.dst_path, self.batch_size = dst_path, batch_size
        self.schema = pa.ipc.read_schema(pa.py_buffer(schema))

    def _mapped(self, start: int, stop: int):
        # bounded read-ahead: Lance's default buffers ~300 MB per 131k-row range of 384-d rows; this, ~70 MB, as fast
        batches = self.source.to_batches(offset=start, limit=stop - start, batch_size=self.batch_size,
                                         batch_readahead=2, fragment_readahead=1)
        for batch in batches:
            table = self.map(pa.Table.from_batches([batch]))
            columns = [table.column(name).combine_chunks() for name in self.schema.names]
            yield pa.RecordBatch.from_arrays([c.cast(f.type) if c.type != f.type else c
                                              for c, f in zip(columns, self.schema, strict=True)], schema=self.schema)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import json

        from lance.fragment import write_fragments

        out = {"unit": [], "rows": [], "files": []}
        for unit, start, stop in zip(batch["unit"], batch["start"], batch["stop"], strict=True):
            reader = pa.RecordBatchReader.from_batches(self.schema, self._mapped(int(start), int(stop)))
            written = write_fragments(reader, self.dst_path, schema=self.schema, max_rows_per_file=ROWS_PER_FILE)
            out["unit"].append(int(unit))
            out["rows"].append(int(stop) - int(start))
            out["files"].append(json.dumps([json.dumps(f.to_json()) for f in written]))
        return {key: np.asarray(value) for key, value in out.items()}


def plan_ranges(rows: int, actors: int, batch_size: int) -> list[tuple[int, int, int]]:
    """``[(unit, start, stop)]`` covering ``rows`` in order: about two ranges per actor, each between
    ``batch_size`` (at least 1,024) and :data:`ROWS_PER_FILE` rows."""
    size = -(-rows // max(1, 2 * actors))
    size = min(ROWS_PER_FILE, max(size, batch_size, 1024))
    return [(u, s, min(s + size, rows)) for u, s in enumerate(range(0, rows, size))]


def _output_schema(source: pa.Schema, column: str, out_column: str, out_dim: int) -> pa.Schema:
    """The source's fields without ``column``, then ``out_column`` (float32 ``[out_dim]``): VectorMap's output."""
    fields = [f for f in source if f.name != column and f.name != out_column]
    return pa.schema([*fields, pa.field(out_column, store.vector_type(out_dim))], metadata=source.metadata)


def stream_map(kind: str, directory: str | Path, src_uri: str | Path, src_table: str, dst_uri: str | Path,
               dst_table: str, *, column: str, out_column: str, batch_size: int = DEFAULT_BATCH_SIZE,
               num_gpus: float | None = None, concurrency: int | None = None, mode: str = "overwrite",
               out_dim: int | None = None) -> int:
    """Map every row range of the source through :class:`RangeMap` actors in the running Ray, then commit the
    written files in one transaction (``mode``: create | overwrite | append); returns the rows of the destination.

    ``out_dim``: the output vector's D (read from the model's metadata when None)."""
    import json

    import lance
    import ray
    from ray.data import ActorPoolStrategy

    from latent_core.batch.lance_sink import LanceSink

    if not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidParameterError(f"batch_size must be a positive integer, got {batch_size!r}.")
    gpus = cluster_gpus()
    per_actor = (1.0 if gpus else 0.0) if num_gpus is None else float(num_gpus)
    # the actors do the reading and writing themselves: one CPU actor per core
    actors = concurrency or (max(1, int(gpus // per_actor)) if per_actor else cluster_cpus())
    source = lance.dataset(store.table_path(src_uri, src_table))
    if out_dim is None:
        out_dim = _out_dim(kind, directory)
    schema = _output_schema(source.schema, column, out_column, out_dim)
    Path(dst_uri).mkdir(parents=True, exist_ok=True)
    dst_path = store.table_path(dst_uri, dst_table)
    sink = LanceSink(dst_path, mode=mode)
    sink.on_write_start()
    if sink.mode == "append" and sink.schema is not None:
        schema = sink.schema
    units = plan_ranges(source.count_rows(), actors, batch_size)
    files: dict[int, list[str]] = {}
    if units:
        items = [{"unit": u, "start": s, "stop": e} for u, s, e in units]
        args = (kind, str(directory), column, out_column, source.uri, source.version, dst_path,
                schema.serialize().to_pybytes(), batch_size)
        mapped = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            RangeMap, fn_constructor_args=args, batch_size=1, compute=ActorPoolStrategy(size=min(actors, len(items))),
            **({"num_gpus": per_actor} if per_actor else {"num_cpus": 1}),
        )
        for row in mapped.iter_rows():
            files[int(row["unit"])] = json.loads(row["files"])
    sink.commit([fragment for unit in sorted(files) for fragment in files[unit]], schema)
    return store.count_rows(store.open_table(dst_uri, dst_table))


def _out_dim(kind: str, directory: str | Path) -> int:
    if kind == "translator":
        from latent_core.batch.translator_io import read_meta

        return int(read_meta(directory)["target_dim"])
    from latent_core.batch.anchors_io import output_dim, read_anchor_meta

    return int(output_dim(read_anchor_meta(directory)))


def translate_table(src_uri: str | Path, src_table: str, translator_dir: str | Path, dst_uri: str | Path,
                    dst_table: str, *, batch_size: int = DEFAULT_BATCH_SIZE, column: str = store.VECTOR_COLUMN,
                    out_column: str = store.VECTOR_COLUMN, num_gpus: float | None = None,
                    concurrency: int | None = None, index: bool = True, metric: str = "l2",
                    index_type: str = "ivf_pq", mode: str = "overwrite") -> dict[str, Any]:
    """Translate every vector of ``src_table`` with the translator saved in ``translator_dir`` into ``dst_table``,
    then build or refresh its vector index (:func:`store.build_index`; ``"flat"`` for small tables).

    Needs a running Ray (:func:`latent_core.batch.session.ray_session`). Returns ``{"rows", "seconds",
    "index", "source_dim", "target_dim"}``.

    Raises:
        MissingTableError, MissingColumnError, ShapeMismatchError (the column's D is not the translator's source
        dim), TranslatorFormatError, InvalidParameterError.
    """
    meta, rows = check_translate(src_uri, src_table, translator_dir, dst_uri, dst_table, column=column)
    start = time.perf_counter()
    written = stream_map("translator", translator_dir, src_uri, src_table, dst_uri, dst_table, column=column,
                         out_column=out_column, batch_size=batch_size, num_gpus=num_gpus, concurrency=concurrency,
                         mode=mode)
    kind = store.build_index(store.open_table(dst_uri, dst_table), out_column, metric=metric,
                             index_type=index_type) if index else "none"
    return {"rows": written, "source_rows": rows, "seconds": time.perf_counter() - start, "index": kind,
            "source_dim": meta["source_dim"], "target_dim": meta["target_dim"]}


def project_table(src_uri: str | Path, src_table: str, anchors_dir: str | Path, dst_uri: str | Path, dst_table: str,
                  *, batch_size: int = DEFAULT_BATCH_SIZE, column: str = store.VECTOR_COLUMN,
                  out_column: str = "relative", num_gpus: float | None = None, concurrency: int | None = None,
                  index: bool = False, metric: str = "l2", mode: str = "overwrite") -> dict[str, Any]:
    """Relative representations of every vector of ``src_table`` against the anchors saved in ``anchors_dir``
    (:mod:`.anchors_io`), into ``dst_table`` (``out_column``: ``[K]``, or ``[4K]`` for the ``product``).

    Needs a running Ray. Returns ``{"rows", "seconds", "index", "dim", "out_dim"}``.

    Raises:
        MissingTableError, MissingColumnError, ShapeMismatchError (D differs from the anchors'),
        TranslatorFormatError (bad anchor files).
    """
    from latent_core.batch.anchors_io import output_dim

    meta, rows = check_project(src_uri, src_table, anchors_dir, dst_uri, dst_table, column=column)
    dim = meta["dim"]
    start = time.perf_counter()
    written = stream_map("anchors", anchors_dir, src_uri, src_table, dst_uri, dst_table, column=column,
                         out_column=out_column, batch_size=batch_size, num_gpus=num_gpus, concurrency=concurrency,
                         mode=mode)
    kind = store.build_index(store.open_table(dst_uri, dst_table), out_column, metric=metric) if index else "none"
    return {"rows": written, "source_rows": rows, "seconds": time.perf_counter() - start, "index": kind, "dim": dim,
            "out_dim": output_dim(meta)}


def numpy_rows(table, column: str = store.VECTOR_COLUMN) -> tuple[np.ndarray, np.ndarray]:
    """``(ids [N], vectors [N, D])`` of a whole (small) table: for tests and samples, not for corpora."""
    data = table.to_arrow()
    return np.asarray(data.column(store.ID_COLUMN).to_pylist(), dtype=object), store.vectors_of(data, column)
