"""Scatter plots of 2-D maps of embedding spaces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from latent_core.data import Dataset


def hover_text(dataset: Dataset, limit: int = 90) -> list[str]:
    if dataset.modality != "text":
        return list(dataset.ids)
    return [t if len(t) <= limit else t[: limit - 1] + "…" for t in (str(i).replace("\n", " ") for i in dataset.items)]


def projection_figure(coords: np.ndarray, dataset: Dataset, title: str):
    frame = pd.DataFrame({
        "x": coords[:, 0], "y": coords[:, 1],
        "label": [dataset.label_names[y] for y in dataset.labels],
        "id": dataset.ids, "text": hover_text(dataset),
    })
    figure = px.scatter(frame, x="x", y="y", color="label", custom_data=["id", "text"], title=title,
                        category_orders={"label": list(dataset.label_names)}, render_mode="webgl",
                        color_discrete_sequence=px.colors.qualitative.Bold)
    figure.update_traces(marker={"size": 5, "opacity": 0.8},
                         hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]}<extra></extra>")
    figure.update_layout(height=520, margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend_title_text="",
                         xaxis_title="PC 1", yaxis_title="PC 2")
    return figure


def show_projection_pair(left: tuple[np.ndarray, str], right: tuple[np.ndarray, str], dataset: Dataset,
                         key: str) -> None:
    """Two 2-D maps side by side, coloured by label."""
    columns = st.columns(2)
    for column, (coords, title), side in zip(columns, (left, right), ("a", "b")):
        with column:
            st.plotly_chart(projection_figure(coords, dataset, title), key=f"{key}-{side}",
                            width="stretch")
