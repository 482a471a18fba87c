"""AppTest of the stitching lab (live prediction, confusion matrix, table, anchor curves) with fake encoders; the
shipped table and curves of the default scenario (used only for an exact fingerprint)."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import tests.app.fakes  # noqa: F401 - registers the fake: encoders
from app.services import spaces
from app.services import stitching as lab
from latent_core import bundle
from latent_core.data import load_dataset
from latent_core.embed import embed_dataset
from latent_core.encoders import get_encoder
from latent_core.stitching import SHIPPED_DIR, SHIPPED_ENV, spec_fingerprint, write_shipped
from tests.app.helpers import app, assert_ok, figures, values
from tests.conftest import ROOT

FAKE_TEXT = {"a": "fake:text-a", "b": "fake:text-b", "data": "bbc", "n": "200", "k": "30"}
FAKE_IMAGE = {"a": "fake:image-a", "b": "fake:image-b", "data": "digits", "n": "200", "k": "30"}



def _lab(query):
    at = app(query)
    at.run()
    at.switch_page("views/stitching.py").run()
    assert_ok(at)
    return at


def test_live_prediction_shows_three_heads_and_the_nearest_anchors(isolated_cache):
    at = _lab(FAKE_TEXT)
    figure = figures(at)["chart-0"]
    assert [t["name"] for t in figure["data"]] == ["B → A stitched (A's head)", "B's own head",
                                                   "A's head on A's encoding"]
    probabilities = [values(t["y"]) for t in figure["data"]]
    assert all(p.sum() == pytest.approx(1, abs=1e-5) for p in probabilities)
    names = figure["data"][0]["x"]
    assert f"**{names[int(np.argmax(probabilities[0]))]}**" in at.success[0].value
    # The anchors listed are the B-space cosine neighbours of the input among the anchors (numpy reference).
    data = load_dataset("bbc", n=200)
    b = embed_dataset(get_encoder("fake:text-b"), data).numpy()
    text = at.text_area(key="live-text").value
    query = get_encoder("fake:text-b").encode([text]).numpy()[0]
    shown = [m.value for m in at.markdown if m.value.startswith("`")]
    assert len(shown) == 5
    cosines = [float(s.split("`")[1]) for s in shown]
    assert cosines == sorted(cosines, reverse=True)
    all_cos = b @ query / np.linalg.norm(b, axis=1) / np.linalg.norm(query)
    assert max(cosines) <= all_cos.max() + 0.006

    at.text_area(key="live-text").set_value("Shares fell sharply on the stock market after weak profits").run()
    assert_ok(at)
    changed = [values(t["y"]) for t in figures(at)["chart-0"]["data"]]
    assert not np.allclose(changed[0], probabilities[0])


def test_confusion_matrix_counts_the_test_set(isolated_cache):
    at = _lab(FAKE_TEXT)
    matrix = values(figures(at)["chart-1"]["data"][0]["z"])
    test = lab.test_size_for(200)
    assert matrix.shape == (5, 5) and matrix.sum() == test
    caption = next(m.value for m in at.markdown if m.value.startswith("**Confusion matrix"))
    assert f"accuracy {np.trace(matrix) / matrix.sum():.3f}" in caption


def test_stitching_table_and_anchor_curves_compute_once_then_come_from_disk(isolated_cache):
    at = _lab(FAKE_IMAGE)  # digits pixels: a space a linear head classifies well
    at.number_input(key="table-seeds").set_value(2).run()
    at.button(key="table-run").click().run()
    assert_ok(at)
    table = at.dataframe[0].value
    assert list(table["method"]) == list(lab.table_methods())
    assert table["stitched"].between(0, 1).all() and (table["no stitch (A on A)"] > table["chance"]).all()
    assert (table.set_index("method").loc["relative:cosine", "stitched"]
            > table.set_index("method").loc["absolute", "stitched"])
    at.button(key="sweep-run").click().run()
    assert_ok(at)
    count_figure = next(f for f in figures(at).values() if "number of anchors" in f["layout"]["title"]["text"])
    xs = values(count_figure["data"][0]["x"])
    assert tuple(int(x) for x in xs) == lab.sweep_counts(lab.Settings(n_anchors=30), 200)
    again = _lab(FAKE_IMAGE)  # a new session: both come from the disk cache, no button needed
    again.number_input(key="table-seeds").set_value(2).run()
    assert len(again.dataframe) == 1 and not [b for b in again.button if b.key in ("table-run", "sweep-run")]


def test_image_input_sample_and_upload(isolated_cache):
    at = _lab(FAKE_IMAGE)
    assert "Stitched prediction" in at.success[0].value
    at.radio(key="live-source").set_value("Upload").run()
    at.get("file_uploader")[0].upload("notes.png", b"not really a png", "image/png")
    at.run()
    assert not at.exception and len(at.error) == 1 and "not a readable image" in at.error[0].value
    buffer = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((8, 8)) * 255).astype(np.uint8)).save(buffer, format="PNG")
    at.get("file_uploader")[0].set_value(("digit.png", buffer.getvalue(), "image/png"))
    at.run()
    assert_ok(at)
    assert "Stitched prediction" in at.success[0].value


# ---- shipped results: the default scenario's table and curves open at once --------------------------------------

FAKE_SETTINGS = lab.Settings(encoder_a="fake:image-a", encoder_b="fake:image-b", dataset="digits", n_samples=200,
                             n_anchors=30)  # FAKE_IMAGE as the sidebar reads it


def _fabricated(spec: dict, accuracy: float) -> pd.DataFrame:
    """A result no computation gives (every accuracy ``accuracy``): seeing it proves the shipped file was read."""
    rows = []
    for seed in spec["seeds"]:
        for strategy in spec.get("strategies", [spec.get("strategy")]):
            for count in spec.get("counts", [spec.get("n_anchors")]):
                for method in spec["methods"]:
                    rows.append({"method": method, "accuracy": accuracy, "a_accuracy": 0.9, "b_accuracy": 0.8,
                                 "macro_f1": accuracy, "a_macro_f1": 0.9, "b_macro_f1": 0.8, "chance": 0.1,
                                 "n_anchors": count, "n_train": 50, "n_test": 80, "seed": seed, "strategy": strategy})
    return pd.DataFrame(rows)


def _ship(folder, settings, accuracy=0.123, seeds=(0, 1, 2), inputs=None):
    """Ship a fabricated table (``seeds``) and sweep for ``settings`` into ``folder``, as the bundle script would."""
    n = settings.n_samples
    inputs = inputs or lab._inputs_print(settings.scenario)
    for spec in (lab.table_spec_for(settings, n, seeds), lab.sweep_spec_for(settings, n)):
        write_shipped(folder, spec, spec_fingerprint(spec, inputs), _fabricated(spec, accuracy))


def _buttons(at) -> set[str]:
    return {b.key for b in at.button if b.key in ("table-run", "sweep-run")}


def test_shipped_table_and_curves_show_without_a_click_for_their_setting_only(isolated_cache, tmp_path, monkeypatch):
    monkeypatch.setenv(SHIPPED_ENV, str(tmp_path / "shipped"))
    _ship(tmp_path / "shipped", FAKE_SETTINGS)
    at = _lab(FAKE_IMAGE)
    assert not _buttons(at)
    table = at.dataframe[0].value
    assert list(table["method"]) == list(lab.table_methods()) and (table["stitched"] == 0.123).all()
    count_figure = next(f for f in figures(at).values() if "number of anchors" in f["layout"]["title"]["text"])
    assert (values(count_figure["data"][0]["y"]) == 0.123).all()
    assert sum("shipped with the app" in c.value for c in at.caption) == 2
    assert not list((isolated_cache / "stitching").glob("*.csv")), "nothing was computed"
    # Another setting (2 seeds instead of 3) was not shipped: the table waits for its button, the curves stay.
    at.number_input(key="table-seeds").set_value(2).run()
    assert_ok(at)
    assert _buttons(at) == {"table-run"}
    at.button(key="table-run").click().run()
    assert_ok(at)
    assert not (at.dataframe[0].value["stitched"] == 0.123).any(), "computed, not shipped"


def test_a_fingerprint_mismatch_computes(isolated_cache, tmp_path, monkeypatch):
    folder = tmp_path / "shipped"
    monkeypatch.setenv(SHIPPED_ENV, str(folder))
    _ship(folder, FAKE_SETTINGS, inputs="0" * 64)  # shipped for other spaces: another fingerprint
    assert len(list(folder.glob("*.json"))) == 2
    at = _lab(FAKE_IMAGE)
    assert _buttons(at) == {"table-run", "sweep-run"}
    for path in folder.glob("*.json"):
        path.unlink()
    _ship(folder, FAKE_SETTINGS)  # the right file names, then each file's stored fingerprint edited
    for path in folder.glob("*.json"):
        stored = json.loads(path.read_text())
        path.write_text(json.dumps({**stored, "fingerprint": stored["fingerprint"][:-1] + "x"}))
    at = _lab(FAKE_IMAGE)
    assert _buttons(at) == {"table-run", "sweep-run"}
    at.button(key="table-run").click().run()
    assert_ok(at)
    assert not (at.dataframe[0].value["stitched"] == 0.123).any()


def test_the_bundle_ships_the_specs_the_lab_asks_for_by_default():
    settings = lab.Settings()
    n = len(spaces.scenario_data(settings.scenario))
    assert bundle.default_stitching_specs(n) == [lab.table_spec_for(settings, n, (0, 1, 2)),
                                                 lab.sweep_spec_for(settings, n)]


@pytest.mark.slow
def test_default_scenario_shows_the_shipped_table_and_curves_at_once(monkeypatch):
    monkeypatch.setenv("LATENT_CACHE_DIR", str(ROOT / ".cache" / "latent"))
    monkeypatch.delenv(SHIPPED_ENV, raising=False)
    at = app(timeout=600)
    at.run()
    at.switch_page("views/stitching.py").run()
    assert_ok(at)
    assert not _buttons(at)
    table = at.dataframe[0].value.set_index("method")
    shipped = {json.loads(p.read_text())["spec"]["kind"]: json.loads(p.read_text()) for p in SHIPPED_DIR.glob("*.json")}
    rows = pd.DataFrame(shipped["table"]["rows"], columns=shipped["table"]["columns"])
    expected = rows.groupby("method", sort=False)["accuracy"].mean()
    assert np.allclose(table.loc[expected.index, "stitched"], expected.values)
    assert table.loc["relative:cosine", "stitched"] > 0.7 > table.loc["absolute", "stitched"]
