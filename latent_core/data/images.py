"""Offline image datasets: Fashion-MNIST (Debian package), scikit-learn digits, and image+caption sets.

Images are kept as small greyscale PIL images; each encoder converts them to RGB, resizes and
normalises them as it expects.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from latent_core.data.base import Dataset, register_dataset
from latent_core.errors import DatasetFormatError, DatasetUnavailableError, UnknownDatasetError

FASHION_DIR = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot"]
_FASHION_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                  "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
DIGIT_LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): magic, dims as big-endian int32, then uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetFormatError(f"{path.name} is not an unsigned-byte IDX file.")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">i4", count=ndim, offset=4)
    payload = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if payload.size != int(np.prod(dims)):
        raise DatasetFormatError(f"{path.name} is truncated: {payload.size} bytes for shape {tuple(dims)}.")
    return payload.reshape(tuple(int(d) for d in dims))


def fashion_mnist_available() -> bool:
    return all((FASHION_DIR / f).exists() for pair in _FASHION_FILES.values() for f in pair)


def _to_images(arrays: np.ndarray) -> list:
    from PIL import Image

    return [Image.fromarray(a, mode="L") for a in arrays]


@register_dataset("fashion-mnist",
                  "Fashion-MNIST, 10 clothing classes, 28x28 grey ('fashion-mnist:train' for the 60k split)",
                  kind="name")
def load_fashion_mnist(arg: str | None) -> Dataset:
    split = arg or "test"
    if split not in _FASHION_FILES:
        raise UnknownDatasetError(f"Unknown Fashion-MNIST split {split!r}: use 'test' (10k) or 'train' (60k).")
    if not fashion_mnist_available():
        raise DatasetUnavailableError(
            f"Fashion-MNIST is not installed (looked in {FASHION_DIR}). Install the Debian package: "
            "sudo apt-get install dataset-fashion-mnist (or set FASHION_MNIST_DIR)."
        )
    image_file, label_file = _FASHION_FILES[split]
    images, labels = read_idx(FASHION_DIR / image_file), read_idx(FASHION_DIR / label_file)
    ids = [f"{split}/{i:05d}" for i in range(len(labels))]
    return Dataset(name=f"fashion-mnist:{split}", ids=ids, items=_to_images(images), labels=labels.astype(np.int64),
                   label_names=list(FASHION_LABELS), modality="image")


@register_dataset("digits", "scikit-learn digits, 1797 8x8 grey images, 10 classes", kind="name")
def load_digits_dataset(arg: str | None) -> Dataset:
    if arg is not None:
        raise UnknownDatasetError("The digits dataset has no variants: use 'digits'.")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = np.clip(bunch.images * (255.0 / 16.0), 0, 255).astype(np.uint8)  # 0..16 -> 0..255
    return Dataset(name="digits", ids=[f"digit/{i:04d}" for i in range(len(pixels))], items=_to_images(pixels),
                   labels=bunch.target.astype(np.int64), label_names=list(DIGIT_LABELS), modality="image")


CAPTION_TEMPLATES = [
    "a photo of {}.",
    "a black and white photo of {}.",
    "a low resolution photo of {}.",
    "a grayscale picture of {}.",
    "a close-up photo of {}.",
    "an image showing {}.",
]
_CAPTION_NOUNS = {"T-shirt/top": "t-shirt", "Ankle boot": "ankle boot", "zero": "handwritten digit zero"}


def class_phrase(label_name: str) -> str:
    """``"Ankle boot"`` -> ``"an ankle boot"``: the noun phrase captions and prompts use for a class."""
    noun = _CAPTION_NOUNS.get(label_name, label_name.lower())
    if label_name in DIGIT_LABELS and label_name != "zero":
        noun = f"handwritten digit {label_name}"
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def caption_for(label_name: str, template: int) -> str:
    return CAPTION_TEMPLATES[template % len(CAPTION_TEMPLATES)].format(class_phrase(label_name))


@register_dataset("captions", "Images with captions written from class names (cross-modal anchors): "
                  "'captions:fashion-mnist' or 'captions:digits'", kind="name")
def load_captioned(arg: str | None) -> Dataset:
    """Image+caption pairs; defaults to Fashion-MNIST, or digits when the Debian package is absent."""
    source = arg or ("fashion-mnist" if fashion_mnist_available() else "digits")
    if source not in {"fashion-mnist", "digits"}:
        raise UnknownDatasetError(f"Unknown caption source {source!r}: use 'fashion-mnist' or 'digits'.")
    base = load_fashion_mnist(None) if source == "fashion-mnist" else load_digits_dataset(None)
    rng = np.random.default_rng(0)  # deterministic template choice per sample
    templates = rng.integers(0, len(CAPTION_TEMPLATES), size=len(base))
    base.captions = [caption_for(base.label_names[y], t) for y, t in zip(base.labels, templates)]
    base.name = f"captions:{source}"
    return base
