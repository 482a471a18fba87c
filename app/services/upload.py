"""Services of the Upload page: read an uploaded file's header, check an uploaded dataset or embeddings against
the current scenario, say whether an encoder reads a modality, and open a sample of a batch output.

A batch output is a LanceDB table written by ``python -m latent_core.batch`` in the folder the operator named
(``LATENT_LANCE_DB``, :func:`app.safety.batch_folder`). A sample of one or two tables (A and B, matched by ``id``)
goes to the explorer by the uploads' route: a Parquet table of texts and labels and one ``.npy`` of vectors per side,
kept as this session's uploads (:mod:`app.uploads`), so the explorer opens ``upload:<id>`` specs as for any upload.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from app import safety, uploads
from app.safety import UPLOAD_PREFIX
from app.services import spaces
from app.state import Settings
from latent_core.config import DEFAULT_SCENARIO
from latent_core.data import Dataset
from latent_core.encoders import list_encoders
from latent_core.errors import DatasetFormatError, LatentCoreError

LOG = logging.getLogger("latent_space_explorer")

DEFAULT_ENCODERS = {"text": (DEFAULT_SCENARIO.encoder_a, DEFAULT_SCENARIO.encoder_b),
                    "image": ("effnet:lite0", "effnet:lite2")}
"""The encoders an uploaded dataset opens with when the current ones read another modality."""


def table_columns(content: bytes, suffix: str) -> list[str]:
    """The column names of an uploaded CSV or Parquet table (``suffix``: ``.csv`` or ``.parquet``).

    Raises:
        DatasetFormatError: the header cannot be read.
    """
    try:
        if suffix == ".parquet":
            return [str(c) for c in pd.read_parquet(io.BytesIO(content)).columns]
        return [str(c).strip() for c in pd.read_csv(io.BytesIO(content), nrows=0, dtype=str).columns]
    except Exception as exc:  # noqa: BLE001 - pandas and pyarrow raise many types for bad files
        raise DatasetFormatError(f"Could not read the header of the file ({type(exc).__name__}: "
                                 f"{str(exc).strip()[:160]}). Save it as UTF-8 CSV with a header row, or as "
                                 "Parquet.") from exc


def check_dataset(spec: str) -> Dataset:
    """Load a dataset spec now (so a bad upload fails here, with its message, not on another page)."""
    return spaces.dataset(spec, None, 0)


def check_embeddings(encoder_spec: str, settings: Settings) -> np.ndarray:
    """Read uploaded embeddings against the current dataset: rows must align with its samples."""
    return spaces.embeddings(encoder_spec, settings.scenario)


def encoder_reads(spec: str, modality: str) -> bool:
    """Whether the encoder spec embeds this modality (without loading it)."""
    infos = {info.spec: info.modality for info in list_encoders()}
    if spec in infos:
        return infos[spec] == modality
    if spec.startswith(UPLOAD_PREFIX):
        return False  # uploaded vectors belong to one dataset
    try:
        return spaces.encoder(spec).modality == modality
    except LatentCoreError:
        return False


# ---- a sample of a batch output (LanceDB tables in the operator's folder) --------------------------------------

LABEL_COLUMN, TEXT_COLUMN = "label", "text"
NO_LABEL = "all"  # the one class of a sample without a label column
TEXT_CHARS = 500  # characters of a row's text kept for the explorer's hover (the sample's table stays small)
PICK_TABLE = "Pick a table from the list (the batch outputs in this server's folder)."


class BatchOutputError(DatasetFormatError):
    """A batch output cannot be opened as asked; ``next_step`` says what to do instead."""

    def __init__(self, message: str, next_step: str = PICK_TABLE):
        super().__init__(message)
        self.next_step = next_step


@dataclass(frozen=True)
class BatchSample:
    """A sample ready for the explorer: the specs to put in the sidebar and what to tell the visitor."""

    dataset: str
    encoder_a: str
    encoder_b: str
    sampled: int  # rows drawn from A
    matched: int  # of those, ids also in B (the sample's size)
    rows_a: int
    rows_b: int
    dims: tuple[int, int]
    classes: int
    label_source: str  # the table whose label column colours the points ("" when none)


def batch_tables() -> list[str] | None:
    """The tables of the operator's batch folder (sorted, at most ``max_batch_tables``), or None when the server has
    no batch folder. Only names that LanceDB could have written are listed.

    Raises:
        BatchOutputError: the folder cannot be read.
    """
    folder = safety.batch_folder()
    if folder is None:
        return None
    try:
        with os.scandir(folder) as entries:
            names = sorted(entry.name[:-len(".lance")] for entry in entries
                           if entry.name.endswith(".lance") and entry.is_dir()
                           and safety.TABLE_NAME.fullmatch(entry.name[:-len(".lance")]))
    except OSError as exc:
        LOG.warning("cannot list the batch folder %s: %s", folder, exc)
        raise BatchOutputError("This server's batch folder cannot be read (it is missing or not readable).",
                               "Ask the operator to check the folder given to --lance-db (LATENT_LANCE_DB).") from None
    return names[:safety.limits().max_batch_tables]


def _open(name: str):
    """The table ``name``, which must be listed now (a name never becomes a path otherwise)."""
    from latent_core.batch import store

    safety.admit_table(name, batch_tables() or ())
    try:
        return store.open_table(safety.batch_folder(), name)
    except Exception as exc:  # noqa: BLE001 - lance raises many types for a damaged table; their text names paths
        raise _unreadable(name, exc) from None


def _unreadable(name: str, exc: Exception) -> BatchOutputError:
    LOG.warning("batch table %s could not be read", name, exc_info=exc)
    return BatchOutputError(f"Table {name} could not be read ({type(exc).__name__}): it was removed since the list "
                            "was read, is still being written, or is damaged.",
                            "Pick another table, or write it again with python -m latent_core.batch.")


def vector_columns(name: str) -> dict[str, int]:
    """The vector columns of table ``name`` (fixed-size lists of floats) and their dimensions.

    Raises:
        RefusedSpec: not a listed table. BatchOutputError: unreadable, or no vector column.
    """
    from latent_core.batch import store

    table = _open(name)
    try:
        schema = table.schema
    except Exception as exc:  # noqa: BLE001
        raise _unreadable(name, exc) from None
    columns = {column: store.column_dim(schema, column) for column in store.vector_columns(schema)}
    if not columns:
        raise BatchOutputError(f"Table {name} has no vector column (a fixed-size list of floats); its columns: "
                               f"{', '.join(schema.names)[:300]}.",
                               "Pick another table: batch outputs hold a 'vector' column (or 'relative').")
    return columns


def sample_cap(*dims: int) -> int:
    """The most rows a sample may have: ``max_batch_rows``, fewer where one side's vectors would not fit in an
    upload (``max_upload_mb``)."""
    caps = safety.limits()
    fits = ((caps.max_upload_mb << 20) - 4096) // (4 * max(1, *dims))
    return int(max(1, min(caps.max_batch_rows, fits)))


def _version(table) -> int:
    try:
        return int(table.version)
    except Exception:  # noqa: BLE001
        return -1


def open_batch_sample(table_a: str, column_a: str, table_b: str, column_b: str, n: int, seed: int) -> BatchSample:
    """Draw at most ``n`` rows of ``table_a`` evenly (seeded), keep those whose id is in ``table_b``, and keep them as
    this session's uploads for the explorer (a Parquet of texts and labels, one ``.npy`` of vectors per side).

    Raises:
        RefusedSpec: a table that is not listed. BatchOutputError: unreadable tables, no such vector column, more rows
        than the cap, no shared ids, missing or non-finite vectors.
    """
    dims = (vector_columns(table_a).get(column_a), vector_columns(table_b).get(column_b))
    for name, column, dim in ((table_a, column_a, dims[0]), (table_b, column_b, dims[1])):
        if dim is None:
            raise BatchOutputError(f"Table {name} has no vector column {column}.", "Pick one of its vector columns.")
    cap = sample_cap(*dims)
    if not 1 <= int(n) <= cap:
        raise BatchOutputError(f"A sample may have 1 to {cap:,} rows, not {n}.", f"Ask for at most {cap:,} rows.")
    versions = (_version(_open(table_a)), _version(_open(table_b)))
    table, vectors_a, vectors_b, counts = _read_sample(safety.batch_folder(), table_a, column_a, table_b, column_b,
                                                       int(n), int(seed), versions)
    dataset_name = f"{table_a}.sample.parquet" if table_a == table_b else f"{table_a}+{table_b}.sample.parquet"
    dataset = uploads.spec(uploads.store(dataset_name, table, allowed=(".parquet",)), text=TEXT_COLUMN,
                           label=LABEL_COLUMN)
    encoder_a = uploads.spec(uploads.store(f"{table_a}.{column_a}.npy", vectors_a, allowed=(".npy",)))
    encoder_b = uploads.spec(uploads.store(f"{table_b}.{column_b}.npy", vectors_b, allowed=(".npy",)))
    return BatchSample(dataset, encoder_a, encoder_b, dims=(int(dims[0]), int(dims[1])), **counts)


@st.cache_data(show_spinner=False, max_entries=8)
def _read_sample(folder: str, table_a: str, column_a: str, table_b: str, column_b: str, n: int, seed: int,
                 versions: tuple[int, int]) -> tuple[bytes, bytes, bytes, dict]:
    """The sample's files (Parquet of texts and labels, A's and B's ``.npy``) and counts; cached on the tables'
    versions, so a table written again is sampled again."""
    from latent_core.batch import store

    a, b = _open(table_a), _open(table_b)
    label_source = next((name for name, t in ((table_a, a), (table_b, b)) if _label_like(t.schema)), "")
    has_text = _text_like(a.schema)
    try:
        columns_a = [store.ID_COLUMN, column_a]
        if table_b == table_a and column_b != column_a:
            columns_a.append(column_b)
        if label_source == table_a:
            columns_a.append(LABEL_COLUMN)
        if has_text:
            columns_a.append(TEXT_COLUMN)
        sample = store.sample_rows(a, n, seed, columns_a)
        ids = list(dict.fromkeys(str(i) for i in sample.column(store.ID_COLUMN).to_pylist()))
        first = {key: row for row, key in reversed(list(enumerate(sample.column(store.ID_COLUMN).to_pylist())))}
        if table_b == table_a:
            other, other_rows = sample, first
        else:
            other = store.rows_with_ids(b, ids, [store.ID_COLUMN, column_b,
                                                 *([LABEL_COLUMN] if label_source == table_b else [])])
            other_rows = {str(key): row for row, key in enumerate(other.column(store.ID_COLUMN).to_pylist())}
    except LatentCoreError as exc:
        raise BatchOutputError(str(exc), "Pick other tables, or write them again with python -m latent_core.batch."
                               ) from None
    except Exception as exc:  # noqa: BLE001
        raise _unreadable(f"{table_a} or {table_b}", exc) from None
    shared = [key for key in ids if key in other_rows]
    if not shared:
        raise BatchOutputError(f"None of the {len(ids):,} ids sampled from {table_a} are in {table_b}: the two "
                               "tables do not hold the same rows.",
                               "Pick two tables of the same corpus (e.g. bodies_old and bodies_moved): their rows are "
                               "matched by id.")
    rows_a = np.array([first[key] for key in shared], dtype=np.int64)
    rows_b = np.array([other_rows[key] for key in shared], dtype=np.int64)
    vectors_a = _vectors(sample.take(rows_a), column_a, table_a)
    vectors_b = _vectors(other.take(rows_b), column_b, table_b)
    if label_source:
        source, rows = (sample, rows_a) if label_source == table_a else (other, rows_b)
        raw = source.column(LABEL_COLUMN).take(rows).to_pylist()
        labels = ["(none)" if value is None or not str(value).strip() else str(value) for value in raw]
    else:
        labels = [NO_LABEL] * len(shared)
    texts = sample.column(TEXT_COLUMN).take(rows_a).to_pylist() if has_text else [None] * len(shared)
    texts = [str(text)[:TEXT_CHARS] if text is not None and str(text).strip()
             else (key if key.strip() else f"row {row}") for text, key, row in zip(texts, shared, rows_a)]
    frame = pd.DataFrame({TEXT_COLUMN: texts, LABEL_COLUMN: labels})
    counts = {"sampled": len(ids), "matched": len(shared), "rows_a": store.count_rows(a),
              "rows_b": store.count_rows(b), "classes": len(set(labels)), "label_source": label_source}
    return frame.to_parquet(index=False), _npy(vectors_a), _npy(vectors_b), counts


def _label_like(schema) -> bool:
    import pyarrow as pa

    return LABEL_COLUMN in schema.names and (pa.types.is_string(schema.field(LABEL_COLUMN).type)
                                             or pa.types.is_large_string(schema.field(LABEL_COLUMN).type)
                                             or pa.types.is_integer(schema.field(LABEL_COLUMN).type))


def _text_like(schema) -> bool:
    import pyarrow as pa

    return TEXT_COLUMN in schema.names and (pa.types.is_string(schema.field(TEXT_COLUMN).type)
                                            or pa.types.is_large_string(schema.field(TEXT_COLUMN).type))


def _vectors(rows, column: str, name: str) -> np.ndarray:
    from latent_core.batch import store

    try:
        matrix = store.vectors_of(rows, column)
    except LatentCoreError as exc:
        raise BatchOutputError(f"Table {name}: {exc}", "Pick another vector column or table.") from None
    bad = int((~np.isfinite(matrix).all(axis=1)).sum())
    if bad:
        raise BatchOutputError(f"{bad} sampled vectors of column {column} of table {name} hold NaN or infinite "
                               "values.", "Pick another vector column or table, or write it again.")
    return matrix


def _npy(matrix: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, np.ascontiguousarray(matrix, dtype=np.float32), allow_pickle=False)
    return out.getvalue()
