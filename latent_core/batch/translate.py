"""``translate``: stream an old-embedding table through a saved translator into a new table, then build or refresh
its LanceDB vector index (:func:`latent_core.batch.pipeline.translate_table`)."""

from __future__ import annotations

import argparse

from latent_core.batch import store
from latent_core.batch.options import add_ray_options
from latent_core.batch.pipeline import DEFAULT_BATCH_SIZE, check_translate, translate_table
from latent_core.batch.session import ray_session


def run(args: argparse.Namespace) -> int:
    check_translate(args.uri, args.table, args.translator, args.out_uri or args.uri, args.out_table,
                    column=args.column)  # bad inputs fail at once, before Ray starts
    with ray_session(args.address, progress=not args.no_progress):
        summary = translate_table(args.uri, args.table, args.translator, args.out_uri or args.uri, args.out_table,
                                  batch_size=args.batch_size, column=args.column, out_column=args.out_column,
                                  num_gpus=args.num_gpus, concurrency=args.concurrency, index=not args.no_index,
                                  metric=args.metric, index_type=args.index_type, mode=args.mode)
    print(f"{args.out_table}: {summary['rows']} rows [{summary['source_dim']}] -> [{summary['target_dim']}] in "
          f"{summary['seconds']:.1f} s ({summary['rows'] / max(summary['seconds'], 1e-9):.0f} rows/s); "
          f"search: {summary['index']}")
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``translate`` subcommand."""
    parser = subparsers.add_parser("translate", help="translate a table of old-model vectors with a saved translator",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", required=True, help="LanceDB folder of the source table")
    parser.add_argument("--table", required=True, help="source table (old-model vectors)")
    parser.add_argument("--translator", required=True, help="folder written by fit-translator")
    parser.add_argument("--out-uri", default=None, help="LanceDB folder of the output table (default: --uri)")
    parser.add_argument("--out-table", required=True)
    parser.add_argument("--column", default=store.VECTOR_COLUMN)
    parser.add_argument("--out-column", default=store.VECTOR_COLUMN)
    parser.add_argument("--mode", default="overwrite", choices=["overwrite", "create"])
    parser.add_argument("--metric", default="l2", choices=list(store.METRICS))
    parser.add_argument("--index-type", default="ivf_pq", choices=list(store.INDEX_TYPES),
                        help=f"ANN index built at {store.EXACT_MAX_ROWS} rows or more (smaller: exact search)")
    parser.add_argument("--no-index", action="store_true", help="do not build or refresh the vector index")
    add_ray_options(parser, DEFAULT_BATCH_SIZE)
    parser.set_defaults(run=run)
    return parser
