"""Adding a translator or a metric is one registered function: it appears in the app's tables and choices and in
the CLI's table with no other edit (registered at runtime here, removed afterwards)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import tests.app.fakes  # noqa: F401 - registers the fake encoders in this process
from app.services import stitching as lab
from latent_core.explore import METRICS, register_metric
from latent_core.linalg import match_dim
from latent_core.translate import TRANSLATORS, Translator, register_translator
from tests.app.helpers import app, assert_ok

FAKE_IMAGE = {"a": "fake:image-a", "b": "fake:image-b", "data": "digits", "n": "200", "k": "30"}
FAKE_TEXT = {"a": "fake:text-a", "b": "fake:text-b", "data": "bbc", "n": "150", "k": "20"}



@pytest.fixture
def crop_translator():
    """A translator that keeps B's first coordinates (after scaling): real, and worse than Procrustes."""

    @register_translator("crop", column="cropped", live=True)
    class Crop(Translator):
        def _fit_scaled(self, source, target):
            pass

        def _map(self, source):
            return match_dim(source, self.target_dim_)

    yield "crop"
    TRANSLATORS.unregister("crop")


@pytest.fixture
def width_metric():
    """A metric with a value anyone can check: the ratio of the two sides' dimensions."""
    register_metric("width ratio", help="Columns of the A side over columns of the B side.")(
        lambda x, y, k: x.shape[1] / y.shape[1])
    yield "width ratio"
    METRICS.unregister("width ratio")


def test_a_new_translator_joins_the_stitching_table_and_the_live_choices(isolated_cache, crop_translator):
    at = app(FAKE_IMAGE)
    at.run()
    at.switch_page("views/stitching.py").run()
    assert_ok(at)
    assert "translate:crop" in at.selectbox(key="live-method").options
    at.selectbox(key="live-method").set_value("translate:crop").run()
    assert_ok(at)
    assert "Stitched prediction" in at.success[0].value
    at.number_input(key="table-seeds").set_value(1).run()
    at.button(key="table-run").click().run()
    assert_ok(at)
    table = at.dataframe[0].value.set_index("method")
    assert list(table.index) == list(lab.table_methods()) and table.index[-1] == "translate:crop"
    assert 0 <= table.loc["translate:crop", "stitched"] <= 1
    assert table.loc["translate:crop", "stitched"] < table.loc["translate:procrustes", "stitched"]
    assert "crop" in at.sidebar.selectbox(key="w_translator").options  # and the sidebar's translator


def test_a_new_translator_gets_a_column_in_the_cli_table(tmp_path, crop_translator, capsys):
    from latent_core.experiments.__main__ import main

    scenario = tmp_path / "crop.toml"
    scenario.write_text(textwrap.dedent("""
        name = "crop-check"
        dataset = "bbc"
        n_samples = 150
        pairs = [["fake:text-a", "fake:text-b"]]
        n_anchors = 20
        test_size = 40
        seeds = [0]
        sweep_pairs = 0
    """))
    assert main(["run", str(scenario), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    header = next(line for line in (tmp_path / "out" / "table.md").read_text().splitlines() if line.startswith("|"))
    assert "cropped" in [cell.strip() for cell in header.strip("|").split("|")]
    assert "translate:crop" in set(np.loadtxt(tmp_path / "out" / "results.csv", dtype=str, delimiter=",",
                                              skiprows=1, usecols=0))


def test_a_new_metric_joins_the_similarity_table_with_its_help(width_metric):
    at = app(FAKE_TEXT)
    at.run()
    at.switch_page("views/similarity.py").run()
    assert_ok(at)
    table = at.dataframe[0].value.set_index("comparison")
    assert "width ratio" in table.columns
    # fake:text-a is 32-d and fake:text-b 48-d; relative spaces have one column per anchor (20); translated B is A's
    assert table.loc["absolute A vs absolute B", "width ratio"] == f"{32 / 48:.3f}"
    assert table.loc["relative A vs relative B", "width ratio"] == "1.000"
    assert table.loc["B translated into A vs A", "width ratio"] == "1.000"
    assert any("**width ratio**: Columns of the A side over columns of the B side." in m.value for m in at.markdown)
