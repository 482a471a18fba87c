"""Generate the embeddings that ship in ``assets/embeddings`` for the default scenario.

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(BUNDLED_DIR), help="folder to write the entries to")
    args = parser.parse_args(argv)
    scenario = DEFAULT_SCENARIO
    dataset = load_dataset(scenario.dataset, n=scenario.n_samples, seed=scenario.seed)
    target = EmbeddingCache(root=args.out, bundled=[])
    for spec in (scenario.encoder_a, scenario.encoder_b):
        start = time.perf_counter()
        embeddings = embed_dataset(get_encoder(spec, device="cpu"), dataset, cache=target)
        print(f"{spec}: {tuple(embeddings.shape)} in {time.perf_counter() - start:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
