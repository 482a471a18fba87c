"""AppTest of the explorer (Spaces, Similarity, Upload pages and the sidebar) with tiny fake encoders."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

import tests.app.fakes  # noqa: F401 - registers the fake: encoders in this process
from app import state
from latent_core.data import load_dataset
from latent_core.explore import compute_views
from latent_core.metrics import jaccard_at_k, linear_cka, mutual_knn
from tests.app.helpers import app, assert_ok, data_points, figures, ids_of, values

FAKE_TEXT = {"a": "fake:text-a", "b": "fake:text-b", "data": "bbc", "n": "150", "k": "20"}
FAKE_IMAGE = {"a": "fake:image-a", "b": "fake:image-b", "data": "digits", "n": "120", "k": "15"}
PANELS = ("panel-abs-a", "panel-abs-b", "panel-rel-a", "panel-rel-b", "panel-translated")



def _number(text: str) -> float:
    return math.nan if text == "—" else float(text)


def _pca(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(0)
    return centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T


def _same_up_to_axis_signs(a: np.ndarray, b: np.ndarray) -> bool:
    return all(np.allclose(a[:, j], s * b[:, j], atol=1e-3) for j, s in
               zip(range(2), np.sign(np.sum(a * b, axis=0))))


def test_default_flow_draws_five_aligned_panels():
    at = app(FAKE_TEXT).run()
    assert_ok(at)
    figs = figures(at)
    assert set(PANELS) <= set(figs)
    data = load_dataset("bbc", n=150)
    for key in PANELS:
        points = data_points(figs[key], suffix="" if key != "panel-translated" else " (A)")
        assert set(points) == set(data.ids), key
        assert len(ids_of(figs[key], "anchors")) == 20
    # Independent reference: the absolute A panel is PCA of the fake A embeddings (numpy SVD), ids in customdata.
    from latent_core.embed import embed_dataset
    from latent_core.encoders import get_encoder

    a = embed_dataset(get_encoder("fake:text-a"), data).numpy()
    b = embed_dataset(get_encoder("fake:text-b"), data).numpy()
    shown = data_points(figs["panel-abs-a"])
    assert _same_up_to_axis_signs(np.array([shown[i] for i in data.ids]), _pca(a))
    # Relative B is placed with the map fitted on relative A: same coordinates as PCA-of-A applied to B.
    anchors = [data.ids.index(i) for i in ids_of(figs["panel-rel-a"], "anchors")]
    views = compute_views(a, b, sorted(anchors))
    centred_mean = views.rel_a.mean(0)
    axes = np.linalg.svd(views.rel_a - centred_mean, full_matrices=False)[2][:2]
    expected_b = (views.rel_b - centred_mean) @ axes.T
    shown_b = data_points(figs["panel-rel-b"])
    assert _same_up_to_axis_signs(np.array([shown_b[i] for i in data.ids]), expected_b)
    assert "150 samples" in at.caption[0].value and "20 anchors (random)" in at.caption[0].value


def test_anchor_count_and_projection_changes_redraw_and_go_to_the_url():
    at = app(FAKE_TEXT).run()
    before = data_points(figures(at)["panel-rel-b"])
    at.slider(key="w_n_anchors").set_value(8).run()
    assert_ok(at)
    figs = figures(at)
    assert len(ids_of(figs["panel-rel-a"], "anchors")) == 8
    assert at.query_params["k"] == "8"
    after = data_points(figs["panel-rel-b"])
    assert not np.allclose([before[i] for i in before], [after[i] for i in before])
    at.selectbox(key="w_projection").set_value("euclidean").run()
    at.segmented_control(key="w_color_by").set_value("agreement").run()
    assert_ok(at)
    assert at.query_params["proj"] == "euclidean" and at.query_params["color"] == "agreement"
    colours = [t["marker"].get("color") for t in figures(at)["panel-rel-a"]["data"] if t["name"] == "agreement"]
    assert len(colours) == 1


def test_injected_selection_highlights_the_same_ids_in_every_panel():
    at = app(FAKE_TEXT).run()
    data = load_dataset("bbc", n=150)
    picked = data.ids[3:9]
    points = [{"customdata": [i, "text", "label"], "curve_number": 0, "point_number": n, "point_index": n}
              for n, i in enumerate(picked)]
    at.session_state["panel-rel-b"] = {"selection": {"points": points, "point_indices": list(range(6)),
                                                     "box": [], "lasso": []}}
    at.run()
    assert_ok(at)
    figs = figures(at)
    for key in PANELS:
        assert ids_of(figs[key], "selected (6)") == set(picked), key
    lines = [t for t in figs["panel-translated"]["data"] if t["name"] == "A → B→A"]
    assert len(lines) == 1 and ids_of(figs["panel-translated"], "selected (B→A)") == set(picked)
    table = at.dataframe[0].value
    assert list(table["id"]) == list(picked)
    # The sidebar offers the selection as manual anchors.
    at.button(key="use-selection").click().run()
    assert_ok(at)
    assert at.session_state["w_strategy"] == "manual"
    assert ids_of(figures(at)["panel-abs-a"], "anchors") == set(picked)
    assert at.query_params["anchors"] == "manual" and at.query_params["manual"].split("|") == list(picked)


def test_url_round_trip_reopens_the_same_view():
    at = app(FAKE_TEXT).run()
    at.selectbox(key="w_translator").set_value("linear")
    at.selectbox(key="w_strategy").set_value("stratified").run()
    at.slider(key="w_n_anchors").set_value(11).run()
    assert_ok(at)
    link = dict(at.query_params)
    defaults_left_out = {key: value for key, value in FAKE_TEXT.items() if key != "data"}  # bbc is the default
    assert link == {**defaults_left_out, "k": "11", "tr": "linear", "anchors": "stratified"}
    again = app(link).run()
    assert_ok(again)
    for field in ("strategy", "n_anchors", "translator", "encoder_a", "dataset", "n_samples"):
        assert again.session_state[f"w_{field}"] == at.session_state[f"w_{field}"]
    assert figures(again)["panel-rel-b"] == figures(at)["panel-rel-b"]
    settings, problems = state.from_query(link)
    assert state.to_query(settings) == link and not problems


def test_bad_link_values_are_ignored_with_a_warning():
    at = app({**FAKE_TEXT, "k": "lots", "map": "cubism"}).run()
    assert_ok(at)
    warnings = " ".join(w.value for w in at.sidebar.warning)
    assert "k=lots" in warnings and "map=cubism" in warnings
    assert at.session_state["w_n_anchors"] == 149  # the default 300, clamped to the 150 samples
    assert at.session_state["w_map_kind"] == "pca"


def test_images_and_the_similarity_page():
    at = app(FAKE_IMAGE).run()
    assert_ok(at)
    assert len(ids_of(figures(at)["panel-abs-b"], "anchors")) == 15
    at.switch_page("views/similarity.py").run()
    assert_ok(at)
    frame = at.dataframe[0].value  # shown as text, 3 decimals, '—' where a metric does not apply
    frame = frame.apply(lambda column: column.map(_number) if column.name not in ("comparison", "k") else column)
    data = load_dataset("digits", n=120)
    from latent_core.embed import embed_dataset
    from latent_core.encoders import get_encoder

    a = embed_dataset(get_encoder("fake:image-a"), data).numpy()
    b = embed_dataset(get_encoder("fake:image-b"), data).numpy()
    absolute = frame.set_index("comparison").loc["absolute A vs absolute B"]
    assert absolute["linear CKA"] == pytest.approx(linear_cka(a, b), abs=6e-4)
    assert absolute["mutual k-NN"] == pytest.approx(mutual_knn(a, b, 10), abs=6e-4)
    assert absolute["Jaccard@k"] == pytest.approx(jaccard_at_k(a, b, 10), abs=6e-4)
    assert math.isnan(absolute["MRR"]) and math.isnan(absolute["mean paired cosine"])
    relative = frame.set_index("comparison").loc["relative A vs relative B"]
    assert 0 < relative["MRR"] <= 1 and not math.isnan(relative["mean paired cosine"])
    figs = figures(at)
    assert len(figs) == 7  # 3 anchor heatmaps, 2 class-mean, 2 relative-sample heatmaps
    heat_a = values(next(iter(figs.values()))["data"][0]["z"])
    assert heat_a.shape == (15, 15) and np.allclose(np.diag(heat_a), 1, atol=1e-5)
    at.slider(key="metrics-k").set_value(5).run()
    assert_ok(at)
    assert at.dataframe[0].value["k"].iloc[0] == 5
    # MRR of the relative spaces, from scratch with numpy (anchors: the app's seeded random choice).
    from latent_core.anchors import select_anchors

    views = compute_views(a, b, select_anchors(a, 15, "random", seed=0))
    ua = views.rel_a / np.linalg.norm(views.rel_a, axis=1, keepdims=True)
    ub = views.rel_b / np.linalg.norm(views.rel_b, axis=1, keepdims=True)
    sims = ua @ ub.T
    ranks = 1 + (sims > np.diag(sims)[:, None]).sum(1)
    assert relative["MRR"] == pytest.approx(np.mean(1 / ranks), abs=6e-4)


def test_modality_mismatch_is_a_readable_error():
    at = app({**FAKE_TEXT, "b": "fake:image-b"}).run()
    assert not at.exception
    assert len(at.error) == 1
    assert "reads images" in at.error[0].value and "What to do" in at.error[0].value


def test_bad_uploads_show_readable_errors_and_a_good_one_switches_the_dataset():
    at = app(FAKE_TEXT).run()
    at.switch_page("views/upload.py").run()
    assert_ok(at)
    at.get("file_uploader")[0].upload("broken.zip", b"this is not a zip", "application/zip")
    at.run()
    assert not at.exception and len(at.error) == 1
    assert "not a zip archive" in at.error[0].value and "What to do" in at.error[0].value

    ragged = b"text,label\nfine,a\ntoo,many,fields,here\n"
    at.get("file_uploader")[0].set_value(("ragged.csv", ragged, "text/csv"))
    at.run()
    assert not at.exception and len(at.error) == 1
    assert "Could not read" in at.error[0].value and "UTF-8 CSV" in at.error[0].value

    good = pd.DataFrame({"review": [f"text number {i} about {'cats' if i % 2 else 'dogs'}" for i in range(40)],
                         "stars": ["good" if i % 2 else "bad" for i in range(40)]})
    at.get("file_uploader")[0].set_value(("reviews.csv", good.to_csv(index=False).encode(), "text/csv"))
    at.run()
    assert_ok(at)  # no 'text'/'label' columns: the first two columns are offered as text and label
    assert [at.selectbox(key=f"upload-{c}-column").value for c in ("text", "label")] == ["review", "stars"]
    assert "40 text samples, 2 classes" in at.success[0].value
    at.button(key="use-data").click().run()
    assert_ok(at)
    assert at.session_state["w_dataset"].startswith("upload:") and at.query_params["data"].startswith("upload:")
    at.switch_page("views/spaces.py").run()
    assert_ok(at)
    assert "40 samples, 2 classes" in at.caption[0].value


def test_uploaded_embeddings_must_align_with_the_dataset():
    at = app(FAKE_TEXT).run()
    at.switch_page("views/upload.py").run()
    wrong = io.BytesIO()
    np.save(wrong, np.ones((7, 5), dtype=np.float32))
    at.get("file_uploader")[1].upload("a.npy", wrong.getvalue())
    at.run()
    assert not at.exception and len(at.error) == 1 and "150" in at.error[0].value
    right = io.BytesIO()
    np.save(right, np.random.default_rng(0).normal(size=(150, 5)).astype(np.float32))
    at.get("file_uploader")[1].set_value(("a.npy", right.getvalue(), "application/octet-stream"))
    at.run()
    assert_ok(at)
    at.button(key="use-encoder_a").click().run()
    at.switch_page("views/spaces.py").run()
    assert_ok(at)
    assert "a.npy (uploaded)" in at.caption[0].value and "(5-d)" in at.caption[0].value


def test_presets_are_valid_settings_offline_first():
    labels = [state.preset_label(p) for p in state.PRESETS]
    offline = [p for p in state.PRESETS if not p.online]
    assert labels[: len(offline)] == [state.preset_label(p) for p in offline], "offline presets come first"
    assert all(label.endswith("(needs internet)") for label in labels[len(offline):])
    for preset in state.PRESETS:
        settings, problems = state.from_query(state.to_query(preset.settings))
        assert settings == preset.settings and not problems


@pytest.mark.slow
def test_umap_maps_show_pca_first_then_umap_and_are_reused():
    at = app({**FAKE_IMAGE, "map": "umap"}).run()
    assert_ok(at)
    figs = figures(at)
    assert set(PANELS) <= set(figs)
    assert "UMAP" in figs["panel-rel-a"]["layout"]["title"]["text"]
    assert not any(key.startswith("preview-") for key in figs), "the PCA preview is replaced"
    first = data_points(figs["panel-rel-b"])
    assert all(np.isfinite(v).all() for v in first.values())
    at.run()
    assert_ok(at)
    again = data_points(figures(at)["panel-rel-b"])
    assert all(np.array_equal(first[i], again[i]) for i in first)


def test_online_preset_offline_is_a_readable_error(monkeypatch):
    monkeypatch.setenv("LATENT_OFFLINE", "1")
    online = next(p for p in state.PRESETS if p.online and p.settings.dataset.startswith("hf:"))
    at = app(state.to_query(online.settings)).run()
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "offline" in message.lower() and "What to do" in message


def test_tsne_panels_come_from_one_joint_fit():
    at = app({**FAKE_IMAGE, "map": "tsne"}).run()
    assert_ok(at)
    figs = figures(at)
    assert "t-SNE" in figs["panel-rel-b"]["layout"]["title"]["text"]
    rel_a, rel_b = data_points(figs["panel-rel-a"]), data_points(figs["panel-rel-b"])
    assert set(rel_a) == set(rel_b) and len(rel_a) == 120
    assert not np.allclose([rel_a[i] for i in rel_a], [rel_b[i] for i in rel_a])  # B is placed, not copied
