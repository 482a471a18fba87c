"""Scatter plots of 2-D maps of embedding spaces, with selections linked across panels by sample id.

Every point carries its sample id in ``customdata[0]``; a box or lasso selection in any panel is read back
as ids (never trace-relative indices) and highlighted in every panel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app.components.export import figure_downloads
from app.safety import html
from latent_core.data import Dataset

MAX_POINTS = 50_000  # WebGL stays fluid up to about here; above, a seeded subsample is drawn
# Up to here a panel draws SVG (go.Scatter), above it WebGL (go.Scattergl). SVG shows five panels of the default
# scenario (2,225 points; 4,450 in the translation panel) 0.8 s sooner in headless Chromium, where WebGL is
# software-rendered, and needs no WebGL context (browsers allow about 16 per page); WebGL keeps 50k points fluid.
SVG_MAX_POINTS = 5_000
MAX_LINES = 300  # translation lines drawn for at most this many selected samples
PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4", "#b2df8a",
           "#fb9a99", "#6a3d9a", "#b15928", "#999999", "#17becf", "#bcbd22")
SELECTED_KEY = "selected_ids"
SOURCE_KEY = "selection_source"


def hover_text(dataset: Dataset, limit: int = 90) -> list[str]:
    if dataset.modality != "text":
        return [f"{dataset.label_names[y]} image" for y in dataset.labels]
    return [t if len(t) <= limit else t[: limit - 1] + "…" for t in (str(i).replace("\n", " ") for i in dataset.items)]


def display_index(n: int, seed: int = 0, limit: int = MAX_POINTS) -> np.ndarray:
    """Rows to draw: all of them, or a seeded random ``limit`` of them (sorted)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


# ---- selection ---------------------------------------------------------------------------------------------

def selected_ids() -> list[str]:
    return list(st.session_state.get(SELECTED_KEY, []))


def set_selection(ids: Sequence[str], source: str = "") -> None:
    st.session_state[SELECTED_KEY] = list(dict.fromkeys(ids))
    st.session_state[SOURCE_KEY] = source


def _event_ids(event) -> list[str] | None:
    """Sample ids of a chart's selection event (``None`` when there is no event)."""
    if not event:
        return None
    selection = event["selection"] if "selection" in event else None
    if selection is None:
        return None
    ids = []
    for point in selection.get("points", []) or []:
        custom = point.get("customdata")
        if isinstance(custom, list | tuple) and custom:
            ids.append(str(custom[0]))
    return ids


def sync_selection(chart_keys: Sequence[str]) -> None:
    """Adopt the selection of whichever chart's selection changed since the last run.

    Chart events are read dict-style from session state on every run (so injected events in tests and real
    ones in the browser take the same path); the newest change wins.
    """
    seen = st.session_state.setdefault("_selection_seen", {})
    for key in chart_keys:
        ids = _event_ids(st.session_state.get(key))
        if ids is None:
            continue
        signature = tuple(ids)
        if seen.get(key) != signature:
            seen[key] = signature
            if ids or st.session_state.get(SOURCE_KEY) == key:  # an emptied chart clears only its own selection
                set_selection(ids, source=key)


# ---- figures -----------------------------------------------------------------------------------------------

def _base_layout(figure: go.Figure, title: str, height: int) -> go.Figure:
    figure.update_layout(
        title={"text": title, "font": {"size": 17}}, height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"itemsizing": "constant", "font": {"size": 13}}, dragmode="lasso", hovermode="closest",
        xaxis={"showticklabels": False, "title": None, "zeroline": False},
        yaxis={"showticklabels": False, "title": None, "zeroline": False},
        plot_bgcolor="white", uirevision=title,
    )
    return figure


def _literal(text: str) -> str:
    """``text`` (already HTML-escaped) as literal hovertemplate text: ``%`` as an entity, so a ``%{...}`` in a
    label is never a template variable."""
    return text.replace("%", "&#37;")


def _hover(dataset: Dataset, rows: np.ndarray, texts: list[str], role: str = "",
           label: int | None = None) -> dict:
    """``customdata`` and ``hovertemplate`` of the points ``rows`` (keyword arguments of a trace).

    ``customdata[:, 0]`` is the raw sample id (read back from selections), ``[:, 1]`` the hover text (escaped).
    Plotly renders tags such as ``<a href>`` in hover labels, so the id and the label are shown escaped: the id
    from column 0 when escaping leaves every id of ``rows`` as it is (the usual case), else from a column of its
    own; the label as literal text when the trace has one class (``label``), else from a column. Every column
    goes to the browser for every point of every panel (most of a panel's bytes), so none is sent twice.
    """
    ids = [dataset.ids[i] for i in rows]
    shown = [html(i, 60) for i in ids]
    columns = [ids, [texts[i] for i in rows]]
    id_ref = "%{customdata[0]}"
    if shown != ids:
        columns.append(shown)
        id_ref = f"%{{customdata[{len(columns) - 1}]}}"
    if label is None:
        columns.append([html(dataset.label_names[dataset.labels[i]], 60) for i in rows])
        label_ref = f"%{{customdata[{len(columns) - 1}]}}"
    else:
        label_ref = _literal(html(dataset.label_names[label], 60))
    data = np.empty((len(rows), len(columns)), dtype=object)
    for j, column in enumerate(columns):
        data[:, j] = column
    template = f"<b>{id_ref}</b>{role} · {label_ref}<br>%{{customdata[1]}}<extra></extra>"
    return {"customdata": data, "hovertemplate": template}


def _points(figure, coords, dataset, rows, texts, colour, selected, *, trace, name_suffix="", symbol="circle",
            role="", show_legend=True):
    """Scatter traces of ``rows``: one per class, or one coloured by a score; dimmed when others are selected."""
    dim = bool(selected.any())
    opacity = 0.18 if dim else 0.8
    if colour is None:
        for label, name in enumerate(dataset.label_names):
            part = rows[dataset.labels[rows] == label]
            if not len(part):
                continue
            figure.add_trace(trace(
                x=coords[part, 0], y=coords[part, 1], mode="markers", name=f"{html(name, 40)}{name_suffix}",
                legendgroup=str(label), showlegend=show_legend, **_hover(dataset, part, texts, role, label),
                marker={"size": 6, "opacity": opacity, "symbol": symbol, "color": PALETTE[label % len(PALETTE)]}))
    else:
        figure.add_trace(trace(
            x=coords[rows, 0], y=coords[rows, 1], mode="markers", name=f"agreement{name_suffix}",
            showlegend=False, **_hover(dataset, rows, texts, role), marker={
                "size": 6, "opacity": opacity, "symbol": symbol, "color": colour[rows], "colorscale": "Viridis",
                "cmin": 0, "cmax": 1, "showscale": show_legend and not name_suffix.endswith("(B→A)"),
                "colorbar": {"title": {"text": "k-NN<br>agreement"}, "thickness": 12}}))


def scatter_panel(coords: np.ndarray, dataset: Dataset, title: str, *, anchors: np.ndarray, selected: np.ndarray,
                  colour: np.ndarray | None = None, rows: np.ndarray | None = None,
                  overlay: np.ndarray | None = None, height: int = 480) -> go.Figure:
    """One panel. ``coords: [N, 2]``; ``selected: [N]`` bool; ``overlay: [N, 2]`` optional second position of
    every sample (B translated into A), drawn as crosses with lines from each selected sample's A position.
    SVG traces up to ``SVG_MAX_POINTS`` points in the panel, WebGL above."""
    rows = np.arange(len(coords)) if rows is None else rows
    texts = [html(t) for t in hover_text(dataset)]
    trace = go.Scatter if len(rows) * (1 if overlay is None else 2) <= SVG_MAX_POINTS else go.Scattergl
    figure = go.Figure()
    _points(figure, coords, dataset, rows, texts, colour, selected, trace=trace,
            name_suffix=" (A)" if overlay is not None else "", role=" in A" if overlay is not None else "")
    if overlay is not None:
        _points(figure, overlay, dataset, rows, texts, colour, selected, trace=trace, name_suffix=" (B→A)",
                symbol="x", role=" B→A", show_legend=True)
    anchor_rows = np.intersect1d(anchors, rows)
    figure.add_trace(trace(
        x=coords[anchor_rows, 0], y=coords[anchor_rows, 1], mode="markers", name="anchors",
        **_hover(dataset, anchor_rows, texts, " (anchor)"),
        marker={"symbol": "diamond-open", "size": 7, "color": "rgba(0,0,0,0.75)", "line": {"width": 1}}))
    chosen = rows[selected[rows]]
    if len(chosen):
        figure.add_trace(trace(
            x=coords[chosen, 0], y=coords[chosen, 1], mode="markers", name=f"selected ({len(chosen)})",
            **_hover(dataset, chosen, texts, " (selected)"),
            marker={"size": 7, "color": "#ffd400", "line": {"color": "black", "width": 0.8}}))
        if overlay is not None:
            lined = chosen[:MAX_LINES]
            xs = np.column_stack([coords[lined, 0], overlay[lined, 0], np.full(len(lined), np.nan)]).ravel()
            ys = np.column_stack([coords[lined, 1], overlay[lined, 1], np.full(len(lined), np.nan)]).ravel()
            figure.add_trace(trace(x=xs, y=ys, mode="lines", name="A → B→A", hoverinfo="skip",
                                   line={"color": "rgba(40,40,40,0.55)", "width": 1}))
            figure.add_trace(trace(
                x=overlay[lined, 0], y=overlay[lined, 1], mode="markers", name="selected (B→A)",
                **_hover(dataset, lined, texts, " B→A (selected)"),
                marker={"size": 7, "symbol": "x", "color": "#ffd400", "line": {"color": "black", "width": 0.8}}))
    _base_layout(figure, title, height)
    if colour is not None:  # the colour bar takes the right margin: the legend goes below
        figure.update_layout(legend={"orientation": "h", "x": 0, "y": -0.02, "yanchor": "top"})
    return figure


@st.cache_resource(show_spinner=False, max_entries=160)
def shared_figure(key: tuple, _build: Callable[[], go.Figure]) -> go.Figure:
    """The figure ``_build()`` makes, built once per ``key`` and shared by every session (a class opening the same
    link builds each panel once). ``key`` must name everything the figure depends on; callers never modify it."""
    return _build()


def show_panel(figure: go.Figure, key: str, file_name: str, *, select: bool = True) -> None:
    """Draw a panel (selectable, with a PNG button in its toolbar and an HTML download below)."""
    config = {"toImageButtonOptions": {"format": "png", "filename": file_name, "scale": 2},
              "displaylogo": False}
    if select:
        st.plotly_chart(figure, key=key, on_select="rerun", selection_mode=("box", "lasso"), config=config)
    else:
        st.plotly_chart(figure, config=config)
    figure_downloads(figure, file_name, key=f"dl-{key}")

