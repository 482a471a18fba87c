"""Save and load an anchor set for relative projections: ``anchors.safetensors`` (tensor ``anchors`` ``[K, D]``)
+ ``anchors.json`` (format, version, projection name and its options, K, D, anchor ids, encoder fingerprint, the
SHA-256 of the tensor file). No pickle. :func:`load_projection` gives a fitted
:class:`latent_core.relative.RelativeProjection`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latent_core.batch.formats import read_format_json
from latent_core.errors import LatentCoreError, TranslatorFormatError
from latent_core.relative import RelativeProjection

FORMAT = "latent-core-anchors"
VERSION = 1
TENSORS_FILE = "anchors.safetensors"
META_FILE = "anchors.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_anchors(anchors: np.ndarray | torch.Tensor, directory: str | Path, *, anchor_ids: list[str],
                 projection: str = "cosine", center: bool = False, fingerprint: str | None = None) -> Path:
    """Write the anchors ``[K, D]`` (float32) and the projection that uses them; returns ``directory``.

    Raises:
        InvalidParameterError (a bad projection: checked by fitting it once), TranslatorFormatError (ids count).
    """
    from safetensors.torch import save_file

    tensor = torch.from_numpy(np.array(anchors, dtype=np.float32))  # a writable copy
    if tensor.ndim != 2 or len(anchor_ids) != tensor.shape[0]:
        raise TranslatorFormatError(f"Anchors must be [K, D] with K ids; got {list(tensor.shape)} and "
                                    f"{len(anchor_ids)} ids.")
    RelativeProjection(projection, center=center).fit(tensor)  # validates the projection and the anchors
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file({"anchors": tensor}, str(directory / TENSORS_FILE), metadata={"format": FORMAT})
    meta = {"format": FORMAT, "version": VERSION, "projection": projection, "center": bool(center),
            "num_anchors": int(tensor.shape[0]), "dim": int(tensor.shape[1]),
            "anchor_ids": [str(i) for i in anchor_ids], "fingerprint": fingerprint,
            "tensors_sha256": _sha256(directory / TENSORS_FILE)}
    (directory / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))
    return directory


def read_anchor_meta(directory: str | Path) -> dict[str, Any]:
    """The checked ``anchors.json``. Raises TranslatorFormatError."""
    _, meta = read_format_json(directory, META_FILE, what="anchors", format_name=FORMAT, version=VERSION,
                               redo="Save the anchors again (project --save-anchors).")
    return meta


def output_dim(meta: dict[str, Any]) -> int:
    """Width of the relative vectors: K, or 4K for the concatenated product."""
    return 4 * meta["num_anchors"] if meta["projection"] == "product" else meta["num_anchors"]


def load_projection(directory: str | Path) -> tuple[RelativeProjection, dict[str, Any]]:
    """A fitted RelativeProjection from saved anchors, and the metadata. Raises TranslatorFormatError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    meta = read_anchor_meta(directory)
    path = directory / TENSORS_FILE
    if not path.is_file() or _sha256(path) != meta.get("tensors_sha256"):
        raise TranslatorFormatError(f"{path} is missing or does not match the hash in {META_FILE}.")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise TranslatorFormatError(f"{path} is not a readable safetensors file ({error}).") from None
    anchors = tensors.get("anchors")
    if anchors is None or list(anchors.shape) != [meta.get("num_anchors"), meta.get("dim")]:
        raise TranslatorFormatError(f"{path}: the anchors do not have the shape the JSON gives.")
    try:
        projection = RelativeProjection(meta["projection"], center=bool(meta.get("center"))).fit(anchors)
    except LatentCoreError as error:
        raise TranslatorFormatError(f"{directory / META_FILE}: {error}") from None
    return projection, meta
