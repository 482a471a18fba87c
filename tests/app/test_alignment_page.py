"""The anchor modes without parallel anchors (issue 12): "a few known pairs + bootstrap" and "none (unsupervised)".

AppTest with the fake encoders; every number the pages show is recomputed here from the library's correspondence
functions and numpy, on the same inputs (the policy's sides: what each side holds, B's hidden order).
"""

from __future__ import annotations

import numpy as np
import pytest

import tests.app.fakes  # noqa: F401 - registers the fake: encoders
from app import state
from app.services import policy
from latent_core.correspondence import bootstrap_anchors
from latent_core.data import load_dataset
from latent_core.embed import embed_dataset
from latent_core.encoders import get_encoder
from latent_core.errors import InvalidParameterError
from latent_core.heads import make_head
from latent_core.stitching import stitch_eval
from tests.app.helpers import app, assert_ok, data_points, figures, ids_of, values

N, K, SEED = 240, 20, 0
FAKE = {"a": "fake:text-a", "b": "fake:text-b", "data": "bbc", "n": str(N), "k": str(K)}



@pytest.fixture(scope="module")
def spaces():
    data = load_dataset("bbc", n=N, seed=SEED)
    a = embed_dataset(get_encoder("fake:text-a"), data).numpy()
    b = embed_dataset(get_encoder("fake:text-b"), data).numpy()
    return data, a, b


def _reference(data, a, b, sides: str = policy.SAME, known: int = 10):
    """The bootstrap alignment computed here: the policy's sides, then the library, then pairs as dataset rows."""
    held_out = policy.held_out_rows(data.labels, SEED)
    side = policy.alignment_sides(len(data), held_out, policy.BOOTSTRAP, known, sides, SEED)
    found = bootstrap_anchors(b[side.rows_b], a[side.rows_a], side.seed_pairs,
                              matching="exact" if sides == policy.SAME else "soft", seed=SEED)
    rows = np.stack([side.rows_b[found.pairs[:, 0]], side.rows_a[found.pairs[:, 1]]], axis=1)
    return held_out, side, found, rows


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


# ---- the policy: what each side holds ----------------------------------------------------------------------------

def test_the_sides_never_hold_the_test_set_and_hide_the_truth(spaces):
    data, _, _ = spaces
    held_out = policy.held_out_rows(data.labels, SEED)
    for budget in (2, 30, 70):  # the split pages' test set, whatever their anchor budget
        assert np.array_equal(policy.make_split(data.labels, budget, SEED).test, held_out)
    rest = set(range(N)) - set(held_out.tolist())

    same = policy.alignment_sides(N, held_out, policy.BOOTSTRAP, 10, policy.SAME, SEED)
    assert set(same.rows_a.tolist()) == set(same.rows_b.tolist()) == rest
    assert not np.array_equal(same.rows_a, same.rows_b)  # B's order is hidden
    assert len(same.seed_pairs) == 10
    assert np.array_equal(same.rows_b[same.seed_pairs[:, 0]], same.rows_a[same.seed_pairs[:, 1]])

    different = policy.alignment_sides(N, held_out, policy.BOOTSTRAP, 10, policy.DIFFERENT, SEED)
    shared = set(different.rows_a.tolist()) & set(different.rows_b.tolist())
    assert shared == set(different.rows_b[different.seed_pairs[:, 0]].tolist()) and len(shared) == 10
    assert set(different.rows_a.tolist()) | set(different.rows_b.tolist()) == rest

    none = policy.alignment_sides(N, held_out, policy.UNSUPERVISED, 10, policy.DIFFERENT, SEED)
    assert none.seed_pairs.shape == (0, 2) and not set(none.rows_a.tolist()) & set(none.rows_b.tolist())

    with pytest.raises(InvalidParameterError, match="too few"):
        policy.alignment_sides(40, np.arange(16), policy.BOOTSTRAP, 50, policy.DIFFERENT, SEED)
    with pytest.raises(InvalidParameterError):
        policy.alignment_sides(N, held_out, policy.BOOTSTRAP, 2, policy.SAME, SEED)


def test_pair_anchors_take_the_most_confident_pairs_one_per_sample_by_hand():
    pairs = np.array([[5, 1], [5, 2], [6, 1], [7, 3], [8, 4], [9, 5]])
    rows_b, rows_a = policy.pair_anchors(pairs, 3)
    assert rows_b.tolist() == [5, 7, 8] and rows_a.tolist() == [1, 3, 4]


# ---- settings and the URL ----------------------------------------------------------------------------------------

def test_the_mode_goes_through_the_url_and_back():
    settings = state.Settings(anchor_mode="bootstrap", known_pairs=7, sides="different")
    query = state.to_query(settings)
    assert query == {"mode": "bootstrap", "pairs": "7", "sides": "different"}
    assert state.from_query(query) == (settings, [])
    parsed, problems = state.from_query({"mode": "magic", "pairs": "99", "sides": "both"})
    assert parsed == state.Settings() and len(problems) == 3
    assert "at most 50" in " ".join(problems)

    # The alignments below are the ones the other tests use (each is computed once per process).
    at = app({**FAKE, "mode": "none"}).run()
    assert_ok(at)
    assert at.radio(key="w_anchor_mode").value == "none" and at.radio(key="w_sides").value == "same"
    assert at.query_params["mode"] == "none" and "sides" not in at.query_params
    assert not at.get("slider") or "w_known_pairs" not in [s.key for s in at.slider]
    at.radio(key="w_anchor_mode").set_value("bootstrap").run()
    at.radio(key="w_sides").set_value("different").run()
    assert_ok(at)
    assert at.slider(key="w_known_pairs").value == 10
    assert (at.query_params["mode"], at.query_params["sides"]) == ("bootstrap", "different")
    again = app(dict(at.query_params)).run()  # the link reopens the same view
    assert_ok(again)
    assert (again.radio(key="w_anchor_mode").value, again.radio(key="w_sides").value) == ("bootstrap", "different")
    at.radio(key="w_anchor_mode").set_value("parallel").run()
    assert_ok(at)
    assert "mode" not in at.query_params
    assert len(ids_of(figures(at)["panel-rel-a"], "anchors")) == K  # parallel anchors again


# ---- the pages ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode,sides", [("bootstrap", "different"), ("none", "same")])
def test_the_modes_render_on_every_page(mode, sides):
    at = app({**FAKE, "mode": mode, "sides": sides}).run()
    assert_ok(at)
    assert "found by the alignment" in at.caption[0].value
    for page in ("views/similarity.py", "views/stitching.py"):
        at.switch_page(page).run()
        assert_ok(at)
    exact = _metric(at, "exact matches")
    assert exact == "—" if sides == "different" else exact.endswith("%")  # no exact pair between different samples
    assert "Stitched prediction" in at.success[0].value
    curve = next(f for f in figures(at).values() if "true anchors" in f["layout"]["title"]["text"])
    star = next(t for t in curve["data"] if t["name"].startswith(("bootstrap", "unsupervised")))
    assert values(star["x"])[0] == (10 if mode == "bootstrap" else 1)


def test_translated_and_relative_views_come_from_the_correspondence(spaces):
    data, a, b = spaces
    at = app({**FAKE, "mode": "bootstrap"}).run()
    assert_ok(at)
    figs = figures(at)
    _, _, found, rows = _reference(data, a, b)
    # B translated into A: the correspondence's translator on every B vector, drawn with A's PCA (numpy SVD).
    translated = found.translator.transform(b).numpy()
    centre = a.mean(0)
    axes = np.linalg.svd(a - centre, full_matrices=False)[2][:2]
    expected = (translated - centre) @ axes.T
    shown = data_points(figs["panel-translated"], suffix=" (B→A)")
    shown = np.array([shown[i] for i in data.ids])
    signs = np.sign(np.sum(shown * expected, axis=0))
    np.testing.assert_allclose(shown, expected * signs, atol=2e-3)
    # The relative views' anchors: the first K pairs whose B row and A row are both new, in confidence order.
    chosen_b, chosen_a, seen_b, seen_a = [], [], set(), set()
    for row_b, row_a in rows.tolist():
        if len(chosen_a) < K and row_b not in seen_b and row_a not in seen_a:
            seen_b.add(row_b), seen_a.add(row_a), chosen_b.append(row_b), chosen_a.append(row_a)
    assert ids_of(figs["panel-rel-a"], "anchors") == {data.ids[i] for i in chosen_a}
    assert ids_of(figs["panel-rel-b"], "anchors") == {data.ids[i] for i in chosen_b}
    assert ids_of(figs["panel-abs-b"], "anchors") == {data.ids[i] for i in chosen_b}


def test_matching_quality_equals_an_independent_recomputation(spaces):
    data, a, b = spaces
    at = app({**FAKE, "mode": "bootstrap"}).run()
    at.switch_page("views/stitching.py").run()
    assert_ok(at)
    held_out, side, found, rows = _reference(data, a, b)
    exact = np.mean(rows[:, 0] == rows[:, 1])
    purity = np.mean(data.labels[rows[:, 0]] == data.labels[rows[:, 1]])
    assert _metric(at, "exact matches") == f"{exact:.1%}"
    assert _metric(at, "class purity") == f"{purity:.1%}"
    assert _metric(at, "pairs found") == str(len(rows))
    # vec2vec's retrieval on the held-out test samples, by numpy.
    moved = found.translator.transform(b[held_out]).numpy().astype(np.float64)
    target = a[held_out].astype(np.float64)
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    target /= np.linalg.norm(target, axis=1, keepdims=True)
    cosines = moved @ target.T
    ranks = 1 + (cosines > np.diag(cosines)[:, None]).sum(1)
    assert _metric(at, "top-1 retrieval") == f"{np.mean(ranks == 1):.1%}"
    assert _metric(at, "mean rank") == f"{ranks.mean():.1f}"
    assert _metric(at, "mean cosine") == f"{np.diag(cosines).mean():.3f}"
    # The curve: Procrustes on random true anchors (stitch_eval), and the alignment's point, with one head.
    split = policy.make_split(data.labels, policy.split_budget(K, N), SEED)
    train = np.intersect1d(split.train, side.rows_a)
    head = make_head("logreg", SEED).fit(a[train], data.labels[train])
    aligned = np.mean(head.predict(found.translator.transform(b[held_out]).numpy()) == data.labels[held_out])
    curve = next(f for f in figures(at).values() if "true anchors" in f["layout"]["title"]["text"])
    star = next(t for t in curve["data"] if t["name"].startswith("bootstrap"))
    assert values(star["y"])[0] == pytest.approx(aligned)
    line = curve["data"][0]
    rng = np.random.default_rng([SEED, 3])
    counts = [int(c) for c in values(line["x"])]
    assert counts == [3, 10, 30, len(split.pool)]
    for position, (count, accuracy) in enumerate(zip(counts, values(line["y"]))):
        anchors = np.sort(rng.choice(split.pool, size=count, replace=False))  # the page's draws, in its order
        if position not in (0, len(counts) - 1):  # the fewest and the most anchors are enough
            continue
        reference = stitch_eval(a, b, data.labels, anchor_idx=anchors, method="translate:procrustes",
                                train_idx=train, test_idx=held_out, seed=SEED)
        assert accuracy == pytest.approx(reference.accuracy)
    # The live panel's translate:procrustes is the alignment's map: its confusion matrix gives the same accuracy.
    at.selectbox(key="live-method").set_value("translate:procrustes").run()
    assert_ok(at)
    caption = next(m.value for m in at.markdown if m.value.startswith("**Confusion matrix"))
    assert f"accuracy {aligned:.3f}" in caption


def test_an_alignment_that_does_not_fit_says_what_to_do():
    at = app({**FAKE, "n": "40", "mode": "bootstrap", "pairs": "50", "sides": "different"}).run()
    assert not at.exception
    assert len(at.error) == 1 and "too few" in at.error[0].value and "What to do" in at.error[0].value
