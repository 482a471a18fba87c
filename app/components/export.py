"""Downloads: figures as standalone HTML (PNG comes from each chart's toolbar camera), tables as CSV."""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go
import streamlit as st

if TYPE_CHECKING:  # pandas is imported where it is used: 0.4 s the first chart need not wait for
    import pandas as pd


def figure_html(figure: go.Figure) -> bytes:
    """A standalone page that works offline (plotly.js embedded, about 5 MB)."""
    return figure.to_html(include_plotlyjs=True, full_html=True).encode()


def figure_downloads(figure: go.Figure, file_name: str, key: str) -> None:
    # Built only when clicked: embedding plotly.js in every figure on every run would cost seconds.
    st.download_button("⬇ HTML", data=lambda: figure_html(figure), file_name=f"{file_name}.html", mime="text/html",
                       key=key, on_click="ignore", type="tertiary",
                       help="The figure as an interactive standalone page. For a PNG, use the camera in its toolbar.")


def csv_download(frame: pd.DataFrame, label: str, file_name: str, key: str) -> None:
    st.download_button(label, data=frame.to_csv(index=False).encode(), file_name=file_name, mime="text/csv",
                       key=key, on_click="ignore")
