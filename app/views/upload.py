"""Upload: your own data (CSV/Parquet of texts and labels, a zip of images), your own embeddings for A and B, or a
sample of a batch output (LanceDB tables in the operator's folder) for A and B."""

from __future__ import annotations

import warnings

import pandas as pd
import streamlit as st

from app import safety, uploads
from app.components import sidebar
from app.components.feedback import show_error
from app.components.sidebar import KEY
from app.safety import RefusedSpec, cut, md
from app.services import upload as files  # the page's service (``upload`` names the uploaded file here)
from latent_core.errors import LatentCoreError


def _use_dataset(spec: str, modality: str) -> None:
    st.session_state[KEY("dataset")] = spec
    st.session_state[KEY("n_samples")] = 0
    for field, default in zip(("encoder_a", "encoder_b"), files.DEFAULT_ENCODERS[modality]):
        current = st.session_state.get(KEY(field), "")
        if not files.encoder_reads(current, modality):
            st.session_state[KEY(field)] = default
    st.session_state[KEY("strategy")] = "random"


def _use_embeddings(field: str, spec: str) -> None:
    st.session_state[KEY(field)] = spec


def _use_sample(sample: files.BatchSample) -> None:
    st.session_state[KEY("dataset")] = sample.dataset
    st.session_state[KEY("n_samples")] = 0
    st.session_state[KEY("encoder_a")] = sample.encoder_a
    st.session_state[KEY("encoder_b")] = sample.encoder_b
    st.session_state[KEY("encoder_c")] = ""  # a third model of another dataset would not align
    st.session_state[KEY("strategy")] = "random"


def _shown(read):
    """``read()``, or None once its error is shown (a batch output's own message, or any library error's)."""
    try:
        return read()
    except files.BatchOutputError as error:
        _batch_error(error)
    except LatentCoreError as error:
        show_error(error)
    return None


def _batch_error(error: files.BatchOutputError) -> None:
    st.error(f"{md(error, 600)}\n\n**What to do:** {md(error.next_step)}", icon="⚠️")


def _table_choice(side: str, tables: list[str], default: str, column) -> str:
    """A selectbox of the listed tables; the first visit starts from the link's ``lance_<side>`` (only a listed
    name: anything else is refused with a note and dropped from the link)."""
    key, param = f"lance-table-{side}", f"lance_{side}"
    if key not in st.session_state:
        st.session_state[key] = default
        if param in st.query_params:
            try:
                st.session_state[key] = safety.admit_table(st.query_params[param], tables)
            except RefusedSpec as refused:
                text = str(refused)
                st.warning(md(f"Ignored '{param}' from the link: {text[:1].lower()}{text[1:]}"), icon="ℹ️")
                del st.query_params[param]
    if st.session_state[key] not in tables:
        st.session_state[key] = default
    name = column.selectbox(f"Table {side.upper()}", tables, key=key)
    st.query_params[param] = name
    return name


def batch_output() -> None:
    st.subheader("A batch output")
    tables = None
    try:
        tables = files.batch_tables()
    except files.BatchOutputError as error:
        _batch_error(error)
        return
    if tables is None:
        st.info("Open a sample of a batch output (a LanceDB table written by `python -m latent_core.batch`) here: "
                "the server's operator enables it by starting the app with `python -m app.launch --lance-db DIR` "
                "(or by setting `LATENT_LANCE_DB=DIR`).", icon="ℹ️")
        return
    if not tables:
        st.info("This server's batch folder holds no LanceDB tables yet (write one with "
                "`python -m latent_core.batch`).", icon="ℹ️")
        return
    cap = safety.limits().max_batch_rows
    st.markdown(f"A sample of at most **{cap:,} rows** of a LanceDB table, drawn evenly over the table. Two tables "
                "are matched by `id` (e.g. the old and the moved vectors of one corpus); one table can also be "
                "opened with two of its vector columns. A `label` column colours the points.")
    left, right = st.columns(2)
    table_a = _table_choice("a", tables, tables[0], left)
    table_b = _table_choice("b", tables, tables[0], right)  # one table first: always opens (ids match)
    columns = _shown(lambda: (files.vector_columns(table_a), files.vector_columns(table_b)))
    if columns is None:
        return
    columns_a, columns_b = columns
    column_a = left.selectbox("Vector column of A", list(columns_a), key="lance-column-a",
                              format_func=lambda c: f"{c} ({columns_a[c]}-d)")
    options_b = list(columns_b)
    if st.session_state.get("_lance_pair") != (table_a, table_b) or st.session_state.get("lance-column-b") not in \
            options_b:  # new tables: B starts on another column than A's when both are one table
        st.session_state["_lance_pair"] = (table_a, table_b)
        st.session_state["lance-column-b"] = next((c for c in options_b if table_b != table_a or c != column_a),
                                                  options_b[0])
    column_b = right.selectbox("Vector column of B", options_b, key="lance-column-b",
                               format_func=lambda c: f"{c} ({columns_b[c]}-d)")
    limit = files.sample_cap(columns_a[column_a], columns_b[column_b])
    st.session_state["lance-rows"] = min(int(st.session_state.get("lance-rows", 2000)), limit)
    left, right = st.columns(2)
    rows = left.number_input("Rows to sample", min_value=1, max_value=limit, step=100, key="lance-rows",
                             help=f"At most {limit:,} rows (the server's cap for these vectors).")
    seed = right.number_input("Seed", min_value=0, max_value=safety.limits().max_seed, value=0, key="lance-seed")
    with st.spinner("Reading the sample…"):
        sample = _shown(lambda: files.open_batch_sample(table_a, column_a, table_b, column_b, int(rows), int(seed)))
    if sample is None:
        return
    if table_a == table_b:
        matched = f"{sample.matched:,} rows sampled from {table_a} ({sample.rows_a:,} rows)"
    else:
        dropped = sample.sampled - sample.matched
        matched = (f"{sample.sampled:,} rows sampled from {table_a} ({sample.rows_a:,} rows); {sample.matched:,} of "
                   f"their ids are in {table_b} ({sample.rows_b:,} rows)"
                   + (f", {dropped:,} are not and are left out" if dropped else ""))
    colour = (f"{sample.classes} classes from the label column of {sample.label_source}" if sample.label_source
              else "one class (no label column)")
    st.success(md(f"{matched}. A: {table_a}.{column_a} ({sample.dims[0]}-d), B: {table_b}.{column_b} "
                  f"({sample.dims[1]}-d); {colour}."))
    st.button("Explore this sample", type="primary", on_click=_use_sample, args=(sample,), key="use-lance")


def data_upload() -> None:
    st.subheader("Your data")
    st.markdown("A **CSV or Parquet** table with a text column and a label column, or a **zip of images** with one "
                "folder per label (`cat/1.png`, `dog/2.jpg`).")
    upload = st.file_uploader("Dataset file (.csv, .parquet or .zip)", key="upload-data")
    if upload is None:
        return
    content = upload.getvalue()
    try:
        uid = uploads.store(upload.name, content, allowed=(".csv", ".parquet", ".zip"))
        if upload.name.lower().endswith(".zip"):
            spec = uploads.spec(uid)
        else:
            columns = files.table_columns(content, ".parquet" if upload.name.lower().endswith(".parquet") else ".csv")
            left, right = st.columns(2)
            text = left.selectbox("Text column", columns, index=columns.index("text") if "text" in columns else 0,
                                  key="upload-text-column")
            label = right.selectbox("Label column", columns,
                                    index=columns.index("label") if "label" in columns else min(1, len(columns) - 1),
                                    key="upload-label-column")
            spec = uploads.spec(uid, text=text, label=label)
        with warnings.catch_warnings(record=True) as caught:  # e.g. rows dropped for an empty text or label
            warnings.simplefilter("always")
            data = files.check_dataset(spec)
    except LatentCoreError as error:
        show_error(error)
        return
    for note in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)):
        st.warning(md(note), icon="ℹ️")
    counts = pd.Series([data.label_names[y] for y in data.labels]).value_counts()
    st.success(md(f"{upload.name}: {len(data)} {data.modality} samples, {len(data.label_names)} classes "
                  f"({', '.join(f'{cut(name, 30)} {count}' for name, count in counts.head(8).items())})."))
    st.button("Explore this dataset", type="primary", on_click=_use_dataset, args=(spec, data.modality),
              key="use-data")


def embedding_upload(field: str, role: str) -> None:
    upload = st.file_uploader(f"Embeddings for {role} (.npy or .parquet)",
                              key=f"upload-{field}")
    id_column = st.text_input(f"Id column for {role} (Parquet only; empty: row order)", key=f"id-{field}",
                              max_chars=200)
    if upload is None:
        return
    try:
        spec = uploads.spec(uploads.store(upload.name, upload.getvalue(), allowed=(".npy", ".parquet")),
                            id=id_column.strip())
        matrix = files.check_embeddings(spec, sidebar.current())
    except LatentCoreError as error:
        show_error(error)
        return
    st.success(md(f"{upload.name}: {matrix.shape[0]} × {matrix.shape[1]}, aligned with the current dataset."))
    st.button(f"Use as encoder {role}", on_click=_use_embeddings, args=(field, spec), key=f"use-{field}")


st.title("Upload")
st.caption(f"Files are kept on the server for a day, under an id only this browser tab can use (a copied link "
           f"with an upload opens only here). At most {safety.limits().max_upload_mb} MB per file.")
data_upload()
st.divider()
st.subheader("Your embeddings")
st.markdown("Precomputed vectors for the **current dataset** (one row per sample, in the dataset's order, or with "
            "an id column), for encoder A, B or both. Pickled files are never read.")
left, right = st.columns(2)
with left:
    embedding_upload("encoder_a", "A")
with right:
    embedding_upload("encoder_b", "B")
st.divider()
batch_output()
