"""Generate the embeddings that ship in ``assets/embeddings``: the default scenario's two text spaces, and the
Cross-modal page's image and caption spaces.

Run ``python -m latent_core.bundle``. The files are ordinary cache entries (same keys as
:func:`latent_core.embed.embedding_cache_key`), so they are used only while the packaged models and the
dataset are exactly the ones they were computed from; anything else is encoded as usual.
"""

from __future__ import annotations

import argparse
import time

from latent_core.cache import BUNDLED_DIR, EmbeddingCache
from latent_core.config import DEFAULT_SCENARIO
from latent_core.data import load_dataset
from latent_core.embed import embed_dataset
from latent_core.encoders import get_encoder
from latent_core.experiments.scenarios import CROSSMODAL_SCENARIO

# CROSSMODAL_SCENARIO is defined in latent_core.experiments.scenarios; re-exported here for older imports.
__all__ = ["CROSSMODAL_SCENARIO", "bundle_entries", "main"]


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(BUNDLED_DIR), help="folder to write the entries to")
    args = parser.parse_args(argv)
    target = EmbeddingCache(root=args.out, bundled=[])
    for spec, dataset_spec, n, seed, captions in bundle_entries():
        dataset = load_dataset(dataset_spec, n=n, seed=seed)
        start = time.perf_counter()
        embeddings = embed_dataset(get_encoder(spec, device="cpu"), dataset, captions=captions, cache=target)
        what = f"{dataset.name} {'captions' if captions else 'items'}"
        print(f"{spec} on {what}: {tuple(embeddings.shape)} in {time.perf_counter() - start:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
