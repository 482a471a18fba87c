"""``passages``: cut anchor documents into sentences, for many more anchor pairs from the same anchor documents.

A translator fitted on 1,000 document pairs is fitted on 1,000 points. The same 1,000 documents cut into sentences
give about 19 pairs each (BBC), for the same words encoded once more by each model: more work than the documents
alone, since a model reads a document only up to its length limit (256 tokens for MiniLM, 384 for MPNet) and the
sentences cover it all (on BBC, MPNet took about 1.6x the time of the bodies). Encode the passage file with both
models (``encode``) and pass both tables to ``fit-translator --passages``: every passage of an anchor document
becomes one more pair. On the BBC task (MiniLM -> MPNet, Procrustes) this lifts Recall@10 retention at 100 anchor
documents from 0.59 to 0.84 (README, "Moving a vector store to a new model").

A passage's id is ``<document id>#<n>`` (``n`` from 0, in reading order); :func:`document_of` inverts it, which is
how ``fit-translator`` keeps only the passages of its anchor documents. The input is read in row ranges (any size);
the output is one Parquet file with ``id``, ``document_id`` and the text column.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa

from latent_core.batch.options import positive_int, read_id_file
from latent_core.data.sentences import split_sentences
from latent_core.errors import DatasetFormatError, InvalidParameterError

SEPARATOR = "#"
READ_ROWS = 4096


def passage_id(document_id: str, index: int) -> str:
    return f"{document_id}{SEPARATOR}{index}"


def document_of(passage: str) -> str | None:
    """The document id of a passage id (``"a/1#3"`` -> ``"a/1"``); None when ``passage`` has no ``#<n>`` suffix."""
    head, sep, tail = str(passage).rpartition(SEPARATOR)
    return head if sep and tail.isdigit() else None


def document_passages(document_id: str, text: str, max_per_document: int | None = None) -> list[tuple[str, str]]:
    """``[(passage id, sentence)]`` of one document, in reading order (at most ``max_per_document``)."""
    sentences = split_sentences(text or "")[:max_per_document]
    return [(passage_id(document_id, i), s) for i, s in enumerate(sentences)]


def _rows(source, column: str, id_column: str) -> Iterator[tuple[str, str]]:
    for start in range(0, source.num_rows, READ_ROWS):
        chunk = source.read(start, min(start + READ_ROWS, source.num_rows), [id_column, column])
        yield from zip(map(str, chunk.column(id_column).to_pylist()), chunk.column(column).to_pylist(), strict=True)


def write_passages(input_path, out_path, *, column: str = "text", id_column: str = "id",
                   documents: Sequence[str] | None = None, max_per_document: int | None = None) -> dict:
    """Write the sentences of the input's documents (those in ``documents``, or all) to the Parquet ``out_path``.

    Returns ``{"documents", "passages", "out"}``.

    Raises:
        DatasetFormatError (unreadable input, an existing output, a listed id the input lacks), MissingColumnError,
        InvalidParameterError (``max_per_document`` < 1, an id already holding ``#<n>``, no passages).
    """
    import pyarrow.parquet as pq

    from latent_core.batch.encode import InputSource

    if max_per_document is not None and max_per_document < 1:
        raise InvalidParameterError(f"max_per_document must be >= 1, got {max_per_document}.")
    out = Path(out_path)
    if out.exists():
        raise DatasetFormatError(f"{str(out)!r} already exists; choose a new output file.")
    source = InputSource(input_path)
    source.check_columns([id_column, column])
    keep = None if documents is None else {str(d) for d in documents}
    schema = pa.schema([("id", pa.string()), ("document_id", pa.string()), (column, pa.string())])
    seen, count = set(), 0
    partial = out.with_name(out.name + ".partial")
    try:
        with pq.ParquetWriter(partial, schema) as writer:
            for document, text in _rows(source, column, id_column):
                if keep is not None and document not in keep:
                    continue
                if document_of(document) is not None:
                    raise InvalidParameterError(f"Document id {document!r} already ends in '#<n>', the passage id "
                                                "form; rename such documents first.")
                rows = document_passages(document, text, max_per_document)
                seen.add(document)
                count += len(rows)
                if rows:
                    writer.write_table(pa.table({"id": [r[0] for r in rows], "document_id": [document] * len(rows),
                                                 column: [r[1] for r in rows]}, schema=schema))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    missing = sorted(keep - seen) if keep is not None else []
    if missing or count == 0:
        partial.unlink()
        if missing:
            raise DatasetFormatError(f"{len(missing)} listed documents are not in {source.path!r} (first: "
                                     f"{missing[:3]}).")
        raise InvalidParameterError(f"No sentences in the {len(seen)} documents read from {source.path!r}.")
    partial.rename(out)
    return {"documents": len(seen), "passages": count, "out": str(out)}


def run(args: argparse.Namespace) -> int:
    documents = read_id_file(args.ids, "--ids")
    summary = write_passages(args.input, args.out, column=args.column, id_column=args.id_column, documents=documents,
                             max_per_document=args.max_per_document)
    print(f"{summary['out']}: {summary['passages']} sentences of {summary['documents']} documents")
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``passages`` subcommand."""
    parser = subparsers.add_parser("passages", help="cut anchor documents into sentences (more anchor pairs)",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="Parquet file or folder, or Lance dataset, of documents")
    parser.add_argument("--out", required=True, help="new Parquet file: id (<document id>#<n>), document_id, text")
    parser.add_argument("--column", default="text", help="text column (default text)")
    parser.add_argument("--id-column", default="id", help="id column (default id)")
    parser.add_argument("--ids", default=None, help="file of document ids, one per line (default: every document); "
                        "give the anchor documents")
    parser.add_argument("--max-per-document", type=positive_int, default=None, help="keep the first N sentences")
    parser.set_defaults(run=run)
    return parser
