"""Datasets by spec string: ``load_dataset("bbc", n=500, seed=0)``.

Offline: ``bbc`` (``bbc:full``), ``fashion-mnist`` (``:train``), ``digits``, ``captions`` (image+caption
pairs), and user files (``table:<path>``, ``zip:<path>``). Online: ``hf:<name>``.
"""

from __future__ import annotations

from latent_core._scalars import as_int, describe
from latent_core.data import bbc, hub, images, upload  # noqa: F401 - registers the loaders
from latent_core.data.base import Dataset, registered, registry_entry, spec_kind, stratified_indices, subsample
from latent_core.data.upload import load_image_zip, load_table
from latent_core.errors import ConfigError, EmptyDatasetError, UnknownDatasetError

__all__ = ["Dataset", "list_datasets", "load_dataset", "load_image_zip", "load_table", "spec_kind",
           "stratified_indices"]


def load_dataset(spec: str, n: int | None = None, seed: int = 0) -> Dataset:
    """Load a dataset, optionally a deterministic stratified subsample of ``n`` samples.

    Raises:
        UnknownDatasetError, DatasetUnavailableError, DatasetFormatError (and subclasses).
    """
    if not isinstance(spec, str):
        known = ", ".join(sorted(registered()))
        raise UnknownDatasetError(
            f"A dataset spec is a string such as 'bbc' or 'table:data.csv', got {describe(spec)}. "
            f"Known datasets: {known}."
        )
    if n is not None:
        if isinstance(n, bool) or not hasattr(n, "__index__"):
            raise ConfigError(f"n is the number of samples to load: pass an integer such as n=500, or None for all "
                              f"of them; got {describe(n)}.")
        n = as_int(n, "n", error=ConfigError)
        if n <= 0:
            raise EmptyDatasetError(f"Asked for n={n} samples; ask for at least 1 (or None for all).")
    seed = as_int(seed, "seed", error=ConfigError)
    loader, arg = registry_entry(spec)
    return subsample(loader(arg), n, seed)


def list_datasets() -> list[tuple[str, str, bool]]:
    """``(name, description, works offline)`` for every registered dataset."""
    return [(name, description, offline) for name, (_, description, offline) in registered().items()]
