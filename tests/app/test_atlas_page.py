"""AppTest of Charts to Atlas with fake encoders: the Stitching lab's atlas table against a direct call of the library,
the Spaces page's atlas map against a numpy reference, and encoder C's round trip through the URL (a refused C is
dropped with a readable message, never echoed)."""

from __future__ import annotations

import numpy as np
import pytest

import tests.app.fakes  # noqa: F401 - registers the fake: encoders
from app import state
from app.services import policy
from latent_core.atlas import ATLAS_HEAD, OWN_HEAD, atlas_comparison, atlas_table
from latent_core.data import load_dataset
from latent_core.embed import embed_dataset
from latent_core.encoders import get_encoder
from tests.app.helpers import app, assert_ok, data_points, figures, ids_of

FAKE = {"a": "fake:text-a", "b": "fake:text-b", "data": "bbc", "n": "200", "k": "30"}
WITH_C = {**FAKE, "c": "fake:text-c"}
SPECS = ("fake:text-a", "fake:text-b", "fake:text-c")



def _spaces(n: int = 200):
    data = load_dataset("bbc", n=n)
    return data, [embed_dataset(get_encoder(spec), data).numpy() for spec in SPECS]


def _lab(query):
    at = app(query, timeout=120)
    at.run()
    at.switch_page("views/stitching.py").run()
    assert_ok(at)
    return at


def _atlas_frame(at):
    return next(d.value for d in at.dataframe if "atlas head" in d.value.columns)


@pytest.mark.parametrize("query,roles", [(WITH_C, "ABC"), (FAKE, "AB")])
def test_lab_atlas_table_is_the_library_s_comparison_on_the_page_s_split(query, roles):
    at = _lab(query)
    assert not [d for d in at.dataframe if "atlas head" in d.value.columns], "computed on the button only"
    at.button(key="atlas-run").click().run()
    assert_ok(at)
    shown = _atlas_frame(at)
    # The reference: the library on the same encoders, with the split and anchors the app's policy gives.
    data, spaces = _spaces()
    settings = state.Settings(encoder_a=SPECS[0], encoder_b=SPECS[1], dataset="bbc", n_samples=200, n_anchors=30)
    plan = policy.split_plan(settings.strategy, settings.n_anchors, len(data))
    split = policy.make_split(data.labels, plan.count, settings.seed)
    anchors = policy.split_anchor_rows(spaces[0], data.labels, split, plan.strategy, plan.count, settings.seed)
    expected = atlas_table(atlas_comparison(spaces[:len(roles)], data.labels, anchor_idx=anchors,
                                            train_idx=split.train, test_idx=split.test, names=list(roles)))
    assert list(shown["space"]) == list(roles)
    for column in (ATLAS_HEAD, OWN_HEAD, "stitched from A", "atlas - own"):
        np.testing.assert_allclose(shown[column].to_numpy(float), expected[column].to_numpy(float), atol=1e-12)
    claim = next(m.value for m in at.markdown if m.value.startswith("Crisostomi"))
    holds = bool((expected["atlas - own"] >= -0.02).all())
    assert ("it holds here" in claim) == holds and ("does not hold" in claim) == (not holds)
    if roles == "ABC":
        again = _lab(query)  # the same process: the result is kept, no button
        assert "atlas-run" not in {b.key for b in again.button}
        np.testing.assert_allclose(_atlas_frame(again)["atlas head"], shown["atlas head"])


def _pca(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def _cosine(x: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return x @ (anchors / np.linalg.norm(anchors, axis=1, keepdims=True)).T


def test_spaces_page_draws_the_atlas_of_a_b_and_c():
    at = app(WITH_C, timeout=120).run()
    assert_ok(at)
    figure = figures(at)["panel-atlas"]
    assert "atlas of A + B + C" in figure["layout"]["title"]["text"]
    data, spaces = _spaces()
    anchors = [data.ids.index(i) for i in ids_of(figure, "anchors")]
    assert len(anchors) == 30
    reference = _pca(np.mean([_cosine(x, x[anchors]) for x in spaces], axis=0))
    shown = data_points(figure)
    rows = [data.ids.index(i) for i in shown]
    got, want = np.array(list(shown.values())), reference[rows]
    signs = np.sign((got * want).sum(0))  # a principal axis is defined up to its sign
    np.testing.assert_allclose(got, want * signs, atol=1e-4)


def test_spaces_page_without_c_shows_the_atlas_of_a_and_b_on_the_toggle():
    at = app(FAKE, timeout=120).run()
    assert_ok(at)
    assert "panel-atlas" not in figures(at) and len(figures(at)) == 5
    at.toggle(key="show-atlas").set_value(True).run()
    assert_ok(at)
    assert "atlas of A + B (PCA)" in figures(at)["panel-atlas"]["layout"]["title"]["text"]


def test_encoder_c_round_trips_through_the_url():
    settings = state.Settings(encoder_c="fake:text-c")
    assert state.to_query(settings) == {"c": "fake:text-c"} and state.to_query(state.Settings()) == {}
    assert state.from_query({"c": "fake:text-c"}) == (settings, [])
    assert state.from_query({"c": "none"}) == (state.Settings(), [])
    assert settings.atlas_encoders == (state.Settings().encoder_a, state.Settings().encoder_b, "fake:text-c")
    at = app(WITH_C, timeout=120).run()
    assert_ok(at)
    assert at.selectbox(key="w_encoder_c").value == "fake:text-c"
    assert at.query_params["c"] == "fake:text-c"
    assert "fake:text-c" in at.selectbox(key="w_encoder_c").options
    at.selectbox(key="w_encoder_c").set_value(state.NO_ENCODER)
    at.sidebar.button[0].click().run()  # the scenario form's Apply
    assert_ok(at)
    assert "c" not in at.query_params


@pytest.mark.parametrize("spec", ["st:/etc", "st:/nonexistent/model", "file:/etc/passwd"])
def test_a_path_as_encoder_c_is_refused_readably_and_not_echoed(spec):
    settings, problems = state.from_query({"c": spec})
    assert settings.encoder_c == state.NO_ENCODER
    _, as_a = state.from_query({"a": spec})  # refused exactly as encoder A would be
    assert len(problems) == 1 and problems == [p.replace("'a'", "'c'") for p in as_a]
    assert "not something this app opens from a link" in problems[0] and spec not in problems[0]
    at = app({**FAKE, "c": spec}, timeout=120).run()
    assert not at.exception
    warnings = [w.value for w in at.sidebar.warning]
    assert any("Ignored 'c' from the link" in w for w in warnings) and not any(spec in w for w in warnings)
    assert at.selectbox(key="w_encoder_c").value == state.NO_ENCODER and "c" not in at.query_params
