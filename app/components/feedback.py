"""Readable errors: what went wrong, and what to do next (never a traceback)."""

from __future__ import annotations

import streamlit as st

from app.safety import RefusedSpec, md
from latent_core.errors import (
    AnchorIndexError,
    DatasetFormatError,
    DatasetUnavailableError,
    EmbeddingFormatError,
    EncoderUnavailableError,
    LatentCoreError,
    UnknownDatasetError,
    UnknownEncoderError,
)

NEXT_STEP = (
    ((EncoderUnavailableError, UnknownEncoderError),
     "Pick an offline preset in the sidebar, or run the README's setup command (`make demo`) to install the "
     "offline models."),
    ((DatasetUnavailableError, UnknownDatasetError),
     "Pick an offline dataset in the sidebar (bbc, fashion-mnist, digits), or upload your own on the Upload page."),
    ((DatasetFormatError, EmbeddingFormatError),
     "Fix the file as described and upload it again on the Upload page."),
    ((AnchorIndexError,), "Change the anchor settings in the sidebar."),
    ((RefusedSpec,), "Choose the encoders and the dataset in the sidebar, or upload your file on the Upload page."),
)


MAX_MESSAGE = 600  # characters of an error message shown (messages quote user values)


def error_message(error: LatentCoreError) -> str:
    """The error as Markdown: its text escaped (it may quote a file name, a column or a link's value) and
    cut, then what to do next."""
    text = md(error, MAX_MESSAGE)
    for kinds, step in NEXT_STEP:
        if isinstance(error, kinds):
            return f"{text}\n\n**What to do:** {step}"
    return f"{text}\n\n**What to do:** change the setting in the sidebar (and press Apply for the scenario)."


def show_error(error: LatentCoreError) -> None:
    st.error(error_message(error), icon="⚠️")


def or_stop(load, *args, **kwargs):
    """``load(*args, **kwargs)``, or the readable error and the end of this page's run."""
    try:
        return load(*args, **kwargs)
    except LatentCoreError as error:
        show_error(error)
        st.stop()
