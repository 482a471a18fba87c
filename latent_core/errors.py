"""Typed exceptions of latent_core.

Every error a user can cause (a bad spec, a missing package, a malformed file) raises one of these,
with a message that says what went wrong and what to do next. The app shows ``str(error)``.
"""

from __future__ import annotations


class LatentCoreError(Exception):
    """Base class of every error raised on purpose by latent_core."""


class ConfigError(LatentCoreError, ValueError):
    """A setting (environment variable, argument) has an invalid value."""


class UnknownEncoderError(LatentCoreError, KeyError):
    """The encoder spec does not name a known backend or model."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class EncoderUnavailableError(LatentCoreError, RuntimeError):
    """The encoder exists but cannot be loaded here (offline, package missing, weights missing)."""


class UnknownDatasetError(LatentCoreError, KeyError):
    """The dataset spec does not name a known dataset."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DatasetUnavailableError(LatentCoreError, RuntimeError):
    """The dataset exists but cannot be loaded here (offline, package not installed)."""


class DatasetFormatError(LatentCoreError, ValueError):
    """A user file cannot be read as a dataset (malformed CSV, not an image, bad zip layout)."""


class MissingColumnError(DatasetFormatError):
    """A table lacks a column the dataset needs (text, label or id)."""


class EmptyDatasetError(DatasetFormatError):
    """A dataset (or the subsample asked for) has no samples."""


class InvalidImageError(DatasetFormatError):
    """A file that should be an image cannot be decoded as one."""


class EmbeddingFormatError(LatentCoreError, ValueError):
    """A precomputed embedding file is unsafe or malformed (object dtype, wrong shape, NaN...)."""


class EmbeddingAlignmentError(EmbeddingFormatError):
    """Precomputed embeddings cannot be aligned to the dataset (row count or ids differ)."""


# ---- math inputs (anchors, relative, translate, metrics) ----------------------------------------------


class MathInputError(LatentCoreError, ValueError):
    """Inputs to a latent-space operation are unusable as given."""


class ShapeMismatchError(MathInputError):
    """Paired spaces disagree in row count (or a matrix has the wrong number of dimensions)."""


class AnchorIndexError(MathInputError):
    """Anchor indices are out of range, duplicated, or fewer than two."""


class InvalidParameterError(MathInputError):
    """A parameter is out of its range (k >= N, an unknown projection, topk with a distance...)."""


class NonFiniteError(MathInputError):
    """An input holds NaN or infinite values."""


class ZeroVectorError(MathInputError):
    """A zero vector was given where a direction is needed (cosine)."""


class NotFittedError(LatentCoreError, RuntimeError):
    """An estimator was used before ``fit``."""


class InvalidDtypeError(MathInputError):
    """An input is not a real-valued numeric array (strings, objects, complex numbers, ragged lists)."""


class DegenerateAnchorsError(MathInputError):
    """The anchors carry no information (all anchor rows identical): nothing can be fitted on them."""


class UnknownNameError(InvalidParameterError, KeyError):
    """A name that no registry entry has (an unknown projection, translator, metric...); see
    :class:`latent_core.registry.Registry`. Also a ``KeyError``, as a mapping's missing key."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


# ---- batch pipeline (latent_core.batch: LanceDB tables, saved translators) ------------------------------


class MissingTableError(DatasetUnavailableError):
    """A LanceDB table (or the database folder holding it) does not exist."""


class TranslatorFormatError(LatentCoreError, ValueError):
    """A saved translator or anchor set (safetensors + JSON) is malformed, tampered with, or of another version;
    or a fitted translator holds state that the safe format cannot express."""
