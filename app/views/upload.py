"""Upload: your own data (CSV/Parquet of texts and labels, a zip of images) or your own embeddings for A and B."""

from __future__ import annotations

import warnings

import pandas as pd
import streamlit as st

from app import safety, uploads
from app.components import sidebar
from app.components.feedback import show_error
from app.components.sidebar import KEY
from app.safety import cut, md
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
