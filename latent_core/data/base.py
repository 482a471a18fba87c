"""The Dataset record, deterministic stratified subsampling, and the dataset registry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from latent_core._scalars import as_int
from latent_core.errors import ConfigError, EmptyDatasetError, UnknownDatasetError
from latent_core.fingerprint import items_fingerprint

Modality = Literal["text", "image"]


@dataclass
class Dataset:
    """Parallel samples to embed with two encoders.

    Attributes:
        name: the spec it was loaded from.
        ids: one unique string per sample (stable across subsamples: used to align uploads and selections).
        items: texts (``str``) or images (``PIL.Image``), one per id.
        labels: ``[N]`` int64 class indices into ``label_names``.
        label_names: class names, index = label.
        modality: ``"text"`` or ``"image"``.
        captions: for image+caption sets, one caption per image (the text side of cross-modal anchors).
        rows: ``[N]`` position of each sample in the full, unsubsampled source (to align row-ordered files).
        n_source: number of samples in the full source.
    """

    name: str
    ids: list[str]
    items: list[Any]
    labels: np.ndarray
    label_names: list[str]
    modality: Modality
    captions: list[str] | None = None
    rows: np.ndarray | None = None
    n_source: int | None = None
    _fingerprint: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        n = len(self.ids)
        if len(self.items) != n or len(self.labels) != n:
            raise ValueError(f"ids ({n}), items ({len(self.items)}) and labels ({len(self.labels)}) differ")
        if self.captions is not None and len(self.captions) != n:
            raise ValueError("captions must have one entry per sample")
        if len(set(self.ids)) != n:
            raise ValueError("sample ids must be unique")
        if self.rows is None:
            self.rows = np.arange(n, dtype=np.int64)
        if self.n_source is None:
            self.n_source = n
        if n == 0:
            raise EmptyDatasetError(f"Dataset {self.name!r} has no samples.")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def fingerprint(self) -> str:
        """Hash of ids and items: the dataset part of an embedding cache key."""
        if self._fingerprint is None:
            self._fingerprint = items_fingerprint(self.ids, self.items)
        return self._fingerprint

    def subset(self, index: Sequence[int] | np.ndarray) -> Dataset:
        """The samples at ``index``, in that order."""
        index = np.asarray(index, dtype=np.int64)
        return Dataset(
            name=self.name,
            ids=[self.ids[i] for i in index],
            items=[self.items[i] for i in index],
            labels=self.labels[index],
            label_names=list(self.label_names),
            modality=self.modality,
            captions=None if self.captions is None else [self.captions[i] for i in index],
            rows=self.rows[index],
            n_source=self.n_source,
        )


def stratified_indices(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` indices drawn without replacement, class proportions kept (largest remainders).

    Deterministic for a given ``(labels, n, seed)``; returned sorted so the order follows the source.
    """
    labels = np.asarray(labels)
    total = len(labels)
    n = as_int(n, "n (the number of samples)", error=ConfigError)
    if n <= 0:
        raise EmptyDatasetError(f"Asked for {n} samples; ask for at least 1.")
    if n >= total:
        return np.arange(total)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * n / total
    take = np.floor(exact).astype(int)
    remainder = n - take.sum()
    order = np.lexsort((classes, -(exact - take)))  # largest fractional parts first, ties by class
    take[order[:remainder]] += 1
    chosen = [
        rng.choice(np.flatnonzero(labels == cls), size=k, replace=False) for cls, k in zip(classes, take)
    ]
    return np.sort(np.concatenate(chosen))


def subsample(dataset: Dataset, n: int | None, seed: int = 0) -> Dataset:
    """The stratified subsample of ``n`` samples (all of them when ``n`` is None or too large)."""
    if n is None or n >= len(dataset):
        return dataset
    return dataset.subset(stratified_indices(dataset.labels, n, seed))


# name -> (loader(arg) -> Dataset, description, offline)
DatasetLoader = Callable[[str | None], Dataset]
SpecKind = Literal["name", "hub", "path"]
_REGISTRY: dict[str, tuple[DatasetLoader, str, bool]] = {}
_KINDS: dict[str, SpecKind] = {}


def register_dataset(name: str, description: str, offline: bool = True, kind: SpecKind = "path"):
    """Decorator: register ``loader(arg)`` under ``name`` (spec ``name`` or ``name:arg``).

    ``kind`` says what the argument names: a fixed variant (``"name"``), a hub dataset (``"hub"``) or a file
    (``"path"``, the default: a loader that does not declare otherwise is never opened from a link).
    """

    def wrap(loader: DatasetLoader) -> DatasetLoader:
        _REGISTRY[name] = (loader, description, offline)
        _KINDS[name] = kind
        return loader

    return wrap


def parse_spec(spec: str) -> tuple[str, str | None]:
    name, _, arg = spec.partition(":")
    return name.strip().lower(), (arg or None)


def registry_entry(spec: str) -> tuple[DatasetLoader, str | None]:
    name, arg = parse_spec(spec)
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownDatasetError(f"Unknown dataset {spec!r}. Known datasets: {known}.")
    return _REGISTRY[name][0], arg


def spec_kind(spec: str) -> SpecKind:
    """``"name"``, ``"hub"`` or ``"path"`` for a dataset spec (see :func:`register_dataset`).

    Raises:
        UnknownDatasetError: the spec names no registered dataset.
    """
    registry_entry(spec)  # raises for an unknown name
    return _KINDS[parse_spec(spec)[0]]


def registered() -> dict[str, tuple[DatasetLoader, str, bool]]:
    return dict(_REGISTRY)
