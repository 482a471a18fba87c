"""AppTest of the Spaces page's "What moved" tables (fake encoders): the ranking against a numpy brute force, and a
clicked row highlighting its sample in every panel."""

from __future__ import annotations

import numpy as np

import tests.app.fakes  # noqa: F401 - registers the fake: encoders in this process
from latent_core.data import load_dataset
from latent_core.embed import embed_dataset
from latent_core.encoders import get_encoder
from latent_core.explore import compute_views
from tests.app.helpers import app, assert_ok, figures, ids_of

FAKE_TEXT = {"a": "fake:text-a", "b": "fake:text-b", "data": "bbc", "n": "150", "k": "20"}
FAKE_IMAGE = {"a": "fake:image-a", "b": "fake:image-b", "data": "digits", "n": "120", "k": "15"}
PANELS = ("panel-abs-a", "panel-abs-b", "panel-rel-a", "panel-rel-b", "panel-translated")



def _spaces(query: dict) -> tuple:
    data = load_dataset(query["data"], n=int(query["n"]))
    a = embed_dataset(get_encoder(query["a"]), data).numpy()
    b = embed_dataset(get_encoder(query["b"]), data).numpy()
    return data, a, b


def _jaccard(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Brute force: full cosine matrices in float64, self excluded, k-NN sets, |A ∩ B| / |A ∪ B|."""
    def sets(m):
        unit = m / np.linalg.norm(m, axis=1, keepdims=True)
        sims = unit @ unit.T
        np.fill_diagonal(sims, -np.inf)
        return [set(row) for row in np.argsort(-sims, axis=1)[:, :k]]

    return np.array([len(p & q) / len(p | q) for p, q in zip(sets(x), sets(y))])


def _order(x: np.ndarray, y: np.ndarray, k: int, agree: bool = False) -> np.ndarray:
    """Rows ranked by Jaccard@k, ties by Jaccard@4k, then by row (most changed first; most agreeing when ``agree``)."""
    jaccard, wide = _jaccard(x, y, k), _jaccard(x, y, min(4 * k, len(x) - 1))
    sign = -1 if agree else 1
    return np.lexsort((np.arange(len(jaccard)), sign * wide, sign * jaccard))


def _table(at, key: str):
    return next(frame for frame in at.dataframe if frame.key == key).value


def _click_row(at, key: str, row: int | None) -> None:
    at.session_state[key] = {"selection": {"rows": [] if row is None else [row], "columns": [], "cells": []}}
    at.run()
    assert_ok(at)


def _highlighted(at) -> dict[str, set[str]]:
    figs = figures(at)
    return {key: ids_of(figs[key], "selected (") for key in PANELS}


def test_tables_rank_like_a_brute_force_and_a_clicked_row_lights_up_everywhere():
    at = app(FAKE_TEXT).run()
    assert_ok(at)
    data, a, b = _spaces(FAKE_TEXT)
    jaccard = _jaccard(a, b, 10)
    most_changed, most_agreeing = _order(a, b, 10), _order(a, b, 10, agree=True)
    changed, agreeing = _table(at, "moved-changed"), _table(at, "moved-agreeing")
    assert changed["id"].iloc[0] == data.ids[most_changed[0]]
    assert list(changed["id"]) == [data.ids[i] for i in most_changed[:15]]
    assert list(agreeing["id"]) == [data.ids[i] for i in most_agreeing[:15]]
    np.testing.assert_allclose(changed["jaccard"], jaccard[most_changed[:15]], atol=1e-9)
    assert list(changed["rank"]) == list(range(1, 16)) and list(agreeing["rank"]) == list(range(1, 16))
    # What changed for the first sample: set differences of the two neighbour sets (ids), its text cut to 120.
    first = most_changed[0]
    lost = set(changed["lost neighbours"].iloc[0].split(" | ")) - {""}
    gained = set(changed["gained neighbours"].iloc[0].split(" | ")) - {""}
    assert len(lost) == len(gained) == round(10 * (1 - 2 * jaccard[first] / (1 + jaccard[first])))
    assert not lost & gained and changed["label"].iloc[0] == data.label_names[data.labels[first]]
    assert len(changed["text"].iloc[0]) <= 120
    assert at.get("download_button")  # the full ranking as CSV (and the panels' HTML)

    # No selection yet; clicking the first row highlights that sample in all five panels.
    assert not any(_highlighted(at).values())
    _click_row(at, "moved-changed", 0)
    assert _highlighted(at) == {key: {data.ids[first]} for key in PANELS}
    at.run()  # a rerun without a new click keeps it (the charts' unchanged events do not undo it)
    assert_ok(at)
    assert _highlighted(at) == {key: {data.ids[first]} for key in PANELS}

    # A lasso in a panel afterwards wins over the table's still-selected row ...
    picked = data.ids[3:6]
    points = [{"customdata": [i, "t", "l"], "curve_number": 0, "point_number": n, "point_index": n}
              for n, i in enumerate(picked)]
    at.session_state["panel-abs-b"] = {"selection": {"points": points, "point_indices": [0, 1, 2], "box": [],
                                                     "lasso": []}}
    at.run()
    assert_ok(at)
    assert _highlighted(at) == {key: set(picked) for key in PANELS}
    # ... and a row of the other table takes over again; deselecting it clears the selection it made.
    _click_row(at, "moved-agreeing", 2)
    assert _highlighted(at) == {key: {data.ids[most_agreeing[2]]} for key in PANELS}
    _click_row(at, "moved-agreeing", None)
    assert not any(_highlighted(at).values())


def test_relative_comparison_and_k_follow_the_controls():
    at = app(FAKE_TEXT).run()
    at.segmented_control(key="moved-comparison").set_value("relative").run()
    at.slider(key="moved-k").set_value(5).run()
    assert_ok(at)
    data, a, b = _spaces(FAKE_TEXT)
    anchors = sorted(data.ids.index(i) for i in ids_of(figures(at)["panel-rel-a"], "anchors"))
    views = compute_views(a, b, anchors)
    jaccard = _jaccard(views.rel_a, views.rel_b, 5)
    order = _order(views.rel_a, views.rel_b, 5)
    changed = _table(at, "moved-changed")
    assert list(changed["id"]) == [data.ids[i] for i in order[:15]]
    np.testing.assert_allclose(changed["jaccard"], jaccard[order[:15]], atol=1e-9)
    _click_row(at, "moved-changed", 1)
    assert _highlighted(at) == {key: {data.ids[order[1]]} for key in PANELS}


def test_image_tables_show_thumbnails():
    at = app(FAKE_IMAGE).run()
    assert_ok(at)
    data, a, b = _spaces(FAKE_IMAGE)
    order = _order(a, b, 10)
    changed = _table(at, "moved-changed")
    assert changed["id"].iloc[0] == data.ids[order[0]]
    assert "text" not in changed and all(u.startswith("data:image/png;base64,") for u in changed["image"])
    _click_row(at, "moved-changed", 0)
    assert _highlighted(at) == {key: {data.ids[order[0]]} for key in PANELS}


def test_the_csv_ranking_keeps_data_cells_as_text_for_spreadsheets():
    import pandas as pd

    from app.services import spaces

    ranking = pd.DataFrame({"rank": [1, 2], "id": ["=HYPERLINK(\"http://x\")", "a/1"], "label": ["+cmd", "b"],
                            "jaccard": [0.0, 0.5], "text": ["@SUM(A1)", "-1 plain"], "lost neighbours": ["a/1", ""],
                            "gained neighbours": ["", "a/1"], "row": [0, 1]})
    csv = spaces.what_moved_csv(ranking)
    assert "row" not in csv and list(csv["rank"]) == [1, 2] and list(csv["jaccard"]) == [0.0, 0.5]
    assert list(csv["id"]) == ["'=HYPERLINK(\"http://x\")", "a/1"]
    assert list(csv["label"]) == ["'+cmd", "b"] and list(csv["text"]) == ["'@SUM(A1)", "'-1 plain"]
    assert list(ranking["id"])[0].startswith("=")  # the frame shown in the app is left as it is
