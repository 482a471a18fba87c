"""Time of each alignment against issue 12's budget: 60 s on 2 cores for about 1,300 samples per side.

BBC, MiniLM <-> MPNet (the bundled embeddings: no encoding), both directions. For each setting, the inputs the
experiment gives the algorithm (:func:`latent_core.experiments.alignment.plan_settings`):

- same samples in a hidden order: ``--n`` samples (default 1,300) on both sides;
- different samples: two disjoint halves, ``--n`` per side or as many as BBC's 2,225 samples allow (1,107 with
  the 10 known pairs set aside), plus the known pairs on both sides in bootstrap mode;

and each mode: ``bootstrap_anchors`` from ``--seed-pairs`` known pairs (default 10), ``align_unpaired`` (no pairs).
Prints seconds per call and its ratio to the budget (all ratios measured in one run), with what was found.

Usage: python benchmarks/alignment_time.py [--n 1300] [--seed-pairs 10] [--seed 0] [--budget 60]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1300, help="samples per side")
    parser.add_argument("--seed-pairs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning, module="ot")  # POT's Sinkhorn convergence notes
    warnings.filterwarnings("ignore", message="The anchors are rank deficient")
    from latent_core import correspondence
    from latent_core.data import load_dataset
    from latent_core.embed import embed_dataset
    from latent_core.encoders import get_encoder, short_name
    from latent_core.experiments.alignment import plan_settings
    from latent_core.experiments.scenarios import MINILM, MPNET
    from latent_core.metrics import matching_quality

    data = load_dataset("bbc")
    spaces = {spec: embed_dataset(get_encoder(spec), data).cpu() for spec in (MINILM, MPNET)}
    rng = np.random.default_rng(args.seed)
    n_total = len(data)
    pools = {"same": np.sort(rng.choice(n_total, size=min(args.n, n_total), replace=False)),
             "different": np.sort(rng.permutation(n_total)[: min(2 * args.n + args.seed_pairs, n_total)])}
    print(f"BBC ({n_total} samples), {args.seed_pairs} known pairs in bootstrap mode, seed {args.seed}, "
          f"budget {args.budget:.0f} s per alignment; torch threads {__import__('torch').get_num_threads()}")
    worst = 0.0
    for source_spec, target_spec in ((MINILM, MPNET), (MPNET, MINILM)):
        source_space, target_space = spaces[source_spec], spaces[target_spec]
        for sides, pool in pools.items():
            for setting in plan_settings(pool, modes=("bootstrap", "unsupervised"), sides=(sides,),
                                         n_seed_pairs=args.seed_pairs, seed=args.seed):
                source, target = source_space[setting.source_rows], target_space[setting.target_rows]
                start = time.perf_counter()
                if setting.mode == "bootstrap":
                    found = correspondence.bootstrap_anchors(source, target, setting.seed_pairs, seed=args.seed)
                else:
                    found = correspondence.align_unpaired(source, target, seed=args.seed)
                seconds = time.perf_counter() - start
                worst = max(worst, seconds)
                quality = matching_quality(found.pairs, setting.source_rows, setting.target_rows,
                                           data.labels[setting.source_rows], data.labels[setting.target_rows])
                exact = f"exact {quality['exact']:.0%}, " if sides == "same" else ""
                print(f"{short_name(source_spec)} -> {short_name(target_spec)}  {sides:9s} {setting.mode:12s} "
                      f"{len(source)} x {len(target)}: {seconds:6.1f} s = {seconds / args.budget:.2f} of the budget "
                      f"({found.method}, {found.matching}; {quality['n_pairs']} pairs, {exact}"
                      f"purity {quality['purity']:.2f})")
    print(f"slowest: {worst:.1f} s = {worst / args.budget:.2f} of the {args.budget:.0f} s budget")


if __name__ == "__main__":
    main()
