"""Make ``import torchvision`` work when its compiled library cannot load (pytorch/vision#9085).

The PyPI torchvision 0.28.0 wheel is a CUDA build. Beside the CPU torch its ``_C.so`` fails to load
silently, and torchvision then registers fake kernels for ``torchvision::nms``, an operator that was
never defined: ``import torchvision`` raises "operator torchvision::nms does not exist", and with it
transformers, sentence-transformers, open_clip and timm.

:func:`ensure_torchvision_importable` must run before the first import of torchvision. It first tries to
load the compiled library (on a matching install, e.g. a GPU machine, that succeeds and nothing else
happens). Otherwise it defines the two operator schemas torchvision expects, with a pure-torch CPU
kernel for ``nms`` so detection code still gets correct results.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

_LIBRARY: torch.library.Library | None = None  # must stay alive, or the definitions are dropped
_STATE: str | None = None  # "native", "patched", "absent" or "already-imported"


def _nms_reference(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression, as torchvision's CPU kernel: keep boxes by descending score."""
    if dets.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=dets.device)
    x1, y1, x2, y2 = dets.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort(descending=True)
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep: list[int] = []
    for pos in range(len(order)):
        i = int(order[pos])
        if suppressed[pos]:
            continue
        keep.append(i)
        rest = order[pos + 1 :]
        xx1 = torch.maximum(x1[i], x1[rest])
        yy1 = torch.maximum(y1[i], y1[rest])
        xx2 = torch.minimum(x2[i], x2[rest])
        yy2 = torch.minimum(y2[i], y2[rest])
        inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
        iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[pos + 1 :] |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=dets.device)


def ensure_torchvision_importable() -> str:
    """Make sure ``import torchvision`` will succeed; safe to call any number of times.

    Returns:
        ``"native"`` (its compiled library loaded: nothing patched), ``"patched"`` (operator schemas
        defined here), ``"absent"`` (torchvision is not installed: nothing to do) or
        ``"already-imported"`` (too late to act; torchvision imported fine or failed on its own).
    """
    global _LIBRARY, _STATE
    if _STATE is not None:
        return _STATE
    if "torchvision" in sys.modules:
        _STATE = "already-imported"
        return _STATE
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        _STATE = "absent"
        return _STATE
    package_dir = Path(spec.origin).parent
    for candidate in sorted(package_dir.glob("_C*.so")) + sorted(package_dir.glob("_C*.pyd")):
        try:
            torch.ops.load_library(str(candidate))
        except (OSError, RuntimeError):
            continue
        _STATE = "native"
        return _STATE
    library = torch.library.Library("torchvision", "FRAGMENT")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.impl("nms", _nms_reference, "CPU")
    _LIBRARY = library
    _STATE = "patched"
    return _STATE
