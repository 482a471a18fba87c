"""Commit Lance data files written elsewhere in one transaction, with the pinned pylance.

Why not Ray's ``Dataset.write_lance``: Ray 2.60's ``LanceDatasink`` passes ``storage_options_provider=`` to
``lance.fragment.write_fragments``, ``lance.LanceDataset`` and ``LanceDataset.commit``, a keyword pylance 14
removed (``TypeError: write_fragments() got an unexpected keyword argument 'storage_options_provider'``). The
pipeline (:mod:`latent_core.batch.pipeline`) does the same two steps with the pylance 14 API: each actor writes its
rows as new, uncommitted data files (``write_fragments``) and returns their metadata as JSON; :class:`LanceSink`
commits them all at once (``LanceOperation.Overwrite`` or ``Append``), so a failed run leaves the previous version of
the table intact.
"""

from __future__ import annotations

import pyarrow as pa

MODES = ("create", "overwrite", "append")


class LanceSink:
    """The commit side of writing the Lance dataset ``uri`` (``mode``: create | overwrite | append): call
    :meth:`on_write_start` before the data files are written, then :meth:`commit` with their metadata."""

    def __init__(self, uri: str, *, mode: str = "create", schema: pa.Schema | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.uri, self.mode, self.schema = uri, mode, schema
        self.read_version: int | None = None

    def _existing(self):
        import lance

        try:
            return lance.dataset(self.uri)
        except (ValueError, OSError, FileNotFoundError):
            return None

    def on_write_start(self) -> None:
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

    def commit(self, fragments: list[str], schema: pa.Schema) -> None:
        """Commit data files written by ``lance.fragment.write_fragments`` (their metadata as JSON) in one
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

