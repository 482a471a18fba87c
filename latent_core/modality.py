"""Does an encoder read what a dataset holds? Checked before anything is encoded.

The app and the experiments CLI share :func:`check_modality`, so a text encoder on an image dataset fails
at once with the same message everywhere, instead of after minutes of encoding (or with a crash inside a
tokenizer).
"""

from __future__ import annotations

from latent_core.errors import ConfigError

# Backends that read one modality whatever the model name (the ``clip`` tower is named in the spec).
_BACKEND_MODALITY = {"st": "text", "e5": "text", "onnx": "text", "glove": "text", "effnet": "image"}


def encoder_modality(spec: str) -> str | None:
    """``"text"`` or ``"image"`` for an encoder spec, known without loading the encoder: from
    :func:`latent_core.encoders.list_encoders`, the backend, or a CLIP spec's tower. ``None`` when it cannot
    be told without loading (``file:`` embeddings, an unknown backend)."""
    from latent_core.encoders import list_encoders

    if not isinstance(spec, str):
        return None
    for info in list_encoders():
        if info.spec == spec:
            return info.modality
    prefix, _, rest = spec.partition(":")
    prefix = prefix.strip().lower()
    if prefix == "clip":
        tower = rest.strip().rpartition(":")[2]
        return tower if tower in ("text", "image") else None
    return _BACKEND_MODALITY.get(prefix)


def check_modality(encoder_spec: str, encoder_modality: str, dataset_spec: str, dataset_modality: str) -> None:
    """Raise :class:`~latent_core.errors.ConfigError` when the encoder reads another modality than the dataset
    holds. ``file:`` specs (uploaded embeddings) are not checked here: they are aligned to their dataset by
    rows instead.

    Args:
        encoder_spec: what was passed to ``get_encoder`` (shown in the message).
        encoder_modality: ``Encoder.modality``, or :func:`encoder_modality` of the spec before loading it.
        dataset_spec: what was passed to ``load_dataset`` (shown in the message).
        dataset_modality: ``Dataset.modality`` (``"text"`` for the captions of an image+caption set).
    """
    if isinstance(encoder_spec, str) and encoder_spec.startswith("file:"):
        return
    if encoder_modality != dataset_modality:
        raise ConfigError(
            f"{encoder_spec} reads {encoder_modality}s but the dataset {dataset_spec!r} holds {dataset_modality}s. "
            f"Pick {_article(dataset_modality)} {dataset_modality} encoder, or {_article(encoder_modality)} "
            f"{encoder_modality} dataset."
        )


def _article(word: str) -> str:
    return "an" if str(word)[:1].lower() in "aeiou" else "a"
