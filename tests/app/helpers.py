"""Reading Plotly charts out of AppTest (FACTS.md section 6)."""

from __future__ import annotations

import base64
import json

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

APP = str(ROOT / "app" / "main.py")


def assert_ok(at: AppTest) -> None:
    """The run raised nothing and showed no ``st.error``."""
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def values(data) -> np.ndarray:
    """A trace array (plotly 7 may pack it base64 as ``{"dtype", "bdata"}``)."""
    if isinstance(data, dict) and "bdata" in data:
        flat = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        shape = data.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(data, dtype=float)


def figures(at: AppTest) -> dict[str, dict]:
    """Chart key (or position) -> figure JSON."""
    out = {}
    for position, chart in enumerate(at.get("plotly_chart")):
        out[getattr(chart, "key", None) or f"chart-{position}"] = json.loads(chart.proto.spec)
    return out


def trace_points(figure: dict, name_prefix: str | None = None, exclude: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Sample id -> (x, y) over the traces whose name starts with ``name_prefix`` (all when None)."""
    points = {}
    for trace in figure["data"]:
        name = trace.get("name", "")
        if (name_prefix is not None and not name.startswith(name_prefix)) or any(e in name for e in exclude):
            continue
        if "customdata" not in trace:
            continue
        xs, ys = values(trace["x"]), values(trace["y"])
        for (sample_id, *_), x, y in zip(trace["customdata"], xs, ys):
            points[sample_id] = np.array([x, y])
    return points


def ids_of(figure: dict, name_prefix: str) -> set[str]:
    return set(trace_points(figure, name_prefix))


def data_points(figure: dict, suffix: str = "") -> dict[str, np.ndarray]:
    """The per-class (or agreement) traces, not anchors / selection overlays."""
    points = {}
    for trace in figure["data"]:
        name = trace.get("name", "")
        if name.startswith(("anchors", "selected", "A →")) or "customdata" not in trace:
            continue
        if suffix and not name.endswith(suffix):
            continue
        points.update(trace_points({"data": [trace]}))
    return points


def app(query: dict[str, str] | None = None, timeout: int = 300) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout)
    if query:
        at.query_params.update(query)
    return at
