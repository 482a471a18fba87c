"""Generate the embeddings that ship in ``assets/embeddings``: the default scenario's two text spaces, and the
Cross-modal page's image and caption spaces; then the default scenario's stitching table and anchor curves
(``assets/stitching``).

Run ``python -m latent_core.bundle`` (``--stitching-only`` redoes the stitching results from the embeddings). The
embedding files are ordinary cache entries (same keys as :func:`latent_core.embed.embedding_cache_key`), so they are
used only while the packaged models and the dataset are exactly the ones they were computed from; anything else is
encoded as usual. A stitching result is used only when its fingerprint (its spec, both spaces' bytes and the labels,
:func:`latent_core.stitching.spec_fingerprint`) matches the app's setting exactly; any other setting computes.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from latent_core.cache import BUNDLED_DIR, EmbeddingCache
from latent_core.config import DEFAULT_SCENARIO
from latent_core.data import load_dataset
from latent_core.embed import embed_dataset
from latent_core.encoders import get_encoder
from latent_core.experiments.scenarios import CROSSMODAL_SCENARIO
from latent_core.stitching import (
    SHIPPED_DIR,
    SWEEP_METHODS,
    SWEEP_STRATEGIES,
    inputs_fingerprint,
    run_spec,
    spec_fingerprint,
    sweep_ladder,
    sweep_spec,
    table_methods,
    table_spec,
    write_shipped,
)

# CROSSMODAL_SCENARIO is defined in latent_core.experiments.scenarios; re-exported here for older imports.
__all__ = ["CROSSMODAL_SCENARIO", "bundle_entries", "default_stitching_specs", "main", "ship_stitching"]

# The Stitching lab's defaults (app.state.Settings and the page's seed box). The app derives its specs from the
# sidebar through app.services.policy; tests/app/test_stitching_page.py checks both give the same specs, and the
# fingerprint keeps a shipped result from being shown for anything else.
DEFAULT_ANCHORS, DEFAULT_STRATEGY, DEFAULT_TABLE_SEEDS = 300, "random", (0, 1, 2)
TEST_FRACTION, TEST_MAX, MIN_TRAIN_SHARE = 0.4, 900, 4  # app.services.policy's split sizes


def bundle_entries() -> list[tuple[str, str, int | None, int, bool]]:
    """``(encoder, dataset, n, seed, captions)`` of every bundled embedding matrix."""
    default = DEFAULT_SCENARIO
    cross = CROSSMODAL_SCENARIO
    return [
        (default.encoder_a, default.dataset, default.n_samples, default.seed, False),
        (default.encoder_b, default.dataset, default.n_samples, default.seed, False),
        (cross.image_encoder, cross.dataset, cross.n_samples, cross.sample_seed, False),
        (cross.text_encoder, cross.dataset, cross.n_samples, cross.sample_seed, True),
    ]


def default_stitching_specs(n_samples: int) -> list[dict]:
    """The table (3 seeds) and the anchor curves (the scenario's seed) the Stitching lab shows for the default
    sidebar on ``n_samples`` samples."""
    test = max(1, min(TEST_MAX, int(round(TEST_FRACTION * n_samples))))
    room = max(2, n_samples - test - max(10, n_samples // MIN_TRAIN_SHARE))
    anchors = max(2, min(DEFAULT_ANCHORS, room))
    return [table_spec(methods=table_methods(), n_anchors=anchors, strategy=DEFAULT_STRATEGY, test_size=test,
                       seeds=DEFAULT_TABLE_SEEDS),
            sweep_spec(counts=sweep_ladder(anchors), methods=SWEEP_METHODS, strategies=SWEEP_STRATEGIES,
                       test_size=test, seeds=(DEFAULT_SCENARIO.seed,))]


def ship_stitching(space_a, space_b, labels, out: str | Path = SHIPPED_DIR,
                   specs: list[dict] | None = None) -> list[Path]:
    """Compute the default scenario's stitching results on these spaces and write them to ``out`` (other ``.json``
    files there, from older inputs, are removed)."""
    specs = default_stitching_specs(len(labels)) if specs is None else specs
    inputs = inputs_fingerprint(space_a, space_b, labels)
    written = []
    for spec in specs:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # rank-deficient translator fits are expected
            frame = run_spec(spec, space_a, space_b, labels)
        written.append(write_shipped(out, spec, spec_fingerprint(spec, inputs), frame))
        print(f"stitching {spec['kind']}: {len(frame)} rows in {time.perf_counter() - start:.1f} s -> {written[-1]}")
    for stale in set(Path(out).glob("*.json")) - set(written):
        stale.unlink()
        print(f"removed {stale} (older inputs)")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(BUNDLED_DIR), help="folder to write the entries to")
    parser.add_argument("--stitching-out", default=str(SHIPPED_DIR), help="folder to write the stitching results to")
    parser.add_argument("--stitching-only", action="store_true",
                        help="only the stitching results (the embeddings are read from --out or the cache)")
    parser.add_argument("--no-stitching", action="store_true", help="only the embeddings")
    args = parser.parse_args(argv)
    # --stitching-only reads the shipped embeddings without writing them (the cache would update their metadata)
    target = EmbeddingCache(bundled=[Path(args.out)]) if args.stitching_only else EmbeddingCache(root=args.out,
                                                                                                   bundled=[])
    entries = bundle_entries()[:2] if args.stitching_only else bundle_entries()
    spaces = []
    for spec, dataset_spec, n, seed, captions in entries:
        dataset = load_dataset(dataset_spec, n=n, seed=seed)
        start = time.perf_counter()
        embeddings = embed_dataset(get_encoder(spec, device="cpu"), dataset, captions=captions, cache=target)
        what = f"{dataset.name} {'captions' if captions else 'items'}"
        print(f"{spec} on {what}: {tuple(embeddings.shape)} in {time.perf_counter() - start:.1f} s -> {args.out}")
        spaces.append((dataset, embeddings))
    if not args.no_stitching:  # the first two entries are the default scenario's A and B
        (dataset, space_a), (_, space_b) = spaces[:2]
        ship_stitching(space_a.cpu(), space_b.cpu(), dataset.labels, args.stitching_out)


if __name__ == "__main__":
    main()
