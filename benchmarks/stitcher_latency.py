"""Live-prediction latency: one new sentence through encoder B, then a fitted Stitcher (relative and
Procrustes), on the default scenario (MiniLM -> MPNet on BBC, 300 anchors); then the stitching lab's live
panel for each of its stitches. Medians of repeated calls.

Usage: python benchmarks/stitcher_latency.py
"""

from __future__ import annotations

import statistics
import time
import warnings

import numpy as np


def median_ms(call, repeat: int = 50) -> float:
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    warnings.filterwarnings("ignore", message="The anchors are rank deficient")
    from latent_core.config import DEFAULT_SCENARIO
    from latent_core.data import load_dataset
    from latent_core.embed import embed_dataset
    from latent_core.encoders import get_encoder
    from latent_core.stitching import Stitcher, split_indices

    data = load_dataset(DEFAULT_SCENARIO.dataset)
    enc_a, enc_b = get_encoder(DEFAULT_SCENARIO.encoder_a), get_encoder(DEFAULT_SCENARIO.encoder_b)
    a, b = embed_dataset(enc_a, data), embed_dataset(enc_b, data)
    pool, train, _ = split_indices(data.labels, n_anchors=300, test_size=900, seed=0)
    sentence = "The central bank raised interest rates again as inflation worries grew."
    encode_ms = median_ms(lambda: enc_b.encode([sentence]), repeat=20)
    print(f"encode one sentence with B ({DEFAULT_SCENARIO.encoder_b}): {encode_ms:.1f} ms")
    embedding = enc_b.encode([sentence])
    for method in ("relative:cosine", "translate:procrustes"):
        start = time.perf_counter()
        stitcher = Stitcher(method).fit(a, b, data.labels, anchor_idx=pool, train_idx=train)
        fit_s = time.perf_counter() - start
        predict_ms = median_ms(lambda fitted=stitcher: fitted.predict_proba(embedding))
        anchors_ms = median_ms(lambda fitted=stitcher: fitted.top_anchors(embedding, 5))
        label = data.label_names[int(np.argmax(stitcher.predict_proba(embedding)))]
        print(f"{method:22s} fit {fit_s:.1f} s; predict_proba {predict_ms:.2f} ms; top_anchors {anchors_ms:.2f} ms; "
              f"predicted '{label}'")
    live_panel(sentence)


def live_panel(sentence: str) -> None:
    """The stitching lab's whole prediction step after encoding: stitched head, B's own head, A's head on A's
    encoding, and the 5 nearest anchors (app/services/stitching.predict), against the 300 ms target."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from app.services import stitching as lab
    from app.state import Settings

    settings = Settings()
    for method in lab.live_methods():
        model = lab.live_model(settings, method)
        start = time.perf_counter()
        embedding_a, embedding_b = lab.encode_input(settings, sentence)
        encode_ms = (time.perf_counter() - start) * 1000
        predict_ms = median_ms(lambda m=model, a=embedding_a, b=embedding_b: lab.predict(m, a, b))
        print(f"live panel {method:26s} encode A+B {encode_ms:6.1f} ms; predict (3 heads + anchors) "
              f"{predict_ms:.2f} ms = {predict_ms / 300:.4f} of the 300 ms target")


if __name__ == "__main__":
    main()
