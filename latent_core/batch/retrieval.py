"""Retrieval quality with one relevant document per query: Recall@k, MRR, nDCG@10 from exact cosine ranks.

A query ``q`` [D] and its relevant document ``r`` in a corpus ``C`` [N, D]: the rank of ``r`` is 1 + the number of
OTHER documents strictly more similar to ``q`` by cosine (ties count in the query's favour, as in
:func:`latent_core.metrics.counterpart_ranks`, which handles the paired N-to-N case). From ranks:

    Recall@k = mean(rank <= k)        MRR = mean(1 / rank)
    nDCG@10  = mean(1 / log2(rank + 1) if rank <= 10 else 0)     (one relevant item: the ideal DCG is 1)

The corpus is read in chunks (a tensor is sliced; an iterable of ``[n_i, D]`` chunks is streamed, e.g. batches of a
Lance table) and queries in blocks, so memory is O(query block x corpus chunk), never N x N.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import torch

from latent_core.errors import InvalidParameterError, ShapeMismatchError
from latent_core.metrics import paired_cosine
from latent_core.validation import ArrayLike, as_matrix, unit_rows

CHUNK_ELEMENTS = 1 << 24  # query block x corpus chunk similarities per step (~64 MB of float32)
DEFAULT_KS = (1, 5, 10)
TIE_TOLERANCE = 1e-6  # cosine; a document this close to the relevant one's score is a tie (not counted)


def _chunks(corpus: ArrayLike | Iterable[ArrayLike], rows: int) -> Iterator[torch.Tensor]:
    if torch.is_tensor(corpus) or hasattr(corpus, "__array__"):
        matrix = as_matrix(corpus, "corpus")
        for start in range(0, matrix.shape[0], rows):
            yield matrix[start : start + rows]
    else:
        for chunk in corpus:
            yield as_matrix(chunk, "corpus chunk")


def relevant_ranks(
    queries: ArrayLike,
    corpus: ArrayLike | Iterable[ArrayLike],
    relevant: ArrayLike | Sequence[int],
    relevant_vectors: ArrayLike | None = None,
    chunk_rows: int = 65_536,
) -> torch.Tensor:
    """``[M]`` rank (1 = best) of each query's relevant document among all corpus rows, by exact cosine.

    Each query's score for its relevant document is computed first (float64), then the corpus is streamed once,
    counting per query the OTHER rows scoring more than that plus ``TIE_TOLERANCE`` (the relevant row itself is
    masked, so rounding can never rank a document below itself; near-exact ties count in the query's favour).

    Args:
        queries: ``[M, D]``.
        corpus: ``[N, D]`` matrix, or an iterable of ``[n_i, D]`` chunks in corpus order (streamed once).
        relevant: ``[M]`` row of each query's relevant document in the corpus (0-based, in corpus order).
        relevant_vectors: ``[M, D]`` the relevant documents' vectors; required when ``corpus`` is an iterable
            (a matrix corpus gives them by indexing).
        chunk_rows: corpus rows per chunk when ``corpus`` is a matrix.

    Raises:
        ShapeMismatchError: dimensions differ, or ``relevant`` has not one entry per query.
        InvalidParameterError: a relevant row outside the corpus, or no ``relevant_vectors`` for a streamed corpus.
        ZeroVectorError / NonFiniteError: unusable vectors.
    """
    q = unit_rows(as_matrix(queries, "queries"), "queries")
    rel = torch.as_tensor(relevant, dtype=torch.long).reshape(-1).to(q.device)
    if rel.shape[0] != q.shape[0]:
        raise ShapeMismatchError(f"relevant has {rel.shape[0]} entries for {q.shape[0]} queries.")
    if rel.numel() and int(rel.min()) < 0:
        raise InvalidParameterError("relevant holds a negative corpus row.")
    streamed = not (torch.is_tensor(corpus) or hasattr(corpus, "__array__"))
    if relevant_vectors is None:
        if streamed:
            raise InvalidParameterError("A streamed corpus needs relevant_vectors (the relevant documents' vectors).")
        matrix = as_matrix(corpus, "corpus")
        if rel.numel() and int(rel.max()) >= matrix.shape[0]:
            raise InvalidParameterError(f"relevant holds row {int(rel.max())}; the corpus has {matrix.shape[0]}.")
        relevant_vectors = matrix[rel.to(matrix.device)]
    target = unit_rows(as_matrix(relevant_vectors, "relevant_vectors", device=q.device), "relevant_vectors")
    if target.shape != q.shape:
        raise ShapeMismatchError(f"relevant_vectors has shape {tuple(target.shape)}, queries {tuple(q.shape)}.")
    threshold = ((q.double() * target.double()).sum(1) + TIE_TOLERANCE).float()
    better = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    offset = 0
    for chunk in _chunks(corpus, chunk_rows):
        if chunk.shape[1] != q.shape[1]:
            raise ShapeMismatchError(f"corpus has dimension {chunk.shape[1]}, queries {q.shape[1]}.")
        docs = unit_rows(chunk.to(q.device), "corpus")
        block = max(1, CHUNK_ELEMENTS // max(1, docs.shape[0]))
        for start in range(0, q.shape[0], block):
            stop = min(start + block, q.shape[0])
            sims = q[start:stop] @ docs.T
            local = rel[start:stop] - offset
            rows = torch.nonzero((local >= 0) & (local < docs.shape[0])).squeeze(1)
            sims[rows, local[rows]] = float("-inf")  # the relevant document itself is never "better"
            better[start:stop] += (sims > threshold[start:stop, None]).sum(1)
        offset += docs.shape[0]
    if rel.numel() and int(rel.max()) >= offset:
        raise InvalidParameterError(f"relevant holds row {int(rel.max())}; the corpus has {offset}.")
    return better + 1


def metrics_from_ranks(ranks: ArrayLike, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """``{"recall@k" for k in ks, "mrr", "ndcg@10"}`` from ``[M]`` ranks (1 = best) of one relevant item each.

    Raises:
        InvalidParameterError: no ranks, a rank below 1, or a k below 1.
    """
    r = torch.as_tensor(ranks).reshape(-1).double()
    if r.numel() == 0 or bool((r < 1).any()):
        raise InvalidParameterError("Ranks must be a non-empty list of positive integers.")
    if any(int(k) < 1 for k in ks):
        raise InvalidParameterError(f"Recall cut-offs must be >= 1, got {list(ks)}.")
    out = {f"recall@{int(k)}": float((r <= k).double().mean()) for k in ks}
    out["mrr"] = float((1.0 / r).mean())
    gain = torch.where(r <= 10, 1.0 / torch.log2(r + 1.0), torch.zeros_like(r))
    out["ndcg@10"] = float(gain.mean())
    return out


def retrieval_metrics(queries: ArrayLike, corpus: ArrayLike | Iterable[ArrayLike], relevant: ArrayLike | Sequence[int],
                      ks: Sequence[int] = DEFAULT_KS, relevant_vectors: ArrayLike | None = None) -> dict[str, float]:
    """:func:`metrics_from_ranks` of :func:`relevant_ranks` (same arguments)."""
    return metrics_from_ranks(relevant_ranks(queries, corpus, relevant, relevant_vectors), ks)


def mean_paired_cosine(x: ArrayLike, y: ArrayLike, chunk_rows: int = 65_536) -> float:
    """Mean over rows of cos(x[i], y[i]) (translated-old vs true-new), in row chunks;
    :func:`latent_core.metrics.paired_cosine` per chunk."""
    x, y = as_matrix(x, "x", lazy=True), as_matrix(y, "y", lazy=True)
    if x.shape != y.shape:
        raise ShapeMismatchError(f"x {tuple(x.shape)} and y {tuple(y.shape)} must have the same shape.")
    total = 0.0
    for start in range(0, x.shape[0], chunk_rows):
        total += float(paired_cosine(x[start : start + chunk_rows], y[start : start + chunk_rows]).double().sum())
    return total / max(1, x.shape[0])

