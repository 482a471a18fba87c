"""``project``: relative representations of a whole table against saved anchors
(:func:`latent_core.batch.pipeline.project_table`). ``--save-anchors`` first writes the anchor set from ids of
the table itself (``anchors.safetensors`` + ``anchors.json``, :mod:`latent_core.batch.anchors_io`)."""

from __future__ import annotations

import argparse

from latent_core.batch import anchors_io, store
from latent_core.batch.options import add_ray_options, encoder_fingerprint, positive_int
from latent_core.batch.pipeline import DEFAULT_BATCH_SIZE, check_project, project_table
from latent_core.batch.session import ray_session
from latent_core.errors import InvalidParameterError
from latent_core.relative import PRODUCTS, PROJECTIONS


def save_table_anchors(uri, table_name: str, out_dir, count: int, *, projection: str, column: str,
                       center: bool = False) -> list[str]:
    """Write the first ``count`` ids (sorted) of a table as an anchor set; returns the ids."""
    table = store.open_table(uri, table_name)
    ids = sorted(table.to_lance().to_table(columns=[store.ID_COLUMN]).column(store.ID_COLUMN).to_pylist())[:count]
    if len(ids) < 2:
        raise InvalidParameterError(f"Table {table_name!r} has {len(ids)} rows; anchors need at least 2.")
    anchors_io.save_anchors(store.read_vectors(table, ids, column), out_dir, anchor_ids=ids, projection=projection,
                            center=center, fingerprint=encoder_fingerprint(table.schema, None))
    return ids


def run(args: argparse.Namespace) -> int:
    if args.save_anchors:
        ids = save_table_anchors(args.uri, args.table, args.anchors, args.save_anchors, projection=args.projection,
                                 column=args.column, center=args.center)
        print(f"{args.anchors}: {len(ids)} anchors ({args.projection})")
    check_project(args.uri, args.table, args.anchors, args.out_uri or args.uri, args.out_table, column=args.column)
    with ray_session(args.address, progress=not args.no_progress):
        summary = project_table(args.uri, args.table, args.anchors, args.out_uri or args.uri, args.out_table,
                                batch_size=args.batch_size, column=args.column, out_column=args.out_column,
                                num_gpus=args.num_gpus, concurrency=args.concurrency, mode=args.mode)
    print(f"{args.out_table}: {summary['rows']} rows [{summary['dim']}] -> relative [{summary['out_dim']}] in "
          f"{summary['seconds']:.1f} s")
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``project`` subcommand."""
    parser = subparsers.add_parser("project", help="relative representations of a table against saved anchors",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", required=True, help="LanceDB folder of the source table")
    parser.add_argument("--table", required=True)
    parser.add_argument("--anchors", required=True, help="anchor folder (anchors.safetensors + anchors.json)")
    parser.add_argument("--save-anchors", type=positive_int, default=None, metavar="K",
                        help="first write K anchors taken from the table (sorted ids) into --anchors")
    parser.add_argument("--projection", default="cosine", choices=[*PROJECTIONS, *PRODUCTS],
                        help="with --save-anchors: the projection to record")
    parser.add_argument("--center", action="store_true", help="with --save-anchors: centre on the anchors' mean")
    parser.add_argument("--out-uri", default=None)
    parser.add_argument("--out-table", required=True)
    parser.add_argument("--column", default=store.VECTOR_COLUMN)
    parser.add_argument("--out-column", default="relative")
    parser.add_argument("--mode", default="overwrite", choices=["overwrite", "create"])
    add_ray_options(parser, DEFAULT_BATCH_SIZE)
    parser.set_defaults(run=run)
    return parser
