"""The one anchor and split policy: the rules by hand, and the same sidebar setting read on every page."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tests.app.fakes  # noqa: F401 - registers the fake encoders
from app.services import policy
from tests.app.helpers import app

N = 200  # test: 40% = 80; training keeps a quarter (50); the anchor pool is what is left: 70


def test_the_split_sizes_of_two_hundred_samples_by_hand():
    assert policy.test_size_for(N) == 80
    assert policy.test_size_for(10_000) == 900  # the papers' cap
    assert policy.split_room(N) == N - 80 - 50
    assert policy.split_budget(30, N) == 30 and policy.split_budget(100, N) == 70
    assert policy.slider_max(N) == N - 1


def test_a_plan_that_fits_has_no_note_and_the_sidebars_count():
    assert policy.split_plan("kmeans", 30, N) == policy.AnchorPlan(30, "kmeans", "")
    assert policy.explorer_plan("kmeans", 30, ()) == policy.AnchorPlan(30, "kmeans", "")


def test_a_plan_that_differs_says_why():
    plan = policy.split_plan("random", 100, N)
    assert plan.count == 70
    assert plan.note == ("100 anchors do not fit beside the 80 test samples and the training set, so this page uses "
                         "70.")
    manual = policy.split_plan("manual", 5, N)
    assert manual.strategy == "random" and "manual picks could fall in the test set" in manual.note.lower()
    assert policy.explorer_plan("manual", 30, ("a", "b", "c")).count == 3  # the picks themselves


def test_too_few_samples_to_split_is_a_clear_error():
    from latent_core.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="too few to train and test"):
        policy.check_splittable(20)
    policy.check_splittable(40)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(40, 3000), k=st.integers(2, 1200), classes=st.integers(2, 6), seed=st.integers(0, 5))
def test_a_split_is_disjoint_stratified_and_keeps_the_plans_count(n, k, classes, seed):
    labels = np.arange(n) % classes
    plan = policy.split_plan("random", k, n)
    split = policy.make_split(labels, plan.count, seed)
    pool, train, test = (set(part.tolist()) for part in (split.pool, split.train, split.test))
    assert not (pool & train or pool & test or train & test)
    assert len(test) == policy.test_size_for(n) and len(train) >= n // policy.MIN_TRAIN_SHARE
    assert split.n_anchors == plan.count <= min(k, split.max_anchors) and plan.count >= 2
    assert (plan.count == k) == (plan.note == "")
    counts = np.bincount(labels[split.test], minlength=classes)  # stratified: class shares kept within one
    expected = len(test) * np.bincount(labels, minlength=classes) / n
    assert np.all(np.abs(counts - expected) <= 1 + 1e-9), (counts, expected)


def _anchor_counts(k: int) -> dict[str, tuple[int, str]]:
    """The anchor count (and the note, if any) each page states for the same sidebar setting."""
    at = app({"a": "fake:text-a", "b": "fake:text-b", "data": "bbc", "n": str(N), "k": str(k)})
    at.run()
    out = {}
    for page, pattern in (("spaces", r"(\d+) anchors \(random\)"), ("stitching", r"(\d+) anchors \(random\)"),
                          ("similarity", r"(?:of the|All) (\d+) anchors")):
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception and not at.error, (page, at.exception, [e.value for e in at.error])
        text = " ".join(c.value for c in [*at.caption, *at.markdown])
        notes = [c.value for c in at.caption if c.value.startswith("ℹ️")]
        out[page] = (int(re.search(pattern, text).group(1)), " ".join(notes))
    at.session_state["learn_step"] = 3
    at.switch_page("views/learn.py").run()
    line = next(m.value for m in at.markdown if re.match(r"\*\*\d+ anchors ·", m.value))
    out["learn"] = (int(re.match(r"\*\*(\d+)", line).group(1)),
                    " ".join(c.value for c in at.caption if c.value.startswith("ℹ️")))
    return out


@pytest.mark.slow
def test_one_sidebar_setting_gives_one_anchor_count_on_every_page():
    counts = _anchor_counts(30)
    assert {count for count, _ in counts.values()} == {30}, counts
    assert not any(note for _, note in counts.values()), counts


@pytest.mark.slow
def test_a_page_that_uses_fewer_anchors_says_why():
    counts = _anchor_counts(100)
    assert counts["spaces"][0] == counts["similarity"][0] == 100
    for page in ("stitching", "learn"):
        count, note = counts[page]
        assert count == 70 and "100 anchors do not fit beside the 80 test samples" in note, (page, counts)
