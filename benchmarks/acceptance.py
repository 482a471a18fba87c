"""Check a stitching run's results.csv against the acceptance ratios of issue 4.

Usage: python benchmarks/acceptance.py RESULTS_CSV [--absolute-margin 0.1] [--relative 0.95] [--translator 0.96]
Prints, per encoder pair: absolute - chance, relative / its no-stitch, best translator / no-stitch.
"""

from __future__ import annotations

import argparse

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--absolute-margin", type=float, default=0.1)
    parser.add_argument("--relative", type=float, default=0.95)
    parser.add_argument("--translator", type=float, default=0.96)
    args = parser.parse_args()
    frame = pd.read_csv(args.results)
    for (spec_a, spec_b), group in frame.groupby(["encoder_a", "encoder_b"], sort=False):
        mean = group.groupby("method")[["accuracy", "a_accuracy", "chance"]].mean()
        gap = mean.accuracy["absolute"] - mean.chance["absolute"]
        relative = {m: mean.accuracy[m] / mean.a_accuracy[m] for m in mean.index if m.startswith("relative")}
        translators = mean[mean.index.str.startswith("translate")]
        best = translators.accuracy.idxmax()
        ratio = translators.accuracy[best] / mean.a_accuracy["absolute"]
        print(f"{spec_a.split('/')[-1]} -> {spec_b.split('/')[-1]}: absolute - chance = {gap:+.3f} "
              f"[{'ok' if abs(gap) <= args.absolute_margin else 'MISS'}]; "
              + "; ".join(f"{m} / no-stitch = {r:.3f} [{'ok' if r >= args.relative else 'MISS'}]"
                          for m, r in relative.items())
              + f"; best translator {best} / no-stitch = {ratio:.3f} [{'ok' if ratio >= args.translator else 'MISS'}]")


if __name__ == "__main__":
    main()
