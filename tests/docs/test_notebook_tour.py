"""docs/notebooks/tour.ipynb: committed without outputs, in sync with its builder, and executed here.

The executed tour must run without an error, draw a real PNG in every cell tagged ``figure``, and report numbers
that are sane (relative and translated stitching work, absolute stitching collapses) and that agree with
independent numpy computations on the same embeddings and indices. The notebook writes its numbers to the JSON file
named by ``TOUR_RESULTS``; the kernel runs in the repository root with this process's environment (so
``LATENT_CACHE_DIR`` from tests/conftest.py) and this interpreter (ipykernel's ``python3`` kernelspec).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

NOTEBOOK_DIR = ROOT / "docs" / "notebooks"
NOTEBOOK = NOTEBOOK_DIR / "tour.ipynb"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIN_FIGURE_PIXELS = (300, 200)  # width, height: a figure, not an empty placeholder


def _builder():
    spec = importlib.util.spec_from_file_location("build_tour", NOTEBOOK_DIR / "build_tour.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png_size(data: str) -> tuple[int, int]:
    """Width and height from a base64 PNG's IHDR chunk (raises on anything that is not a PNG)."""
    raw = base64.b64decode(data)
    assert raw[:8] == PNG_SIGNATURE and raw[12:16] == b"IHDR", "image/png output is not a PNG"
    return struct.unpack(">II", raw[16:24])


def _text(cell) -> str:
    """Everything a code cell printed or displayed as text."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def test_committed_notebook_is_the_builders_output_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    committed = nbformat.read(NOTEBOOK, as_version=4)
    for cell in committed.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {cell.id} carries outputs"
    assert nbformat.writes(committed) == nbformat.writes(_builder().build()), (
        "tour.ipynb differs from build_tour.py: run .venv/bin/python docs/notebooks/build_tour.py")
    assert committed.metadata.kernelspec.name == "python3"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The tour executed once by nbclient: ``(notebook, results dict)``."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    results_path = tmp_path_factory.mktemp("tour") / "results.json"
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOUR_RESULTS", str(results_path))
        # One BLAS/OpenMP thread: on 2 shared cores more threads only oversubscribe (FACTS.md section 7).
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            patch.setenv(name, "1")
        # iopub_timeout: how long outputs may trail a cell's reply (4 s by default: a figure rendered on a busy
        # machine could arrive later and be dropped without an error)
        client = nbclient.NotebookClient(notebook, timeout=600, iopub_timeout=120, kernel_name="python3",
                                         resources={"metadata": {"path": str(ROOT)}})
        client.execute()
    assert results_path.exists(), "the tour did not write its results (TOUR_RESULTS)"
    return notebook, json.loads(results_path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_tour_runs_in_this_venv_and_every_figure_cell_draws_a_png(executed):
    notebook, results = executed
    assert Path(results["python"]).resolve() == Path(sys.executable).resolve()
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(output["output_type"] != "error" for cell in code_cells for output in cell.outputs)
    figure_cells = [cell for cell in code_cells if "figure" in cell.metadata.get("tags", [])]
    assert len(figure_cells) == sum(figure for _, _, figure in _builder().CELLS) >= 6
    for cell in figure_cells:
        images = [output["data"]["image/png"] for output in cell.outputs if "image/png" in output.get("data", {})]
        assert len(images) == 1, f"figure cell {cell.id} produced {len(images)} images"
        width, height = _png_size(images[0])
        assert width >= MIN_FIGURE_PIXELS[0] and height >= MIN_FIGURE_PIXELS[1], (cell.id, width, height)
    assert results["seconds"] < 120, f"the tour took {results['seconds']:.0f} s; it should take about a minute"


@pytest.mark.slow
def test_tour_numbers_are_sane(executed):
    _, results = executed
    assert results["n_samples"] == 2225 and (results["dim_a"], results["dim_b"]) == (384, 768)
    assert results["n_anchors"] + results["n_train"] + results["n_test"] == results["n_samples"]
    stitch, chance = results["stitch"], results["stitch_chance"]
    assert stitch["relative"] > 0.8 > stitch["absolute"]
    assert stitch["translated"] > 0.8
    assert abs(stitch["absolute"] - chance) < 0.15, "absolute stitching should collapse to about chance"
    assert results["translated_cosine"] > results["translated_cosine_other"] + 0.2
    assert results["rel_cosine_same"] > results["rel_cosine_other"]
    assert results["translated_top1"] > 0.5 and results["translated_mrr"] >= results["translated_top1"]
    for comparison, row in results["metrics"].items():
        for metric, value in row.items():
            if value is not None:
                assert -1e-6 <= value <= 1 + 1e-6, (comparison, metric, value)
    assert results["metrics"]["absolute"]["MRR"] is None  # different widths: undefined, not made up
    atlas = results["atlas"]["trained on atlas"]
    assert min(atlas.values()) > 0.8


@pytest.mark.slow
def test_tour_numbers_match_independent_numpy_and_are_the_printed_ones(executed):
    from latent_core.data import load_dataset
    from latent_core.embed import embed_dataset
    from latent_core.encoders import get_encoder

    notebook, results = executed
    dataset = load_dataset("bbc")
    a, b = (embed_dataset(get_encoder(spec, device="cpu"), dataset).double().numpy()
            for spec in ("st:sentence-transformers/all-MiniLM-L6-v2", "st:sentence-transformers/all-mpnet-base-v2"))
    test, anchors = np.asarray(results["test_idx"]), np.asarray(results["anchor_idx"])
    assert len(np.intersect1d(test, anchors)) == 0

    # linear CKA through the N x N Gram matrices (the notebook's goes through feature covariances)
    centring = np.eye(len(test)) - 1.0 / len(test)
    gram_a, gram_b = (centring @ (m[test] @ m[test].T) @ centring for m in (a, b))
    cka = np.sum(gram_a * gram_b) / np.sqrt(np.sum(gram_a * gram_a) * np.sum(gram_b * gram_b))
    assert results["metrics"]["absolute"]["linear CKA"] == pytest.approx(cka, abs=1e-4)

    def unit(m):
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    rel_a, rel_b = (unit(m[test]) @ unit(m[anchors]).T for m in (a, b))
    same = np.mean(np.sum(unit(rel_a) * unit(rel_b), axis=1))
    assert results["rel_cosine_same"] == pytest.approx(same, abs=1e-4)

    stitch = results["stitch"]
    builder = _builder()
    summary_index = [source for _, source, _ in builder.CELLS].index(builder.SUMMARY)
    summary = _text(notebook.cells[summary_index])
    assert "stitched accuracy" in summary
    assert f"relative {stitch['relative']:.3f}" in summary and f"absolute {stitch['absolute']:.3f}" in summary
