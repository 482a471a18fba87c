"""The migration gate: is retrieval over translated-old vectors good enough to skip re-embedding?

Held-out queries embedded by the NEW model retrieve (exact cosine, :mod:`latent_core.batch.retrieval`) from

- the corpus re-embedded by the new model (the expensive path, the reference), and
- the corpus embedded by the OLD model, then translated into the new space (the cheap path).

Reported: Recall@{1,5,10}, MRR and nDCG@10 of both, their retention (translated / re-embedded), the mean paired
cosine between translated-old and true-new vectors of the same documents, and the verdict: ``"migrate"`` when
Recall@10 retention >= the threshold (default 0.95), else ``"re-embed"``.

CLI (``python -m latent_core.batch evaluate``) on LanceDB tables in one database folder: the queries table
(``id``, ``vector``, and a column naming each query's relevant document, by default the query's own ``id``),
the re-embedded corpus table and the translated corpus table (``id`` + a vector column each). The corpus tables
are streamed in chunks; only the queries and the id columns are held whole.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from latent_core.batch.retrieval import DEFAULT_KS, mean_paired_cosine, metrics_from_ranks, relevant_ranks
from latent_core.errors import InvalidParameterError, MissingColumnError, ShapeMismatchError
from latent_core.metrics import paired_cosine
from latent_core.validation import ArrayLike, as_matrix

DEFAULT_THRESHOLD = 0.95
GATE_METRIC = "recall@10"


@dataclass
class GateReport:
    """What :func:`gate` measured. ``reembedded``/``translated``: ``{"recall@1", "recall@5", "recall@10", "mrr",
    "ndcg@10"}``; ``retention``: translated / re-embedded per metric (1.0 when both are 0, inf when only the
    re-embedded one is)."""

    reembedded: dict[str, float]
    translated: dict[str, float]
    retention: dict[str, float]
    paired_cosine: float
    threshold: float
    verdict: str
    n_queries: int
    n_corpus: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def table(self) -> str:
        """A readable fixed-width table and the verdict line."""
        lines = [f"{'metric':<10} {'re-embedded':>12} {'translated':>11} {'retention':>10}"]
        for name in self.reembedded:
            lines.append(f"{name:<10} {self.reembedded[name]:>12.4f} {self.translated[name]:>11.4f} "
                         f"{self.retention[name]:>10.4f}")
        lines.append(f"mean paired cosine (translated-old vs re-embedded): {self.paired_cosine:.4f}")
        lines.append(f"{self.n_queries} queries, {self.n_corpus} documents. Verdict: {self.verdict.upper()} "
                     f"({GATE_METRIC} retention {self.retention[GATE_METRIC]:.4f} "
                     f"{'>=' if self.verdict == 'migrate' else '<'} threshold {self.threshold:.4f})")
        return "\n".join(lines)


def _ratio(translated: float, reembedded: float) -> float:
    if reembedded > 0:
        return translated / reembedded
    return 1.0 if translated == 0 else math.inf


def verdict(retention: float, threshold: float = DEFAULT_THRESHOLD) -> str:
    """``"migrate"`` if the Recall@10 retention reaches ``threshold``, else ``"re-embed"``."""
    return "migrate" if retention >= threshold else "re-embed"


def check_threshold(threshold: float) -> float:
    threshold = float(threshold)
    if not (0.0 < threshold <= 10.0) or math.isnan(threshold):
        raise InvalidParameterError(f"The retention threshold must be a positive ratio such as 0.95, got {threshold}.")
    return threshold


def report(ranks_new: torch.Tensor, ranks_translated: torch.Tensor, cosine: float, threshold: float,
           n_corpus: int, ks: Sequence[int] = DEFAULT_KS) -> GateReport:
    """A :class:`GateReport` from the relevant documents' ranks ``[M]`` under both corpora."""
    if 10 not in ks:
        ks = (*ks, 10)
    new, old = metrics_from_ranks(ranks_new, ks), metrics_from_ranks(ranks_translated, ks)
    retention = {name: _ratio(old[name], new[name]) for name in new}
    return GateReport(new, old, retention, float(cosine), threshold, verdict(retention[GATE_METRIC], threshold),
                      int(ranks_new.numel()), int(n_corpus))


def gate(queries_new: ArrayLike, corpus_new: ArrayLike, corpus_translated: ArrayLike, relevant: ArrayLike,
         threshold: float = DEFAULT_THRESHOLD, ks: Sequence[int] = DEFAULT_KS) -> GateReport:
    """Compare retrieval on the re-embedded corpus with retrieval on the translated corpus (in-memory inputs).

    Args:
        queries_new: ``[M, D]`` held-out queries embedded by the new model.
        corpus_new: ``[N, D]`` corpus re-embedded by the new model.
        corpus_translated: ``[N, D]`` the same corpus rows embedded by the old model, translated.
        relevant: ``[M]`` row of each query's relevant document in both corpora.
        threshold: Recall@10 retention needed to say ``"migrate"``.

    Raises:
        ShapeMismatchError, InvalidParameterError (threshold, relevant rows), ZeroVectorError, NonFiniteError.
    """
    threshold = check_threshold(threshold)
    new, translated = as_matrix(corpus_new, "corpus_new"), as_matrix(corpus_translated, "corpus_translated")
    if new.shape != translated.shape:
        raise ShapeMismatchError(f"corpus_new {tuple(new.shape)} and corpus_translated {tuple(translated.shape)} must "
                                 "hold the same documents in the same space.")
    ranks_new = relevant_ranks(queries_new, new, relevant)
    ranks_old = relevant_ranks(queries_new, translated, relevant)
    return report(ranks_new, ranks_old, mean_paired_cosine(translated, new), threshold, new.shape[0], ks)


# ---- LanceDB tables --------------------------------------------------------------------------------------------


def _id_column(table) -> np.ndarray:
    from latent_core.batch.store import ID_COLUMN

    return np.asarray(table.to_lance().to_table(columns=[ID_COLUMN]).column(ID_COLUMN).to_pylist(), dtype=object)


def _stream(table, column: str, chunk_rows: int) -> Iterator[np.ndarray]:
    from latent_core.batch.store import vectors_of

    for batch in table.to_lance().to_batches(columns=[column], batch_size=chunk_rows):
        if batch.num_rows:
            yield vectors_of(batch, column)


def _positions(ids: np.ndarray, wanted: Sequence[str], what: str) -> np.ndarray:
    index = {key: row for row, key in enumerate(ids)}
    if len(index) != len(ids):
        raise InvalidParameterError(f"The {what} table holds some ids more than once.")
    missing = [key for key in wanted if key not in index]
    if missing:
        raise InvalidParameterError(f"{len(missing)} relevant documents are not in the {what} table "
                                    f"(first: {missing[:3]}).")
    return np.array([index[key] for key in wanted], dtype=np.int64)


class _Rows:
    """The rows of a stream of ``[n_i, D]`` chunks, taken ``n`` at a time whatever the chunks' sizes."""

    def __init__(self, chunks: Iterator[np.ndarray]) -> None:
        self._chunks, self._left = chunks, None

    def take(self, n: int) -> np.ndarray:
        parts = []
        while n:
            if self._left is None or not len(self._left):
                self._left = next(self._chunks)
            part, self._left = self._left[:n], self._left[n:]
            parts.append(part)
            n -= len(part)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _streamed_paired_cosine(new_table, new_ids, translated_table, translated_ids, new_col, translated_col,
                            chunk_rows: int) -> float:
    from latent_core.batch.store import read_vectors

    total, count = 0.0, 0
    same_order = len(new_ids) == len(translated_ids) and bool(np.all(new_ids == translated_ids))
    # the two tables' batches need not line up (their files hold different row counts): take rows, not batches
    new_rows = _Rows(_stream(new_table, new_col, chunk_rows)) if same_order else None
    offset = 0
    for chunk in _stream(translated_table, translated_col, chunk_rows):
        if new_rows is not None:
            target = new_rows.take(len(chunk))
        else:
            target = read_vectors(new_table, list(translated_ids[offset : offset + len(chunk)]), new_col)
        if target.shape[1] != chunk.shape[1]:
            raise ShapeMismatchError(f"Translated vectors have dimension {chunk.shape[1]}, re-embedded ones "
                                     f"{target.shape[1]}: translate into the new model's space first.")
        total += float(paired_cosine(chunk, target).double().sum())
        count += len(chunk)
        offset += len(chunk)
    return total / max(1, count)


def gate_tables(uri: str, queries: str, corpus_new: str, corpus_translated: str, *, query_column: str = "vector",
                new_column: str = "vector", translated_column: str = "vector", relevant_column: str = "id",
                threshold: float = DEFAULT_THRESHOLD, chunk_rows: int = 65_536) -> GateReport:
    """:func:`gate` on three LanceDB tables of database folder ``uri``; the corpora are streamed in chunks.

    ``relevant_column`` of the queries table names each query's relevant document by its corpus ``id`` (default:
    the query's own id, e.g. a headline query carries its article's id). The two corpus tables must hold the same
    ids (in any order).

    Raises:
        MissingTableError, MissingColumnError, InvalidParameterError (ids), ShapeMismatchError.
    """
    from latent_core.batch.store import open_table, read_vectors, vectors_of

    threshold = check_threshold(threshold)
    q_table, new_table, tr_table = (open_table(uri, name) for name in (queries, corpus_new, corpus_translated))
    if relevant_column not in q_table.schema.names:
        raise MissingColumnError(f"Queries table {queries!r} has no column {relevant_column!r} naming the relevant "
                                 f"documents; its columns: {', '.join(q_table.schema.names)}.")
    q_data = q_table.to_lance().to_table(columns=[query_column, relevant_column])
    q_vectors = vectors_of(q_data, query_column)
    wanted = [str(v) for v in q_data.column(relevant_column).to_pylist()]
    new_ids, tr_ids = _id_column(new_table), _id_column(tr_table)
    if len(new_ids) != len(tr_ids) or set(new_ids) != set(tr_ids):
        raise InvalidParameterError(f"Tables {corpus_new!r} ({len(new_ids)} rows) and {corpus_translated!r} "
                                    f"({len(tr_ids)} rows) must hold the same document ids.")
    ranks = []
    for table, ids, column, what in ((new_table, new_ids, new_column, corpus_new),
                                     (tr_table, tr_ids, translated_column, corpus_translated)):
        positions = _positions(ids, wanted, what)
        targets = read_vectors(table, wanted, column)
        ranks.append(relevant_ranks(q_vectors, _stream(table, column, chunk_rows), positions, targets))
    cosine = _streamed_paired_cosine(new_table, new_ids, tr_table, tr_ids, new_column, translated_column, chunk_rows)
    return report(ranks[0], ranks[1], cosine, threshold, len(new_ids))


# ---- CLI -------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    result = gate_tables(args.uri, args.queries, args.corpus_new, args.corpus_translated,
                         query_column=args.query_column, new_column=args.new_column,
                         translated_column=args.translated_column, relevant_column=args.relevant_column,
                         threshold=args.threshold, chunk_rows=args.chunk_rows)
    print(result.table())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(result.to_json())
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``evaluate`` subcommand (``set_defaults(run=run)``)."""
    parser = subparsers.add_parser("evaluate", help="the migration gate: translated-old vs re-embedded retrieval",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", required=True, help="LanceDB database folder holding the three tables")
    parser.add_argument("--queries", required=True, help="table of held-out queries embedded by the NEW model")
    parser.add_argument("--corpus-new", required=True, help="table of the corpus re-embedded by the NEW model")
    parser.add_argument("--corpus-translated", required=True, help="table of the OLD corpus vectors, translated")
    parser.add_argument("--query-column", default="vector")
    parser.add_argument("--new-column", default="vector")
    parser.add_argument("--translated-column", default="vector")
    parser.add_argument("--relevant-column", default="id",
                        help="queries column holding the id of each query's relevant document (default: its own id)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help="Recall@10 retention needed to say 'migrate' (default 0.95)")
    parser.add_argument("--chunk-rows", type=int, default=65_536, help="corpus rows read per chunk")
    parser.add_argument("--json", help="also write the report as JSON to this file")
    parser.set_defaults(run=run)
    return parser
