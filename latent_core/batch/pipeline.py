"""Stream a Lance table of vectors through a saved translator or anchor set on Ray Data.

    ray.data.read_lance(<src_uri>/<src_table>.lance)            blocks of rows, never the whole table
      -> map_batches(VectorMap, actors)                         the model is loaded once per actor
      -> write_datasink(LanceSink(<dst_uri>/<dst_table>.lance))  then the LanceDB vector index (store.build_index)

:func:`translate_table`: old-model vectors ``[N, Ds]`` -> a saved translator (:mod:`.translator_io`) -> ``[N, Dt]``.
:func:`project_table`: vectors ``[N, D]`` -> relative representations ``[N, K]`` (``[N, 4K]`` for ``product``)
against saved anchors (:mod:`.anchors_io`).

The output table keeps ``id`` and every other column of the source, with ``column`` replaced by ``out_column``.
Actors run on CPU, or take ``num_gpus`` each when the cluster has GPUs (default: one GPU per actor there).
Memory per actor: about ``batch_size * (D_in + D_out) * 4`` bytes of vectors plus one chunk of the model's
intermediates (see ``latent_core.translate``).
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


def stream_map(kind: str, directory: str | Path, src_uri: str | Path, src_table: str, dst_uri: str | Path,
               dst_table: str, *, column: str, out_column: str, batch_size: int = DEFAULT_BATCH_SIZE,
               num_gpus: float | None = None, concurrency: int | None = None, mode: str = "overwrite") -> int:
    """Run read_lance -> map_batches(VectorMap) -> write_lance in the running Ray; returns rows written."""
    import ray
    from ray.data import ActorPoolStrategy

    from latent_core.batch.lance_sink import LanceSink

    if not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidParameterError(f"batch_size must be a positive integer, got {batch_size!r}.")
    gpus = cluster_gpus()
    per_actor = (1.0 if gpus else 0.0) if num_gpus is None else float(num_gpus)
    # CPU actors leave one core to the read and write tasks
    actors = concurrency or (max(1, int(gpus // per_actor)) if per_actor else max(1, cluster_cpus() - 1))
    dataset = ray.data.read_lance(store.table_path(src_uri, src_table))
    mapped = dataset.map_batches(
        VectorMap, fn_constructor_args=(kind, str(directory), column, out_column), batch_size=batch_size,
        batch_format="pyarrow", zero_copy_batch=True, compute=ActorPoolStrategy(min_size=1, max_size=actors),
        **({"num_gpus": per_actor} if per_actor else {"num_cpus": 1}),
    )
    Path(dst_uri).mkdir(parents=True, exist_ok=True)
    sink = LanceSink(store.table_path(dst_uri, dst_table), mode=mode,
                     min_rows_per_file=min(ROWS_PER_FILE, max(batch_size, 1024)), max_rows_per_file=ROWS_PER_FILE)
    mapped.write_datasink(sink)  # Dataset.write_lance with pylance 14: see latent_core.batch.lance_sink
    return store.count_rows(store.open_table(dst_uri, dst_table))


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
