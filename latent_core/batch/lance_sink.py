"""A Ray Data sink for Lance datasets that works with the pinned pylance.

Why not ``Dataset.write_lance``: Ray 2.60's ``LanceDatasink`` passes ``storage_options_provider=`` to
``lance.fragment.write_fragments``, ``lance.LanceDataset`` and ``LanceDataset.commit``, a keyword pylance 14
removed (``TypeError: write_fragments() got an unexpected keyword argument 'storage_options_provider'``). This
sink does the same two steps with the pylance 14 API: each write task writes its blocks as new fragments
(``write_fragments``) and returns their metadata as JSON; the driver commits them all at once
(``LanceOperation.Overwrite`` or ``Append``), so a failed run leaves the previous version of the table intact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
from ray.data.block import BlockAccessor
from ray.data.datasource.datasink import Datasink, WriteResult

MODES = ("create", "overwrite", "append")


class LanceSink(Datasink):
    """Write a Ray Dataset into the Lance dataset ``uri`` (``mode``: create | overwrite | append)."""

    def __init__(self, uri: str, *, mode: str = "create", schema: pa.Schema | None = None,
                 min_rows_per_file: int = 64 * 1024, max_rows_per_file: int = 1024 * 1024) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.uri, self.mode, self.schema = uri, mode, schema
        self.min_rows_per_file, self.max_rows_per_file = min_rows_per_file, max_rows_per_file
        self.read_version: int | None = None

    def get_name(self) -> str:
        return "LatentLance"

    @property
    def supports_distributed_writes(self) -> bool:
        return True

    @property
    def min_rows_per_write(self) -> int:
        return self.min_rows_per_file

    def _existing(self):
        import lance

        try:
            return lance.dataset(self.uri)
        except (ValueError, OSError, FileNotFoundError):
            return None

    def on_write_start(self, schema: pa.Schema | None = None) -> None:
        existing = self._existing()
        if self.mode == "create" and existing is not None:
            raise ValueError(f"Lance dataset {self.uri} already exists; use mode='overwrite' or 'append'.")
        if self.mode == "append":
            if existing is None:
                self.mode = "create"
            else:
                self.read_version = existing.version
                self.schema = self.schema or existing.schema
        elif existing is not None:
            self.read_version = existing.version

    def write(self, blocks: Iterable, ctx: Any) -> list[tuple[str, bytes]]:
        """Write this task's blocks as new fragments; returns ``[(fragment JSON, schema IPC bytes)]``."""
        from lance.fragment import write_fragments

        tables = (BlockAccessor.for_block(block).to_arrow() for block in blocks)
        first = next(tables, None)
        if first is None:
            return []
        schema = self.schema or first.schema

        def batches():
            for table in _chain(first, tables):
                yield from table.select(schema.names).cast(schema).to_batches()

        reader = pa.RecordBatchReader.from_batches(schema, batches())
        fragments = write_fragments(reader, self.uri, schema=schema, max_rows_per_file=self.max_rows_per_file)
        schema_bytes = schema.serialize().to_pybytes()
        return [(json.dumps(fragment.to_json()), schema_bytes) for fragment in fragments]

    def on_write_complete(self, write_result: WriteResult) -> None:
        results = [item for task in write_result.write_returns for item in task]
        if not results:
            return
        self.commit([fragment for fragment, _ in results], pa.ipc.read_schema(pa.py_buffer(results[0][1])))

    def commit(self, fragments: list[str], schema: pa.Schema) -> None:
        """Commit fragments written by :meth:`write` (or by ``write_fragments`` elsewhere; their JSON) in one
        transaction: ``Append`` in append mode, else ``Overwrite`` with ``schema``. Call :meth:`on_write_start`
        first. No fragments: an append changes nothing; create / overwrite leave an empty table of ``schema``."""
        import lance
        from lance.fragment import FragmentMetadata

        if not fragments:
            if self.mode != "append":
                lance.write_dataset(schema.empty_table(), self.uri, schema=schema, mode="overwrite")
            return
        metadata = [FragmentMetadata.from_json(fragment) for fragment in fragments]
        if self.mode == "append":
            operation = lance.LanceOperation.Append(metadata)
        else:
            operation = lance.LanceOperation.Overwrite(schema, metadata)
        lance.LanceDataset.commit(self.uri, operation, read_version=self.read_version)


def _chain(first, rest):
    yield first
    yield from rest
