"""Command line: ``python -m latent_core.experiments run text-bbc --out results/text-bbc [--atlas-only]``, or
``python -m latent_core.experiments measure --a <spec> --b <spec> --dataset bbc [--ladder] [--out folder]``."""

from __future__ import annotations

import argparse
import sys
import time
import warnings

from latent_core.errors import LatentCoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m latent_core.experiments", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the built-in scenarios")
    run_parser = commands.add_parser("run", help="run a scenario and write its report")
    run_parser.add_argument("scenario", help="a built-in name (see 'list') or a .toml/.yaml file")
    run_parser.add_argument("--out", required=True, help="folder for results.csv, table.md and plots")
    run_parser.add_argument("--quiet", action="store_true", help="no progress bars")
    run_parser.add_argument("--atlas-only", action="store_true", help="stitching scenarios: only the Charts to Atlas "
                            "comparison (atlas.md, atlas.csv); the folder's other outputs are left as they are")
    from latent_core.experiments import measure

    measure.add_arguments(commands.add_parser("measure", help="every metric between two encoders, with bootstrap "
                                              "intervals (and alignment vs N with --ladder)"))
    args = parser.parse_args(argv)

    from latent_core.experiments import BUILTIN, load_scenario, run, write_report
    from latent_core.experiments.report import write_atlas

    if args.command == "list":
        for name, scenario in BUILTIN.items():
            print(f"{name:18s} {scenario.kind:10s} {scenario.dataset}  encoders: {', '.join(scenario.encoders())}")
        return 0
    # Fewer anchors than dimensions is normal here: least squares falls back to ridge (see translate.py).
    warnings.filterwarnings("ignore", message="The anchors are rank deficient", category=RuntimeWarning)
    # Alignment: POT notes each entropic plan that stops at its iteration cap; the plans are still used as found.
    warnings.filterwarnings("ignore", message="Sinkhorn did not converge", category=UserWarning)
    if args.command == "measure":
        return _measure(args)
    try:
        scenario = load_scenario(args.scenario)
        start = time.perf_counter()
        experiment = run(scenario, verbose=not args.quiet, atlas_only=args.atlas_only)
        paths = write_atlas(experiment, args.out) if args.atlas_only else write_report(experiment, args.out)
    except LatentCoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name in ("table", "atlas"):
        if name in paths:
            print(paths[name].read_text())
    print(f"{scenario.name}: {time.perf_counter() - start:.0f} s; wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def _measure(args) -> int:
    from latent_core.experiments import measure

    start = time.perf_counter()
    try:
        measurement = measure.measure(args)
        text = measure.table(measurement, args.level)
        paths = measure.write(measurement, text, args.out) if args.out else []
    except LatentCoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(text)
    wrote = f"; wrote {', '.join(str(p) for p in paths)}" if paths else ""
    print(f"measure: {time.perf_counter() - start:.0f} s{wrote}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
