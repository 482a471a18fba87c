"""The stitching table shares its heads across methods (one B-only reference head per split, not per method) and
gives exactly the numbers of fitting every head anew; thread limits around head fits; shipped results are used only
for an exact fingerprint."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import ortho_group

from latent_core import heads as heads_module
from latent_core import stitching as S
from latent_core.heads import limited_threads, make_head

METHODS = ("absolute", "relative:cosine", "relative:cosine+center", "relative:euclidean", "translate:procrustes",
           "translate:affine", "translate:linear")


def _spaces(seed=0, n=360, d=16, classes=5, noise=0.8):
    """Overlapping classes (accuracies well below 1, so equal numbers are not a coincidence); B is a noisy rotation
    of A, shifted, with 4 more dimensions mixed in."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    a = rng.normal(size=(classes, d))[labels] * 0.7 + rng.normal(size=(n, d))
    rotated = a @ ortho_group.rvs(d, random_state=seed) + rng.normal(size=(n, d)) * noise
    b = np.concatenate([rotated, rotated[:, :4] * 0.5 + rng.normal(size=(n, 4))], 1) + 0.5
    return a.astype(np.float32), b.astype(np.float32), labels


def _per_method(a, b, y, anchors, train, test, method, head, seed) -> S.StitchResult:
    """The table's numbers before heads were shared: every head fitted anew for every method."""
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    anchors, train, test = (torch.as_tensor(np.asarray(i)) for i in (anchors, train, test))
    space_map = S.SpaceMap(method).fit(a[anchors], b[anchors])
    y_train, y_test = y[train.numpy()], y[test.numpy()]
    head_a = make_head(head, seed).fit(space_map.a(a[train]).numpy(), y_train)
    stitched = S._scores(y_test, head_a.predict(space_map.b(b[test]).numpy()))
    same_a = S._scores(y_test, head_a.predict(space_map.a(a[test]).numpy()))
    head_b = make_head(head, seed).fit(space_map.b_native(b[train]).numpy(), y_train)
    same_b = S._scores(y_test, head_b.predict(space_map.b_native(b[test]).numpy()))
    return S.StitchResult(method, stitched[0], same_a[0], same_b[0], stitched[1], same_a[1], same_b[1],
                          S.chance_rate(y_train), len(anchors), len(train), len(test))


@pytest.mark.parametrize("head", ["logreg", "mlp"])
def test_table_equals_a_per_method_recomputation(head):
    a, b, y = _spaces()
    seeds = (0, 1) if head == "logreg" else (0,)
    methods = METHODS if head == "logreg" else ("absolute", "relative:cosine", "translate:procrustes")
    table = S.stitch_benchmark(a, b, y, methods=methods, n_anchors=30, test_size=120, seeds=seeds, head=head)
    rows = []
    for seed in seeds:
        pool, train, test = S.split_indices(y, n_anchors=30, test_size=120, seed=seed)
        anchors = S.draw_anchors(a, y, pool, 30, "random", seed)
        with limited_threads():
            rows += [{**_per_method(a, b, y, anchors, train, test, m, head, seed).as_dict(), "seed": seed,
                      "strategy": "random"} for m in methods]
    pd.testing.assert_frame_equal(table, pd.DataFrame(rows), check_exact=True)
    assert table.b_accuracy.nunique() > 1  # the numbers are not all the same by accident


@pytest.mark.parametrize("lookahead_bytes", [1, S.LOOKAHEAD_BYTES])  # one method ahead; all of them
def test_methods_prepared_ahead_in_a_thread_give_the_sequential_results(monkeypatch, lookahead_bytes):
    a, b, y = _spaces()
    pool, train, test = S.split_indices(y, n_anchors=30, test_size=120, seed=0)
    run, anchors = S._split_run(torch.as_tensor(a), torch.as_tensor(b), y, pool, train, test, "logreg", 0)
    expected = [run.evaluate(m, anchors) for m in METHODS]
    monkeypatch.setattr(S, "LOOKAHEAD_BYTES", lookahead_bytes)
    fresh, _ = S._split_run(torch.as_tensor(a), torch.as_tensor(b), y, pool, train, test, "logreg", 0)
    assert list(fresh.evaluate_many(METHODS, anchors)) == expected
    assert fresh.head_fits == run.head_fits


def test_an_error_in_the_prepared_work_surfaces_at_its_own_method(monkeypatch):
    a, b, y = _spaces()
    pool, train, test = S.split_indices(y, n_anchors=30, test_size=120, seed=0)
    run, anchors = S._split_run(torch.as_tensor(a), torch.as_tensor(b), y, pool, train, test, "logreg", 0)
    original = S.SplitRun.prepare

    def prepare(self, method, rows):
        if method == METHODS[2]:
            raise RuntimeError("broken projection")
        return original(self, method, rows)

    monkeypatch.setattr(S.SplitRun, "prepare", prepare)
    results = run.evaluate_many(METHODS, anchors)
    assert [next(results).method for _ in range(2)] == list(METHODS[:2])
    with pytest.raises(RuntimeError, match="broken projection"):
        next(results)


def test_one_raw_head_per_side_and_split():
    a, b, y = _spaces()
    pool, train, test = S.split_indices(y, n_anchors=30, test_size=120, seed=0)
    run, anchors = S._split_run(torch.as_tensor(a), torch.as_tensor(b), y, pool, train, test, "logreg", 0)
    results = [run.evaluate(m, anchors) for m in METHODS]
    # absolute and the 3 translators share A's and B's absolute heads; 3 relative methods fit 2 heads each
    assert run.head_fits == 2 + 2 * 3
    raw = [r for r in results if not r.method.startswith("relative")]
    assert len({r.b_accuracy for r in raw}) == 1 and len({r.a_accuracy for r in raw}) == 1
    run.evaluate("relative:cosine", anchors)  # same projection, same anchors: nothing new is fitted
    assert run.head_fits == 8
    run.evaluate("relative:cosine", anchors[:-1])
    assert run.head_fits == 10


def test_anchor_sweep_equals_per_method_recomputation():
    a, b, y = _spaces(n=300)
    sweep = S.anchor_sweep(a, b, y, counts=[8, 20], methods=["absolute", "relative:cosine", "translate:procrustes"],
                           strategies=["random", "fps"], test_size=100)
    pool, train, test = S.split_indices(y, n_anchors=20, test_size=100, seed=0)
    for row in sweep.itertuples():
        anchors = S.draw_anchors(a, y, pool, row.n_anchors, row.strategy, 0)
        with limited_threads():
            expected = _per_method(a, b, y, anchors, train, test, row.method, "logreg", 0)
        assert (row.accuracy, row.a_accuracy, row.b_accuracy, row.macro_f1) == (
            expected.accuracy, expected.a_accuracy, expected.b_accuracy, expected.macro_f1)


def test_limited_threads_sets_and_restores_torch_threads(monkeypatch):
    before = torch.get_num_threads()
    with limited_threads(1):
        assert torch.get_num_threads() == 1
        with limited_threads(1):  # re-entrant: the inner block leaves the outer limit in place
            pass
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    monkeypatch.setenv(heads_module.HEAD_THREADS_ENV, "0")
    assert heads_module.head_threads() == 0
    with limited_threads():  # 0: the pools are left alone
        assert torch.get_num_threads() == before
    monkeypatch.setenv(heads_module.HEAD_THREADS_ENV, "nonsense")
    assert heads_module.head_threads() == 1


def test_head_fits_run_under_the_limit(monkeypatch):
    seen = []
    original = torch.nn.functional.cross_entropy

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", spy)
    a, _, y = _spaces(n=60)
    make_head("mlp", 0).fit(a, y)
    assert seen and set(seen) == {1}


# ---- shipped results ----------------------------------------------------------------------------------------------

def _spec(**changes):
    spec = S.table_spec(methods=["absolute", "relative:cosine"], n_anchors=20, strategy="random", test_size=100,
                        seeds=[0])
    return {**spec, **changes}


def test_shipped_result_round_trips_exactly_and_only_for_its_fingerprint(tmp_path, monkeypatch):
    monkeypatch.setenv(S.SHIPPED_ENV, str(tmp_path))
    a, b, y = _spaces(n=300)
    spec = _spec()
    frame = S.run_spec(spec, a, b, y)
    fingerprint = S.spec_fingerprint(spec, S.inputs_fingerprint(a, b, y))
    assert not S.has_shipped()
    S.write_shipped(tmp_path, spec, fingerprint, frame)
    assert S.has_shipped()
    pd.testing.assert_frame_equal(S.read_shipped(fingerprint), frame, check_exact=True)
    # Any change of the inputs or of the spec is another fingerprint: nothing is shipped for it.
    changed_b = b.copy()
    changed_b[0, 0] += 1e-3
    for other in (S.spec_fingerprint(spec, S.inputs_fingerprint(a, changed_b, y)),
                  S.spec_fingerprint(_spec(seeds=[1]), S.inputs_fingerprint(a, b, y)),
                  S.spec_fingerprint(spec, S.inputs_fingerprint(a, b, np.roll(y, 1)))):
        assert other != fingerprint and S.read_shipped(other) is None
    # A file under the right name whose fingerprint differs (a prefix collision, an edited file) is not used.
    path = next(tmp_path.glob("*.json"))
    stored = json.loads(path.read_text())
    stored["fingerprint"] = "0" * 64
    path.write_text(json.dumps(stored))
    assert S.read_shipped(fingerprint) is None
    path.write_text("{not json")
    with pytest.warns(RuntimeWarning, match="Unreadable shipped"):
        assert S.read_shipped(fingerprint) is None
    monkeypatch.setenv(S.SHIPPED_ENV, "")
    assert S.shipped_dir() is None and S.read_shipped(fingerprint) is None and not S.has_shipped()


def test_run_spec_runs_sweeps_and_rejects_other_kinds():
    a, b, y = _spaces(n=300)
    spec = S.sweep_spec(counts=[5, 10], methods=["relative:cosine"], strategies=["random"], test_size=100, seeds=[0])
    assert list(S.run_spec(spec, a, b, y).n_anchors) == [5, 10]
    with pytest.raises(S.InvalidParameterError, match="Unknown kind"):
        S.run_spec({**spec, "kind": "other"}, a, b, y)


def test_shipped_default_files_are_valid_json_with_their_spec():
    folder = S.SHIPPED_DIR
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    assert files, "python -m latent_core.bundle ships the default scenario's table and curves"
    kinds = set()
    for path in files:
        stored = json.loads(path.read_text())
        assert path.stem == stored["fingerprint"][:40] and stored["format"] == S.SHIPPED_FORMAT
        assert len(stored["rows"]) and len(stored["columns"]) == len(stored["rows"][0])
        kinds.add(stored["spec"]["kind"])
    assert kinds == {"table", "sweep"}
    assert os.path.getsize(files[0]) < 200_000
