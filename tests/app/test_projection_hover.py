"""Hover labels of the map panels: what each point shows, and that it is never markup or a template variable.

Reference: the hover label of a point is ``<b>id</b>role · label<br>text`` with id, label and text HTML-escaped
(``html.escape``; id and label cut to 60 characters, the text to 90). Plotly's substitution of ``%{customdata[i]}``
is reproduced by a regular expression; any other ``%{...}`` in a template would be a template variable.
"""

from __future__ import annotations

import html as _html
import re

import numpy as np

from app.components import projection as proj
from latent_core.data import Dataset

VARIABLE = re.compile(r"%\{customdata\[(\d+)\]\}")


def rendered(trace) -> list[str]:
    """Each point's hover label as Plotly fills the template (before it converts entities and tags)."""
    assert "%{" not in VARIABLE.sub("", trace.hovertemplate), "the template has a variable besides customdata"
    out = []
    for row in trace.customdata:  # Plotly substitutes once: a value's own "%{...}" stays text
        label = VARIABLE.sub(lambda m, row=row: str(row[int(m.group(1))]), trace.hovertemplate)
        out.append(label.removesuffix("<extra></extra>"))
    return out


def expected(dataset: Dataset, i: int, role: str = "") -> str:
    text = str(dataset.items[i])
    text = text if len(text) <= 90 else text[:89] + "…"
    cut = lambda s: s if len(s) <= 60 else s[:59] + "…"  # noqa: E731 - app.safety.cut's rule
    label = dataset.label_names[dataset.labels[i]]
    return f"<b>{_html.escape(cut(dataset.ids[i]))}</b>{role} · {_html.escape(cut(label))}<br>{_html.escape(text)}"


def dataset(ids: list[str], names: list[str]) -> Dataset:
    n = len(ids)
    return Dataset(name="t", ids=ids, items=[f"text <i>{i}</i> " + "w" * (i * 20) for i in range(n)],
                   labels=np.arange(n) % len(names), label_names=names, modality="text")


def panel(data: Dataset, **kwargs):
    coords = np.random.default_rng(0).normal(size=(len(data), 2))
    return proj.scatter_panel(coords, data, "t", anchors=np.array([0, 3]), selected=np.zeros(len(data), bool),
                              **kwargs)


def test_plain_ids_and_labels_send_two_columns_and_show_id_label_and_text():
    data = dataset([f"doc/{i:03d}" for i in range(8)], ["business", "sport"])
    figure = panel(data)
    for trace in figure.data:
        rows = [data.ids.index(i) for i in trace.customdata[:, 0]]
        role = " (anchor)" if trace.name == "anchors" else ""
        assert rendered(trace) == [expected(data, i, role) for i in rows]
    per_class = [t for t in figure.data if t.name != "anchors"]
    assert [t.customdata.shape[1] for t in per_class] == [2, 2], "id and label are not sent twice"
    assert [t.name for t in per_class] == ["business", "sport"]


def test_markup_and_template_syntax_in_ids_and_labels_stay_text():
    ids = ["<img src=x onerror=alert(1)>", "a&b", "%{customdata[0]}", "plain", "x" * 80, "<b>", "p2", "p3"]
    names = ["<a href='http://x.io'>click</a>", "100%{x} & %{customdata[1]}"]
    data = dataset(ids, names)
    for kwargs in ({}, {"colour": np.linspace(0, 1, len(ids))}):  # per-class traces, and one agreement trace
        figure = panel(data, **kwargs)
        for trace in figure.data:
            rows = [data.ids.index(i) for i in trace.customdata[:, 0]]
            role = " (anchor)" if trace.name == "anchors" else ""
            shown = rendered(trace)
            # a literal label carries its % as an entity (Plotly decodes &#37; after substitution)
            assert [s.replace("&#37;", "%") for s in shown] == [expected(data, i, role) for i in rows]
            assert not any("<img" in s or "<a " in s for s in shown)
    assert sorted(proj._event_ids({"selection": {"points": [{"customdata": list(r)} for r in
                                                            panel(data).data[0].customdata]}})) == \
        sorted(i for i in ids[::2]), "selections still read back the raw ids"
