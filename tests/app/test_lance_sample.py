"""AppTest of the Upload page's batch-output section: a sample of LanceDB tables (``python -m latent_core.batch``
outputs) in the operator's folder, opened as spaces A and B in the explorer."""

from __future__ import annotations

import numpy as np
import pytest

import tests.app.fakes  # noqa: F401 - registers the fake: encoders in this process
from latent_core.batch import store
from tests.app.helpers import app, assert_ok, data_points, figures

FAKE_TEXT = {"a": "fake:text-a", "b": "fake:text-b", "data": "bbc", "n": "150", "k": "20"}


def _table(db, name, ids, dim, seed, column="vector", **extra):
    vectors = np.random.default_rng(seed).normal(size=(len(ids), dim)).astype(np.float32)
    store.create_table(db, name, store.make_batch(ids, vectors, column, extra))
    return vectors


@pytest.fixture
def lance_db(tmp_path, monkeypatch):
    """bodies_old (120 rows, 6-d, 3 string labels), bodies_moved (90 of its ids + 30 others, 4-d, and a 'relative'
    column), elsewhere (no shared id), no_vectors (no vector column)."""
    db = tmp_path / "db"
    ids = [f"doc-{i}" for i in range(120)]
    _table(db, "bodies_old", ids, 6, 0, label=[["x", "y", "z"][i % 3] for i in range(120)])
    moved_ids = ids[:90] + [f"new-{i}" for i in range(30)]
    batch = store.make_batch(moved_ids, np.random.default_rng(1).normal(size=(120, 4)).astype(np.float32))
    batch = batch.append_column("relative", store.vector_array(np.random.default_rng(2).normal(size=(120, 5))))
    store.create_table(db, "bodies_moved", batch)
    _table(db, "elsewhere", [f"other-{i}" for i in range(20)], 4, 3)
    import pyarrow as pa

    store.create_table(db, "no_vectors", pa.table({"id": ["a", "b"], "value": [1.0, 2.0]}))
    monkeypatch.setenv("LATENT_LANCE_DB", str(db))
    return db


def _upload_page(query=None):
    at = app({**FAKE_TEXT, **(query or {})}).run()
    at.switch_page("views/upload.py").run()
    return at


def _pick(at, a, b, rows=None):
    at.selectbox(key="lance-table-a").set_value(a)
    at.selectbox(key="lance-table-b").set_value(b)
    if rows is not None:
        at.number_input(key="lance-rows").set_value(rows)
    return at.run()


def test_without_a_configured_folder_the_section_says_how_to_enable_it(monkeypatch):
    monkeypatch.delenv("LATENT_LANCE_DB", raising=False)
    at = _upload_page()
    assert_ok(at)
    assert any("--lance-db" in info.value and "LATENT_LANCE_DB" in info.value for info in at.info)
    assert not [s for s in at.selectbox if s.key and s.key.startswith("lance-")]


def test_two_tables_are_matched_by_id_and_open_in_the_explorer(lance_db):
    at = _upload_page()
    assert_ok(at)
    assert at.selectbox(key="lance-table-a").options == ["bodies_moved", "bodies_old", "elsewhere", "no_vectors"]
    _pick(at, "bodies_old", "bodies_moved", rows=100)
    assert_ok(at)
    message = at.success[-1].value
    assert "100 rows sampled from bodies\\_old" in message and "of their ids are in bodies\\_moved" in message
    assert "3 classes from the label column of bodies\\_old" in message
    assert at.query_params["lance_a"] == ["bodies_old"] or at.query_params["lance_a"] == "bodies_old"
    # The sample is spread evenly over the table: one row in each stratum of 120/100 rows, so the matched ids are
    # those of the first 90 rows that were drawn (doc-0 .. doc-89), about 75 of them.
    matched = int(message.split("; ")[1].split(" of their ids")[0].replace(",", ""))
    assert 70 <= matched <= 80
    at.button(key="use-lance").click().run()
    assert_ok(at)
    assert at.session_state["w_encoder_a"].startswith("upload:") and at.session_state["w_dataset"].startswith("upload:")
    at.switch_page("views/spaces.py").run()
    assert_ok(at)
    figs = figures(at)
    for key in ("panel-abs-a", "panel-abs-b", "panel-rel-a", "panel-rel-b"):
        points = data_points(figs[key])
        assert len(points) == matched, key
    caption = at.caption[0].value
    assert f"{matched} samples, 3 classes" in caption and "(6-d)" in caption and "(4-d)" in caption


def test_one_table_with_two_vector_columns_and_no_label_is_one_class(lance_db):
    at = _upload_page()
    _pick(at, "bodies_moved", "bodies_moved", rows=50)
    assert_ok(at)
    assert at.selectbox(key="lance-column-a").value == "vector"
    assert at.selectbox(key="lance-column-b").value == "relative"  # the other column by default
    message = at.success[-1].value
    assert "50 rows sampled from bodies\\_moved (120 rows)" in message and "one class" in message
    at.button(key="use-lance").click().run()
    at.switch_page("views/spaces.py").run()
    assert_ok(at)
    assert len(data_points(figures(at)["panel-abs-b"])) == 50
    assert "(5-d)" in at.caption[0].value


def test_readable_errors_for_no_shared_ids_and_no_vector_column(lance_db):
    at = _upload_page()
    _pick(at, "bodies_old", "elsewhere")
    assert not at.exception and len(at.error) == 1
    assert "None of the" in at.error[0].value and "What to do" in at.error[0].value
    _pick(at, "no_vectors", "bodies_old")
    assert not at.exception and len(at.error) == 1
    assert "no vector column" in at.error[0].value and "What to do" in at.error[0].value


def test_a_corrupt_table_is_a_readable_error(lance_db):
    import shutil

    for item in (lance_db / "elsewhere.lance").iterdir():  # keep the folder, lose its manifest and data
        shutil.rmtree(item) if item.is_dir() else item.unlink()
    at = _upload_page()
    _pick(at, "elsewhere", "bodies_old")
    assert not at.exception and len(at.error) == 1
    assert "could not be read" in at.error[0].value and "What to do" in at.error[0].value
    assert str(lance_db) not in at.error[0].value  # never a server path


def test_the_row_cap_bounds_the_input(lance_db, monkeypatch):
    from app import safety

    monkeypatch.setattr(safety, "LOCAL_LIMITS", safety.Limits(max_samples=200_000, max_text_chars=20_000,
                                                              max_upload_mb=200, max_batch_rows=40))
    at = _upload_page()
    _pick(at, "bodies_old", "bodies_moved")
    assert at.number_input(key="lance-rows").max == 40 and at.number_input(key="lance-rows").value == 40
    assert "40 rows sampled" in at.success[-1].value
    from app.services import upload

    with pytest.raises(upload.BatchOutputError, match="1 to 40 rows"):
        upload.open_batch_sample("bodies_old", "vector", "bodies_moved", "vector", 41, 0)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc", "bodies_old/../no_vectors", "missing",
                                  "<img src=x onerror=alert(1)>"])
def test_a_table_name_from_the_link_must_be_listed(lance_db, name):
    at = _upload_page({"lance_a": name, "lance_b": "bodies_moved"})
    assert not at.exception and not at.error
    notes = [w.value for w in at.warning if "lance\\_a" in w.value]
    assert notes and "not one of the tables this server offers" in notes[0]
    assert all(name not in w.value for w in at.warning)  # never echoed
    assert at.selectbox(key="lance-table-a").value == "bodies_moved"  # the default, not the link's value
    assert at.selectbox(key="lance-table-b").value == "bodies_moved"
    assert at.query_params.get("lance_a") in ("bodies_moved", ["bodies_moved"])


def test_a_listed_name_in_the_link_is_preselected(lance_db):
    at = _upload_page({"lance_a": "bodies_old", "lance_b": "bodies_moved"})
    assert_ok(at)
    assert at.selectbox(key="lance-table-a").value == "bodies_old"


def test_the_service_refuses_unlisted_names(lance_db):
    from app.safety import RefusedSpec
    from app.services import upload

    for name in ("../db/bodies_old", "bodies_old.lance", str(lance_db / "bodies_old")):
        with pytest.raises(RefusedSpec):
            upload.vector_columns(name)


def test_a_large_table_is_sampled_by_the_service_capped_and_spread(tmp_path, monkeypatch):
    """The reads themselves are checked in tests/batch/test_store_sample.py (no scan, filtered lookups)."""
    db = tmp_path / "db"
    ids = [f"{i:06d}" for i in range(50_000)]
    _table(db, "big", ids, 8, 0, label=[i % 7 for i in range(50_000)])
    monkeypatch.setenv("LATENT_LANCE_DB", str(db))
    from app.services import upload

    monkeypatch.setattr(upload.uploads, "owned", lambda: {})
    assert upload.sample_cap(8) == 5000
    result = upload.open_batch_sample("big", "vector", "big", "vector", 5000, 0)
    assert (result.sampled, result.matched, result.rows_a, result.classes) == (5000, 5000, 50_000, 7)
    with pytest.raises(upload.BatchOutputError, match="1 to 5,000 rows"):
        upload.open_batch_sample("big", "vector", "big", "vector", 5001, 0)


def test_launch_option_sets_the_folder(tmp_path):
    from app import launch

    env = {}
    rest = launch.take_lance_db(["--lance-db", str(tmp_path), "--server.port=1"], env)
    assert rest == ["--server.port=1"] and env["LATENT_LANCE_DB"] == str(tmp_path.resolve())
    with pytest.raises(SystemExit):
        launch.take_lance_db(["--lance-db", str(tmp_path / "nope")], {})
    assert launch.take_lance_db(["--hosted"], env) == ["--hosted"]
