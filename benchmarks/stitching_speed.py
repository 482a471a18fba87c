"""Stitching at the speed of its head fits: the stitching table against the bare sum of the head fits it needs,
measured in the same run (target: at most 1.3x), the table as it was before heads were shared (every head fitted
for every method), and one head fit with one thread against the machine's default thread count.

Default: the default scenario (MiniLM vs MPNet on BBC, 2225 samples, 300 random anchors, 890 test samples, the
Stitching lab's 12 methods, seeds 0-2) from the bundled embeddings.

Usage: python benchmarks/stitching_speed.py [--n 1000] [--seeds 2] [--rounds 1] [--no-before] [--head-rounds 1]

Every function takes its sizes, so tests run them on tiny synthetic spaces.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Sequence

import numpy as np
import torch

from latent_core.heads import limited_threads, make_head
from latent_core.stitching import (
    SpaceMap,
    _scores,
    _split_run,
    draw_anchors,
    split_indices,
    stitch_benchmark,
    table_methods,
)

TARGET = 1.3  # the table may take at most this many times the bare sum of its head fits


def default_inputs(n: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The default scenario's two spaces and labels (bundled embeddings; ``n``: a stratified subset)."""
    from latent_core.config import DEFAULT_SCENARIO
    from latent_core.data import load_dataset
    from latent_core.embed import embed_dataset
    from latent_core.encoders import get_encoder

    data = load_dataset(DEFAULT_SCENARIO.dataset, n=DEFAULT_SCENARIO.n_samples, seed=DEFAULT_SCENARIO.seed)
    a = embed_dataset(get_encoder(DEFAULT_SCENARIO.encoder_a, device="cpu"), data).cpu().numpy()
    b = embed_dataset(get_encoder(DEFAULT_SCENARIO.encoder_b, device="cpu"), data).cpu().numpy()
    labels = np.asarray(data.labels)
    if n is not None and n < len(labels):
        from latent_core.data.base import stratified_indices

        rows = np.sort(stratified_indices(labels, n, seed=seed))
        a, b, labels = a[rows], b[rows], labels[rows]
    return a, b, labels


def synthetic_inputs(n: int = 300, dim_a: int = 16, dim_b: int = 20, classes: int = 4,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two noisy linear views of the same class clusters (for tests)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    a = rng.normal(size=(classes, dim_a))[labels] + rng.normal(size=(n, dim_a))
    b = a @ rng.normal(size=(dim_a, dim_b)) + rng.normal(size=(n, dim_b)) * 0.5
    return a.astype(np.float32), b.astype(np.float32), labels


def head_inputs(a, b, labels, *, methods: Sequence[str], n_anchors: int, test_size: int | float,
                seeds: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train)`` of every distinct head the table fits: per seed, one per side and input space of
    :meth:`SplitRun.prepare` (A's and B's absolute vectors, shared by ``absolute`` and every translator, and A's and
    B's relative vectors of each relative method)."""
    at, bt = torch.as_tensor(a), torch.as_tensor(b)
    inputs = []
    for seed in seeds:
        pool, train, test = split_indices(labels, n_anchors=n_anchors, test_size=test_size, seed=seed)
        anchors = draw_anchors(a, labels, pool, n_anchors, "random", seed)
        run, anchors = _split_run(at, bt, labels, anchors, train, test, "logreg", seed)
        spaces = {}
        for method in methods:
            space, views = run.prepare(method, anchors)
            spaces.setdefault(space, views)
        for views in spaces.values():
            inputs += [(views["a_train"].numpy(), run.y_train), (views["b_train"].numpy(), run.y_train)]
    return inputs


def time_head_fits(inputs, head: str = "logreg", seed: int = 0) -> float:
    """Seconds to fit one head on each of ``inputs`` (nothing else is timed)."""
    total = 0.0
    for x, y in inputs:
        start = time.perf_counter()
        make_head(head, seed).fit(x, y)
        total += time.perf_counter() - start
    return total


def time_table(a, b, labels, *, methods, n_anchors, test_size, seeds, head="logreg") -> float:
    start = time.perf_counter()
    stitch_benchmark(a, b, labels, methods=methods, n_anchors=n_anchors, test_size=test_size, seeds=seeds, head=head)
    return time.perf_counter() - start


def time_table_before(a, b, labels, *, methods, n_anchors, test_size, seeds, head="logreg") -> float:
    """The table as it was computed before heads were shared: both heads fitted anew for every method (under the
    same thread limit, so only the sharing differs)."""
    at, bt = torch.as_tensor(a), torch.as_tensor(b)
    start = time.perf_counter()
    with limited_threads():
        for seed in seeds:
            pool, train, test = split_indices(labels, n_anchors=n_anchors, test_size=test_size, seed=seed)
            anchors = torch.as_tensor(draw_anchors(a, labels, pool, n_anchors, "random", seed))
            train, test = torch.as_tensor(train), torch.as_tensor(test)
            y_train, y_test = labels[train.numpy()], labels[test.numpy()]
            for method in methods:
                space_map = SpaceMap(method).fit(at[anchors], bt[anchors])
                head_a = make_head(head, seed).fit(space_map.a(at[train]).numpy(), y_train)
                _scores(y_test, head_a.predict(space_map.b(bt[test]).numpy()))
                _scores(y_test, head_a.predict(space_map.a(at[test]).numpy()))
                head_b = make_head(head, seed).fit(space_map.b_native(bt[train]).numpy(), y_train)
                _scores(y_test, head_b.predict(space_map.b_native(bt[test]).numpy()))
    return time.perf_counter() - start


def table_vs_head_fits(a, b, labels, *, methods: Sequence[str] | None = None, n_anchors: int = 300,
                       test_size: int | float = 890, seeds: Sequence[int] = (0, 1, 2), head: str = "logreg",
                       rounds: int = 1, before: bool = True) -> dict:
    """The table's time against the bare sum of its head fits, alternated ``rounds`` times in one run (medians).

    Returns ``table_s``, ``head_fits_s``, ``ratio`` (median of the per-round ratios), ``head_fits`` (count), and
    ``before_s`` / ``speedup`` when ``before``."""
    methods = tuple(table_methods() if methods is None else methods)
    sizes = {"methods": methods, "n_anchors": n_anchors, "test_size": test_size, "seeds": tuple(seeds)}
    inputs = head_inputs(a, b, labels, **sizes)
    tables, fits, ratios, befores = [], [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rows = np.arange(0, len(labels), max(1, len(labels) // 400))  # first calls import and compile: warm every
        time_table(a[rows], b[rows], labels[rows], head=head, methods=methods,  # path up on a spread-out subset
                   n_anchors=min(n_anchors, len(rows) // 4), test_size=len(rows) // 4, seeds=tuple(seeds)[:1])
        for _ in range(rounds):
            tables.append(time_table(a, b, labels, head=head, **sizes))
            fits.append(time_head_fits(inputs, head))
            ratios.append(tables[-1] / fits[-1])
            if before:
                befores.append(time_table_before(a, b, labels, head=head, **sizes))
    result = {"table_s": statistics.median(tables), "head_fits_s": statistics.median(fits),
              "ratio": statistics.median(ratios), "head_fits": len(inputs), "runs": len(methods) * len(seeds)}
    if before:
        result["before_s"] = statistics.median(befores)
        result["speedup"] = result["before_s"] / result["table_s"]
    return result


def head_fit_threads(x: np.ndarray, y: np.ndarray, *, head: str = "mlp", threads: Sequence[int] | None = None,
                     rounds: int = 1, seed: int = 0) -> dict[int, float]:
    """Seconds of one head fit per thread count (median of ``rounds``); default: 1 and torch's own count."""
    threads = tuple(threads or sorted({1, torch.get_num_threads()}))
    times: dict[int, list[float]] = {t: [] for t in threads}
    for _ in range(rounds):
        for count in threads:
            with limited_threads(count):
                start = time.perf_counter()
                make_head(head, seed).fit(x, y)
                times[count].append(time.perf_counter() - start)
    return {t: statistics.median(v) for t, v in times.items()}


def markdown(rows: list[dict], columns: Sequence[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _cell(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="samples of the default scenario (default: all 2225)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--head-rounds", type=int, default=1)
    parser.add_argument("--no-before", action="store_true", help="skip the per-method (unshared) table")
    args = parser.parse_args(argv)
    a, b, labels = default_inputs(args.n)
    test = max(1, min(900, int(round(0.4 * len(labels)))))
    print(f"default scenario: {len(labels)} samples, {a.shape[1]}-d vs {b.shape[1]}-d, torch threads "
          f"{torch.get_num_threads()}, head threads under the limit: 1\n")
    result = table_vs_head_fits(a, b, labels, n_anchors=300, test_size=test, seeds=tuple(range(args.seeds)),
                                rounds=args.rounds, before=not args.no_before)
    row = {"runs (method x seed)": result["runs"], "head fits": result["head_fits"], "table s": result["table_s"],
           "sum of head fits s": result["head_fits_s"],
           "rest s (maps, projections, scores)": result["table_s"] - result["head_fits_s"], "ratio": result["ratio"],
           "target": f"<= {TARGET}", "met": "yes" if result["ratio"] <= TARGET else "NO"}
    columns = list(row)
    if "before_s" in result:
        row |= {"before (per-method heads) s": result["before_s"], "speedup": result["speedup"]}
        columns += ["before (per-method heads) s", "speedup"]
    print(markdown([row], columns))
    pool, train, _ = split_indices(labels, n_anchors=300, test_size=test, seed=0)
    print()
    thread_rows = []
    for head in ("mlp", "logreg"):
        timings = head_fit_threads(a[train], labels[train], head=head, rounds=args.head_rounds)
        one = timings[1]
        for count, seconds in timings.items():
            thread_rows.append({"head": head, "threads": count, "fit s": seconds, "vs 1 thread": seconds / one})
    print(markdown(thread_rows, ["head", "threads", "fit s", "vs 1 thread"]))


if __name__ == "__main__":
    main()
