"""Plotly heatmaps of similarity matrices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from app.safety import html


def heatmap(matrix: np.ndarray, title: str, *, x: Sequence[str] | None = None, y: Sequence[str] | None = None,
            diverging: bool = False, zrange: tuple[float, float] | None = None, height: int = 430,
            hover: str = "%{y} · %{x}<br>%{z:.3f}<extra></extra>", self_similarity: bool = False) -> go.Figure:
    """``matrix: [R, C]``; ``diverging`` centres a red/blue scale on 0 (for differences and signed similarities);
    ``self_similarity``: the colour range ignores the diagonal (all ones), which would otherwise wash out the rest."""
    body = matrix[~np.eye(*matrix.shape, dtype=bool)] if self_similarity and matrix.shape[0] > 1 else matrix
    lo, hi = zrange if zrange else (float(np.nanmin(body)), float(np.nanmax(body)))
    if diverging:
        bound = max(abs(lo), abs(hi), 1e-6)
        lo, hi = -bound, bound
    figure = go.Figure(go.Heatmap(
        z=matrix, x=[html(v) for v in x] if x is not None else None, y=[html(v) for v in y] if y is not None else None,
        colorscale="RdBu_r" if diverging else "Viridis", zmin=lo, zmax=hi, hovertemplate=hover,
        colorbar={"thickness": 12}))
    figure.update_layout(title={"text": title, "font": {"size": 16}}, height=height,
                         margin={"l": 10, "r": 10, "t": 50, "b": 10})
    figure.update_yaxes(autorange="reversed", showticklabels=y is not None and len(y) <= 30)
    figure.update_xaxes(showticklabels=x is not None and len(x) <= 30)
    return figure
