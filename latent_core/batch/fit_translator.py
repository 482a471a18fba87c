"""``fit-translator``: fit a latent_core translator on anchor ids embedded by both models; save it safely.

Reads the old-model table and the new-model table (LanceDB, ``id`` + vector column), takes the ids present in both
(or those listed in ``--anchor-ids``, one per line), optionally a seeded sample of ``--max-anchors`` of them, fits
``--estimator`` (any name in ``latent_core.translate.TRANSLATORS``) old -> new and writes
``translator.safetensors`` + ``translator.json`` into ``--out`` (:mod:`latent_core.batch.translator_io`).

With ``--passages OLD NEW`` the two tables of passages (``passages``, then ``encode`` with each model) add one pair
per passage of an anchor document (passage id ``<anchor id>#<n>``, in both tables): more pairs, the same anchor
documents. ``anchors`` stays the count of documents; ``passage_pairs`` says how many were added.

With ``--unpaired`` no pairs are needed: a seeded, evenly spread sample of ``--sample`` rows of each table (any ids)
goes through the unsupervised alignment (:func:`latent_core.correspondence.align_unpaired`: Gromov-Wasserstein or
centroid matching, refined on mutual neighbours or transport plans), which fits Procrustes old -> new.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from latent_core.batch import store
from latent_core.batch.options import check_positive, encoder_fingerprint, positive_int, read_id_file
from latent_core.batch.translator_io import save_translator
from latent_core.errors import InvalidParameterError
from latent_core.translate import TRANSLATORS, get_translator


def _ids(table) -> list[str]:
    return table.to_lance().to_table(columns=[store.ID_COLUMN]).column(store.ID_COLUMN).to_pylist()


def anchor_ids(old, new, listed: list[str] | None, max_anchors: int | None, seed: int) -> list[str]:
    """The anchor ids: ``listed`` (each must be in both tables) or the ids common to both, sorted; then a seeded
    sample of ``max_anchors`` (kept in sorted order). Raises InvalidParameterError when fewer than 2 remain."""
    common = set(_ids(old)) & set(_ids(new))
    if listed is not None:
        missing = [i for i in listed if i not in common]
        if missing:
            raise InvalidParameterError(f"{len(missing)} listed anchor ids are not in both tables (first: "
                                        f"{missing[:3]}).")
        ids = list(dict.fromkeys(listed))
    else:
        ids = sorted(common)
    check_positive(max_anchors, "max_anchors")
    if max_anchors and len(ids) > max_anchors:
        keep = np.sort(np.random.default_rng(seed).choice(len(ids), max_anchors, replace=False))
        ids = [ids[i] for i in keep]
    if len(ids) < 2:
        raise InvalidParameterError(f"Only {len(ids)} ids are in both tables; a translator needs at least 2 anchor "
                                    "pairs embedded by both models.")
    return ids


def passage_pairs(old, new, anchors: Sequence[str], column: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(passage ids, old vectors, new vectors)`` of every passage of the ``anchors`` documents present in both
    passage tables, sorted by id. Raises InvalidParameterError when there are none."""
    from latent_core.batch.passages import document_of

    wanted = set(anchors)
    ids = sorted(i for i in set(_ids(old)) & set(_ids(new)) if document_of(i) in wanted)
    if not ids:
        raise InvalidParameterError(f"No passage of the {len(wanted)} anchor documents is in both passage tables "
                                    f"{old.name!r} and {new.name!r} (passage ids are '<document id>#<n>', as the "
                                    "passages command writes them).")
    return ids, store.read_vectors(old, ids, column), store.read_vectors(new, ids, column)


def _provenance(old, new, old_uri, old_table: str, new_uri, new_table: str, column: str, old_fingerprint: str | None,
                new_fingerprint: str | None) -> tuple[dict, dict]:
    """What ``translator.json`` records of where a translator comes from: ``(encoder fingerprints known,
    {"old_table", "new_table", "column"})``."""
    fingerprints = {"source": encoder_fingerprint(old.schema, old_fingerprint),
                    "target": encoder_fingerprint(new.schema, new_fingerprint)}
    return ({k: v for k, v in fingerprints.items() if v},
            {"old_table": f"{old_uri}/{old_table}", "new_table": f"{new_uri}/{new_table}", "column": column})


def fit_translator(old_uri, old_table: str, new_uri, new_table: str, out_dir, *, estimator: str = "procrustes",
                   scaling: str | None = "standard", ridge: float = 1e-4, shrinkage: float | str = 0.0,
                   column: str = store.VECTOR_COLUMN,
                   listed_ids: list[str] | None = None, max_anchors: int | None = None, seed: int = 0,
                   old_fingerprint: str | None = None, new_fingerprint: str | None = None,
                   passage_tables: tuple[str, str] | None = None) -> dict:
    """Fit and save; returns the summary ``{"estimator", "anchors", "passage_pairs", "source_dim", "target_dim",
    "shrinkage", "out"}`` (``shrinkage``: the ridge the fit used, chosen on the anchors when ``shrinkage="cv"``).

    ``passage_tables``: ``(old passages, new passages)``, in ``old_uri`` and ``new_uri``: their passages of the
    anchor documents are fitted on too (:func:`passage_pairs`)."""
    TRANSLATORS.get(estimator)  # UnknownNameError before any reading
    old, new = store.open_table(old_uri, old_table), store.open_table(new_uri, new_table)
    ids = anchor_ids(old, new, listed_ids, max_anchors, seed)
    source, target = store.read_vectors(old, ids, column), store.read_vectors(new, ids, column)
    passages: list[str] = []
    if passage_tables is not None:
        passages, old_passages, new_passages = passage_pairs(store.open_table(old_uri, passage_tables[0]),
                                                             store.open_table(new_uri, passage_tables[1]), ids, column)
        source, target = np.concatenate([source, old_passages]), np.concatenate([target, new_passages])
    translator = get_translator(estimator, scaling=scaling, ridge=ridge, shrinkage=shrinkage).fit(source, target)
    fingerprints, extra = _provenance(old, new, old_uri, old_table, new_uri, new_table, column, old_fingerprint,
                                      new_fingerprint)
    save_translator(translator, out_dir, anchor_ids=ids, fingerprints=fingerprints,
                    extra={**extra, "passage_tables": list(passage_tables or []), "passage_pairs": len(passages)})
    return {"estimator": estimator, "anchors": len(ids), "passage_pairs": len(passages), "source_dim": source.shape[1],
            "target_dim": target.shape[1], "shrinkage": float(translator.shrinkage_), "out": str(out_dir)}


def shrinkage_value(text: str) -> float | str:
    """argparse type of ``--shrinkage``: ``cv`` or a number >= 0."""
    if text == "cv":
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 or cv, got {text!r}")
    return value


def fit_unpaired(old_uri, old_table: str, new_uri, new_table: str, out_dir, *, method: str = "auto",
                 sample: int = 2000, seed: int = 0, scaling: str | None = "standard",
                 column: str = store.VECTOR_COLUMN, old_fingerprint: str | None = None,
                 new_fingerprint: str | None = None) -> dict:
    """Fit Procrustes old -> new with no pairs (:func:`latent_core.correspondence.align_unpaired`) on a seeded,
    evenly spread sample of ``sample`` rows of each table, and save it; returns the summary of
    :func:`fit_translator` plus ``"method"``, ``"matching"`` and ``"pairs_found"``.

    Raises:
        MissingTableError, MissingColumnError, InvalidParameterError (fewer than 2 rows, a bad method).
    """
    from latent_core.correspondence import UNPAIRED_METHODS, align_unpaired

    if method not in UNPAIRED_METHODS:
        raise InvalidParameterError(f"Unknown alignment method {method!r}; choose from {', '.join(UNPAIRED_METHODS)}.")
    check_positive(sample, "sample")
    old, new = store.open_table(old_uri, old_table), store.open_table(new_uri, new_table)
    source = store.vectors_of(store.sample_rows(old, sample, seed, [column]), column)
    target = store.vectors_of(store.sample_rows(new, sample, seed + 1, [column]), column)
    if len(source) < 2 or len(target) < 2:
        raise InvalidParameterError(f"The unpaired alignment needs at least 2 rows a side; the tables hold "
                                    f"{len(source)} and {len(target)}.")
    found = align_unpaired(source, target, method=method, seed=seed, scaling=scaling)
    alignment = {"method": found.method, "matching": found.matching, "pairs_found": len(found),
                 "rows_sampled": [len(source), len(target)]}
    fingerprints, extra = _provenance(old, new, old_uri, old_table, new_uri, new_table, column, old_fingerprint,
                                      new_fingerprint)
    save_translator(found.translator, out_dir, fingerprints=fingerprints,
                    extra={**extra, "unpaired_alignment": alignment})
    return {"estimator": "procrustes", "anchors": 0, "source_dim": source.shape[1], "target_dim": target.shape[1],
            "shrinkage": 0.0, "out": str(out_dir), **alignment}


def run(args: argparse.Namespace) -> int:
    scaling = None if args.scaling == "none" else args.scaling
    if args.unpaired:
        if args.estimator != "procrustes" or args.anchor_ids or args.max_anchors or args.passages:
            raise InvalidParameterError("--unpaired fits Procrustes on no pairs: leave out --estimator, --anchor-ids, "
                                        "--max-anchors and --passages.")
        summary = fit_unpaired(args.old_uri, args.old_table, args.new_uri or args.old_uri, args.new_table, args.out,
                               method=args.unpaired_method, sample=args.sample, seed=args.seed, scaling=scaling,
                               column=args.column, old_fingerprint=args.old_fingerprint,
                               new_fingerprint=args.new_fingerprint)
        print(f"{summary['out']}: procrustes [{summary['source_dim']}] -> [{summary['target_dim']}] fitted with no "
              f"pairs ({summary['method']}, {summary['matching']} matching, {summary['pairs_found']} pairs found in "
              f"{summary['rows_sampled'][0]} + {summary['rows_sampled'][1]} sampled rows)")
        return 0
    listed = read_id_file(args.anchor_ids, "--anchor-ids")
    summary = fit_translator(args.old_uri, args.old_table, args.new_uri or args.old_uri, args.new_table, args.out,
                             estimator=args.estimator, scaling=scaling,
                             ridge=args.ridge, shrinkage=args.shrinkage, column=args.column, listed_ids=listed,
                             max_anchors=args.max_anchors,
                             seed=args.seed, old_fingerprint=args.old_fingerprint, new_fingerprint=args.new_fingerprint,
                             passage_tables=tuple(args.passages) if args.passages else None)
    extra = f" + {summary['passage_pairs']} passage pairs" if args.passages else ""
    print(f"{summary['out']}: {summary['estimator']} [{summary['source_dim']}] -> [{summary['target_dim']}] fitted "
          f"on {summary['anchors']} anchor pairs{extra} (shrinkage {summary['shrinkage']:g})")
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``fit-translator`` subcommand."""
    parser = subparsers.add_parser("fit-translator", help="fit a translator old -> new on shared anchor ids",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("--old-uri", required=True, help="LanceDB folder of the old-model table")
    parser.add_argument("--old-table", required=True)
    parser.add_argument("--new-uri", default=None, help="LanceDB folder of the new-model table (default: --old-uri)")
    parser.add_argument("--new-table", required=True)
    parser.add_argument("--out", required=True, help="folder for translator.safetensors + translator.json")
    parser.add_argument("--estimator", default="procrustes", help=f"one of {', '.join(TRANSLATORS)}")
    parser.add_argument("--scaling", default="standard", choices=["standard", "isotropic", "none"])
    parser.add_argument("--ridge", type=float, default=1e-4, help="relative ridge used when the anchors are rank "
                        "deficient (fewer anchors than dimensions)")
    parser.add_argument("--shrinkage", type=shrinkage_value, default=0.0,
                        help="relative ridge at every rank for the least-squares estimators (linear, affine, lortho, "
                             "inverse_relative): a number >= 0, or cv to choose it by 5-fold cross-validation on the "
                             "anchors; it helps most near as many anchors as dimensions")
    parser.add_argument("--column", default=store.VECTOR_COLUMN, help="vector column of both tables")
    parser.add_argument("--anchor-ids", default=None, help="file of anchor ids, one per line (default: all shared)")
    parser.add_argument("--max-anchors", type=positive_int, default=None, help="seeded sample of this many ids")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--passages", nargs=2, metavar=("OLD", "NEW"), default=None,
                        help="passage tables (in --old-uri and --new-uri) of the anchor documents, encoded by each "
                             "model: one more pair per sentence of an anchor document (see the passages command)")
    parser.add_argument("--unpaired", action="store_true",
                        help="no anchor pairs: align a sample of each table without pairs (Procrustes)")
    parser.add_argument("--unpaired-method", default="auto", choices=["auto", "gw", "centroids"],
                        help="with --unpaired: Gromov-Wasserstein (auto) or centroid matching")
    parser.add_argument("--sample", type=positive_int, default=2000,
                        help="with --unpaired: rows sampled evenly from each table")
    parser.add_argument("--old-fingerprint", default=None, help="old encoder fingerprint (default: from the table)")
    parser.add_argument("--new-fingerprint", default=None, help="new encoder fingerprint (default: from the table)")
    parser.set_defaults(run=run)
    return parser
