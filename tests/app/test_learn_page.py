"""AppTest of the Learn page (the eight-step lesson) with fake encoders."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.stats import ortho_group
from sklearn.linear_model import LogisticRegression

import tests.app.fakes  # noqa: F401 - registers the fake: encoders
from app.lesson import STEPS
from app.services import learn, policy
from app.services.crossmodal import OVERRIDE_PREFIX
from latent_core.anchors import select_anchors
from latent_core.correspondence import align_unpaired, bootstrap_anchors
from latent_core.data import load_dataset
from latent_core.embed import embed_dataset
from latent_core.encoders import get_encoder
from latent_core.metrics import matching_quality
from latent_core.stitching import split_indices, stitch_eval
from tests.app.helpers import app, assert_ok, figures, values

FAKE_TEXT = {"a": "fake:text-a", "b": "fake:text-b", "data": "bbc", "n": "200", "k": "30"}
CROSSMODAL = {OVERRIDE_PREFIX + field: value for field, value in (  # the Cross-modal page's overrides: step 8's too
    ("image_encoder", "fake:image-a"), ("text_encoder", "fake:text-a"), ("dataset", "captions:digits"),
    ("n_samples", 300))}
N, TEST, POOL, TRAIN = 200, 80, 70, 50  # test: 40% of 200; the pool leaves a quarter (50) of the samples to train
CHARTS = {1: {"learn-1-map-a", "learn-1-map-b", "learn-1-accuracy"}, 2: {"learn-2-heat-a", "learn-2-heat-b"},
          3: {"learn-3-rel-a", "learn-3-rel-b"}, 4: {"learn-4-accuracy"}, 5: {"learn-5-translated"},
          6: {"learn-6-unpaired-map", "learn-6-unpaired-accuracy"}, 7: {"learn-7-anchors"}, 8: {"learn-8-asif"}}
CONTROLS = {1: ("radio", "learn-feed"), 2: ("slider", "learn-heatmap_count"), 3: ("selectbox", "learn-projection"),
            4: ("radio", "learn-direction"), 5: ("selectbox", "learn-translator"), 6: ("radio", "learn-known_pairs"),
            7: ("slider", "learn-anchor_count"), 8: ("slider", "learn-pairs")}



def _learn(step: int = 1):
    at = app(FAKE_TEXT)
    for key, value in CROSSMODAL.items():
        at.session_state[key] = value
    if step > 1:
        at.session_state["learn_step"] = step - 1
    at.run()
    at.switch_page("views/learn.py").run()
    assert_ok(at)
    return at


def _next(at):
    at.button(key="learn-next-top").click().run()
    assert_ok(at)
    return at


def _previous(at):
    at.button(key="learn-previous-bottom").click().run()
    assert_ok(at)
    return at


def _control(at, step: int):
    kind, key = CONTROLS[step]
    return getattr(at, kind)(key=key)


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\*\*(\d\.\d{3})\*\*", text)]


def _line(at, start: str) -> str:
    return next(m.value for m in at.markdown if m.value.startswith(start))


def _spaces():
    data = load_dataset("bbc", n=N)
    a = embed_dataset(get_encoder("fake:text-a"), data).numpy()
    b = embed_dataset(get_encoder("fake:text-b"), data).numpy()
    return data, a, b


def test_every_step_renders_its_formula_figure_control_and_notice():
    at = _learn()
    for number, step in enumerate(STEPS, start=1):
        assert at.header[0].value == f"{number}. {step.title}"
        assert at.latex[0].value.strip("$\n ") == step.formula
        assert CHARTS[number] <= set(figures(at)), (number, set(figures(at)))
        for key in CHARTS[number]:
            assert figures(at)[key]["data"], f"step {number}: {key} is empty"
        assert _control(at, number).label.startswith(step.control)
        notices = [i.value for i in at.info if i.value.startswith("**What to notice:**")]
        assert notices == [f"**What to notice:** {step.notice}"]
        assert at.get("progress")[0].proto.text.startswith(f"Step {number} of {len(STEPS)}")
        assert at.query_params["step"] == str(number)
        assert at.query_params["a"] == "fake:text-a", "the sidebar's settings stay in the link"
        if number < len(STEPS):
            _next(at)
    assert at.button(key="learn-next-top").disabled and not at.button(key="learn-previous-top").disabled
    assert "CLIP" in [s.value for s in at.subheader] and len(at.latex) == 2  # ASIF's formula, then CLIP's
    for _ in STEPS[1:]:
        _previous(at)
    assert at.session_state["learn_step"] == 0 and at.button(key="learn-previous-top").disabled


def test_step_indicator_jumps_to_a_step():
    at = _learn()
    at.segmented_control(key="learn-indicator").set_value(4).run()
    assert_ok(at)
    assert at.header[0].value.startswith("5. ") and at.segmented_control(key="learn-indicator").value == 4


def test_step_one_accuracy_of_a_on_b_and_on_rotated_a_match_an_independent_logistic_regression():
    at = _learn()
    line = _line(at, "**Accuracy on")
    on_a, on_b = _numbers(line)
    assert f"**Accuracy on {TEST} test samples** (logistic regression trained on {TRAIN} samples" in line
    data, a, b = _spaces()
    pool, train, test = split_indices(data.labels, n_anchors=POOL, test_size=TEST, seed=0)
    assert len(train) == TRAIN
    # stitch_eval on the same split
    result = stitch_eval(a, b, data.labels, anchor_idx=pool, method="absolute", train_idx=train, test_idx=test)
    assert (on_a, on_b) == (round(result.a_accuracy, 3), round(result.accuracy, 3))
    # and from scratch: scikit-learn on A's training vectors (one RMS scale), B cut to A's 32 dimensions
    scale = np.sqrt(np.mean(np.square(a[train], dtype=np.float64)))
    head = LogisticRegression(C=1.0, max_iter=2000, random_state=0).fit(a[train] / scale, data.labels[train])
    b_as_a = b[test][:, : a.shape[1]]
    assert on_b == pytest.approx(np.mean(head.predict(b_as_a / scale) == data.labels[test]), abs=6e-4)
    assert on_a == pytest.approx(np.mean(head.predict(a[test] / scale) == data.labels[test]), abs=6e-4)
    bars = figures(at)["learn-1-accuracy"]["data"]
    assert [values(t["y"])[0] for t in bars[:2]] == pytest.approx([on_a, on_b], abs=6e-4)
    # A's own vectors, rotated: a random orthogonal matrix (scipy) keeps every angle, changes every coordinate
    at.radio(key="learn-feed").set_value("rotated").run()
    assert_ok(at)
    line = _line(at, "**Accuracy on")
    assert "on A's vectors rotated" in line and _numbers(line)[0] == on_a
    rotated = a @ ortho_group.rvs(a.shape[1], random_state=0).astype(np.float32)
    expected = np.mean(head.predict(rotated[test] / scale) == data.labels[test])
    assert _numbers(line)[1] == pytest.approx(expected, abs=6e-4)


def test_step_four_stitching_beats_absolute_and_runs_both_ways():
    at = _learn(4)
    line = _line(at, f"**30 anchors · {TRAIN} training and {TEST} test samples**")
    stitched, absolute, own = _numbers(line)
    data, a, b = _spaces()
    pool, train, test = split_indices(data.labels, n_anchors=POOL, test_size=TEST, seed=0)
    anchors = pool[select_anchors(a[pool], 30, "random", labels=data.labels[pool], seed=0).numpy()]
    relative = stitch_eval(a, b, data.labels, anchor_idx=anchors, method="relative:cosine", train_idx=train,
                           test_idx=test)
    assert (stitched, own) == (round(relative.accuracy, 3), round(relative.a_accuracy, 3))
    assert 0 <= absolute <= 1
    at.radio(key="learn-direction").set_value("b_to_a").run()
    assert_ok(at)
    reverse = stitch_eval(b, a, data.labels, anchor_idx=anchors, method="relative:cosine", train_idx=train,
                          test_idx=test)
    assert _numbers(_line(at, "**30 anchors"))[0] == round(reverse.accuracy, 3)
    assert figures(at)["learn-4-accuracy"]["layout"]["title"]["text"].startswith("A classifier trained on B")


def test_step_four_on_images_relative_stitching_beats_absolute():
    at = app({"a": "fake:image-a", "b": "fake:image-b", "data": "digits", "n": "200", "k": "30"})
    # digits pixels: a space a linear head classifies well, even from 50 training samples
    at.session_state["learn_step"] = 3
    at.run()
    at.switch_page("views/learn.py").run()
    assert_ok(at)
    stitched, absolute, own = _numbers(_line(at, "**30 anchors"))
    chance = float(re.search(r"chance \((\d\.\d\d)\)", str(figures(at)["learn-4-accuracy"]["data"])).group(1))
    assert stitched > absolute + 0.2 and own > chance + 0.3, (stitched, absolute, own, chance)


def test_a_changed_control_is_kept_when_coming_back():
    at = _learn(3)
    before = figures(at)["learn-3-rel-b"]
    at.selectbox(key="learn-projection").set_value("euclidean").run()
    assert_ok(at)
    assert "similarity **euclidean**" in _line(at, "**30 anchors**")
    changed = figures(at)["learn-3-rel-b"]
    assert changed != before
    _next(at)
    assert "learn-projection" not in at.session_state  # Streamlit dropped the undrawn widget's own state...
    _next(at)
    _previous(at)
    _previous(at)
    assert at.selectbox(key="learn-projection").value == "euclidean"  # ...the page kept the value
    assert "similarity **euclidean**" in _line(at, "**30 anchors**")
    assert figures(at)["learn-3-rel-b"] == changed
    # a slider and a radio too, across the whole lesson
    _previous(at)
    at.slider(key="learn-heatmap_count").set_value(12).run()
    _previous(at)
    at.radio(key="learn-feed").set_value("rotated").run()
    assert_ok(at)
    assert "on A's vectors rotated" in _line(at, "**Accuracy on")
    at.segmented_control(key="learn-indicator").set_value(7).run()
    at.segmented_control(key="learn-indicator").set_value(0).run()
    assert_ok(at)
    assert at.radio(key="learn-feed").value == "rotated"
    assert "on A's vectors rotated" in _line(at, "**Accuracy on")
    _next(at)
    assert at.slider(key="learn-heatmap_count").value == 12
    assert values(figures(at)["learn-2-heat-a"]["data"][0]["z"]).shape == (12, 12)


def test_step_six_aligns_b_in_a_hidden_order_and_its_numbers_match_a_recomputation():
    at = _learn(6)
    assert at.radio(key="learn-known_pairs").value == 0 and at.selectbox(key="learn-unpaired_method").value == "auto"
    matched = POOL + TRAIN  # every sample outside the test set (fewer than the step's cap)
    line = _line(at, f"**{matched} samples** of B in a hidden order")
    assert "no pairs at all" in line
    exact, purity, stitched, true, own = _numbers(line)
    data, a, b = _spaces()
    labels = data.labels
    pool, train, test = split_indices(labels, n_anchors=POOL, test_size=TEST, seed=0)
    rows = np.union1d(pool, train)
    order = np.random.default_rng(0).permutation(len(rows))  # the hidden order: B's row s is sample rows[order[s]]
    source, target = b[rows[order]], a[rows]

    def check(found, numbers):
        quality = matching_quality(found.pairs, rows[order], rows, labels[rows[order]], labels[rows])
        assert numbers[:2] == [round(quality["exact"], 3), round(quality["purity"], 3)]
        # A's classifier from scratch (scikit-learn, one RMS scale) on B's test samples carried into A by the map
        scale = np.sqrt(np.mean(np.square(a[train], dtype=np.float64)))
        head = LogisticRegression(C=1.0, max_iter=2000, random_state=0).fit(a[train] / scale, labels[train])
        translated = found.translator.transform(b[test]).numpy()
        assert numbers[2] == pytest.approx(np.mean(head.predict(translated / scale) == labels[test]), abs=6e-4)
        return quality["exact"]

    unsupervised = check(align_unpaired(source, target, method="auto", seed=0), [exact, purity, stitched])
    # the reference: the same rotation (Procrustes) fitted on step 4's 30 true anchors
    anchors = pool[select_anchors(a[pool], 30, "random", labels=labels[pool], seed=0).numpy()]
    reference = stitch_eval(a, b, labels, anchor_idx=anchors, method="translate:procrustes", train_idx=train,
                            test_idx=test)
    assert (true, own) == (round(reference.accuracy, 3), round(reference.a_accuracy, 3))
    bars = {t["name"]: values(t["y"]) for t in figures(at)["learn-6-unpaired-accuracy"]["data"] if t["type"] == "bar"}
    assert bars["stitched accuracy"] == pytest.approx([stitched, true], abs=6e-4)
    assert bars["pairs exactly right"] == pytest.approx([unsupervised, 1.0])
    overlay = [t for t in figures(at)["learn-6-unpaired-map"]["data"] if t.get("name", "").endswith("(B→A)")]
    assert overlay and all(t["marker"]["symbol"] == "x" for t in overlay)

    # ten known pairs (B's first ten rows, with their A rows), grown by bootstrapping
    at.radio(key="learn-known_pairs").set_value(10).run()
    assert_ok(at)
    line = _line(at, f"**{matched} samples**")
    assert "10 known pairs + bootstrap" in line
    numbers = _numbers(line)
    assert numbers[3:] == [true, own]
    grown = check(bootstrap_anchors(source, target, np.stack([np.arange(10), order[:10]], 1), seed=0), numbers[:3])
    bars = {t["name"]: values(t["y"]) for t in figures(at)["learn-6-unpaired-accuracy"]["data"] if t["type"] == "bar"}
    assert bars["stitched accuracy"] == pytest.approx([stitched, numbers[2], true], abs=6e-4)
    assert bars["pairs exactly right"] == pytest.approx([unsupervised, grown, 1.0])
    _next(at)
    _previous(at)
    assert at.radio(key="learn-known_pairs").value == 10


def test_step_six_matches_only_samples_outside_the_test_set():
    split = policy.Split(pool=np.arange(0, 400), train=np.arange(400, 1300), test=np.arange(1300, 2000), n_anchors=30)
    hidden = learn.hidden_order(split, seed=3)
    assert len(hidden.rows) == learn.MATCH_MAX and np.all(hidden.rows < 1300)
    assert sorted(hidden.order) == list(range(learn.MATCH_MAX))
    known = hidden.known_pairs(3)
    assert np.array_equal(hidden.rows[hidden.order[known[:, 0]]], hidden.rows[known[:, 1]])  # true pairs


def test_step_seven_recomputes_for_the_chosen_anchors_and_keeps_every_try():
    at = _learn(7)
    assert at.slider(key="learn-anchor_count").value == 30 and at.slider(key="learn-anchor_count").max == POOL
    at.slider(key="learn-anchor_count").set_value(12)
    at.selectbox(key="learn-anchor_strategy").set_value("kmeans").run()
    assert_ok(at)
    stitched = _numbers(_line(at, "**12 kmeans anchors**"))[0]
    data, a, b = _spaces()
    pool, train, test = split_indices(data.labels, n_anchors=POOL, test_size=TEST, seed=0)
    anchors = pool[select_anchors(a[pool], 12, "kmeans", labels=data.labels[pool], seed=0).numpy()]
    result = stitch_eval(a, b, data.labels, anchor_idx=anchors, method="relative:cosine", train_idx=train,
                         test_idx=test)
    assert stitched == round(result.accuracy, 3)
    traces = {t["name"]: t for t in figures(at)["learn-7-anchors"]["data"]}
    assert list(values(traces["random"]["x"])) == [5, 20, 30, 50]  # the first visit, then the slider's value
    assert list(values(traces["kmeans"]["x"])) == [5, 12, 20, 50]
    kmeans = dict(zip(values(traces["kmeans"]["x"]), values(traces["kmeans"]["y"])))
    assert kmeans[12] == pytest.approx(result.accuracy)
    assert list(values(traces["your choice"]["x"])) == [12]
    _previous(at)
    _next(at)
    assert at.slider(key="learn-anchor_count").value == 12
    assert at.selectbox(key="learn-anchor_strategy").value == "kmeans"


def test_presenter_mode_enlarges_the_text_and_stays_on_across_steps():
    at = _learn(2)
    assert not any("<style>" in m.value for m in at.markdown)
    at.toggle(key="learn-presenter").set_value(True).run()
    assert_ok(at)
    assert any("<style>" in m.value and "font-size" in m.value for m in at.markdown)
    assert figures(at)["learn-2-heat-a"]["layout"]["font"]["size"] == 18
    _next(at)
    _next(at)
    assert at.toggle(key="learn-presenter").value
    assert any("<style>" in m.value for m in at.markdown)
    assert figures(at)["learn-4-accuracy"]["layout"]["font"]["size"] == 18
    at.switch_page("views/spaces.py").run()
    at.switch_page("views/learn.py").run()
    assert_ok(at)
    assert at.toggle(key="learn-presenter").value and at.header[0].value.startswith("4. ")


def test_step_eight_asif_on_the_crossmodal_pages_data():
    at = _learn(8)
    line = _line(at, "**240 image/caption pairs**")  # 300 digits, a fifth (60) kept as test images
    assert "`fake:image-a`" in line and "captions:digits" in line
    accuracy, = _numbers(line)
    bars = figures(at)["learn-8-asif"]["data"]
    assert values(bars[0]["y"])[0] == pytest.approx(accuracy, abs=6e-4)
    gallery = [element for element in at.get("image") if len(element.captions) == 12]
    assert len(gallery) == 1 and all(c.startswith(("✓", "✗")) for c in gallery[0].captions)
    at.slider(key="learn-pairs").set_value(40).run()
    assert_ok(at)
    assert "on 260 test images" in _line(at, "**40 image/caption pairs**")
    _previous(at)
    _next(at)
    assert at.slider(key="learn-pairs").value == 40


def test_a_broken_scenario_shows_a_readable_error_and_keeps_the_navigation():
    at = app({**FAKE_TEXT, "b": "fake:image-b"})
    at.run()
    at.switch_page("views/learn.py").run()
    assert not at.exception
    assert len(at.error) == 1 and "reads images" in at.error[0].value and "What to do" in at.error[0].value
    at.button(key="learn-next-top").click().run()
    assert not at.exception and at.header[0].value.startswith("2. ")


def test_a_link_with_a_step_opens_that_step_and_keeps_it_in_the_url():
    at = app({**FAKE_TEXT, "step": "3"}).run()
    at.switch_page("views/learn.py").run()
    assert_ok(at)
    assert at.header[0].value.startswith("3.")
    assert at.query_params["step"] == "3" and at.query_params["a"] == "fake:text-a"
