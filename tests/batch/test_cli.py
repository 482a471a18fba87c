"""``python -m latent_core.batch``: fit-translator, translate and project end to end on tiny tables (in process, on
the session's Ray), and bad inputs ending with exit code 2 and a one-line message (subprocesses, no Ray)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latent_core.batch import store
from latent_core.batch.cli import COMMANDS, build_parser, main
from latent_core.batch.pipeline import numpy_rows
from latent_core.batch.translator_io import load_translator
from latent_core.relative import relative_projection

ROOT = Path(__file__).resolve().parents[2]
ROWS = 300


@pytest.fixture
def tables(tmp_path):
    """``old`` [300, 16] and ``new`` [240 shared ids, 12] in one LanceDB folder."""
    rng = np.random.default_rng(3)
    old = rng.normal(size=(ROWS, 16)).astype(np.float32)
    new = (old @ rng.normal(size=(16, 12)) + 0.01 * rng.normal(size=(ROWS, 12))).astype(np.float32)
    ids = [f"d{i:03d}" for i in range(ROWS)]
    db = tmp_path / "db"
    store.create_table(db, "old", store.make_batch(ids, old))
    store.create_table(db, "new", store.make_batch(ids[:240], new[:240]))
    return db, ids, old


def test_every_command_module_registers():
    parser = build_parser()
    names = set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001 (argparse has no public accessor)
    assert {"fit-translator", "translate", "project"} <= names
    assert COMMANDS == ("encode", "passages", "fit_translator", "translate", "project", "evaluate")
    assert {"encode", "passages", "evaluate"} <= names


@pytest.mark.slow
def test_fit_translate_project_end_to_end(tables, tmp_path, ray_local, capsys):
    db, ids, old = tables
    assert main(["fit-translator", "--old-uri", str(db), "--old-table", "old", "--new-table", "new",
                 "--out", str(tmp_path / "tr"), "--estimator", "linear", "--max-anchors", "200",
                 "--old-fingerprint", "old-fp", "--new-fingerprint", "new-fp"]) == 0
    translator, meta = load_translator(tmp_path / "tr")
    assert len(meta["anchor_ids"]) == 200 and set(meta["anchor_ids"]) <= set(ids[:240])
    assert meta["fingerprints"] == {"source": "old-fp", "target": "new-fp"}

    assert main(["translate", "--uri", str(db), "--table", "old", "--translator", str(tmp_path / "tr"),
                 "--out-table", "moved", "--batch-size", "64", "--no-progress"]) == 0
    got_ids, vectors = numpy_rows(store.open_table(db, "moved"))
    assert sorted(got_ids) == ids
    order = np.argsort(got_ids)
    np.testing.assert_allclose(vectors[order], translator.transform(old).numpy(), atol=1e-5)

    assert main(["project", "--uri", str(db), "--table", "old", "--anchors", str(tmp_path / "anchors"),
                 "--save-anchors", "10", "--out-table", "rel", "--no-progress"]) == 0
    got_ids, rel = numpy_rows(store.open_table(db, "rel"), "relative")
    order = np.argsort(got_ids)
    np.testing.assert_allclose(rel[order], relative_projection(old, old[:10]).numpy(), atol=1e-5)
    out = capsys.readouterr().out
    assert "fitted on 200 anchor pairs" in out and "moved: 300 rows [16] -> [12]" in out


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "latent_core.batch", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_bad_inputs_exit_2_with_one_line(tables, tmp_path):
    db, _, _ = tables
    missing = _cli("translate", "--uri", str(db), "--table", "absent", "--translator", str(tmp_path),
                   "--out-table", "x")
    assert missing.returncode == 2, missing.stderr
    assert "Traceback" not in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    assert missing.stderr.startswith("error: No saved translator")
    estimator = _cli("fit-translator", "--old-uri", str(db), "--old-table", "old", "--new-table", "nope",
                     "--out", str(tmp_path / "t"), "--estimator", "procrustes")
    assert estimator.returncode == 2 and estimator.stderr.startswith("error: No LanceDB table 'nope'")
    assert len(estimator.stderr.strip().splitlines()) == 1


def test_unknown_estimator_and_wrong_dimension_in_process(tables, tmp_path, capsys):
    db, _, _ = tables
    assert main(["fit-translator", "--old-uri", str(db), "--old-table", "old", "--new-table", "new",
                 "--out", str(tmp_path / "t"), "--estimator", "magic"]) == 2
    assert "Unknown translator 'magic'" in capsys.readouterr().err
    assert main(["fit-translator", "--old-uri", str(db), "--old-table", "old", "--new-table", "new",
                 "--out", str(tmp_path / "t")]) == 0
    # the translator maps 16 -> 12; the "new" table holds 12-d vectors: refused before Ray starts
    assert main(["translate", "--uri", str(db), "--table", "new", "--translator", str(tmp_path / "t"),
                 "--out-table", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Column 'vector' of 'new' holds [12] vectors") and err.count("\n") == 1


@pytest.mark.parametrize("command", ["encode", "translate", "project"])
@pytest.mark.parametrize("option, value", [("--batch-size", "0"), ("--concurrency", "-1"), ("--batch-size", "x")])
def test_non_positive_ray_options_are_argparse_errors(command, option, value, capsys):
    """Every command takes --batch-size / --concurrency from options.add_ray_options: positive integers only,
    refused at parse time (exit 2, usage + one error line, no traceback), before Ray or any file is touched."""
    required = {"encode": ["in.parquet", "--uri", "db", "--table", "t", "--encoder", "onnx:paraphrase-MiniLM-L3-v2"],
                "translate": ["--uri", "db", "--table", "t", "--translator", "tr", "--out-table", "x"],
                "project": ["--uri", "db", "--table", "t", "--anchors", "a", "--out-table", "x"]}[command]
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args([command, *required, option, value])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert err.startswith("usage:") and "Traceback" not in err
    assert errors == [err.strip().splitlines()[-1]] and len(errors) == 1
    assert f"argument {option}: expected a positive integer, got " in errors[0]


@pytest.mark.parametrize("value", ["0", "-3"])
def test_encode_max_fragments_must_be_positive(value, capsys):
    """--max-fragments 0 used to run nothing and say nothing; now a parse-time error like the Ray options."""
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["encode", "in.parquet", "--uri", "db", "--table", "t", "--encoder", "x",
                                   "--max-fragments", value])
    assert stopped.value.code == 2
    assert "argument --max-fragments: expected a positive integer" in capsys.readouterr().err


def test_encode_ray_option_defaults():
    args = build_parser().parse_args(["encode", "in.parquet", "--uri", "db", "--table", "t", "--encoder", "x"])
    assert (args.batch_size, args.concurrency, args.num_gpus, args.address, args.no_progress) == (64, 1, None,
                                                                                                   None, False)
