"""Save and load fitted translators in a safe format: ``translator.safetensors`` + ``translator.json``. No pickle.

``translator.safetensors`` holds every tensor of the fitted translator, keyed by attribute name
(``rotation_``, ``weight_``, ``bias_``, ``decoder_``, ``source_anchors_``, ``target_norm_``...) plus the anchor
scaling statistics ``source_scaler.mean`` ``[Ds]``, ``source_scaler.scale`` ``[Ds]``, ``target_scaler.mean``
``[Dt]``, ``target_scaler.scale`` ``[Dt]``, in their fitted dtype (float64 on CPU), so a loaded translator's
``transform`` equals the original's.

``translator.json`` (:data:`FORMAT`, :data:`VERSION`): the estimator's registry name (``TRANSLATORS``), its
constructor settings (scaling, ridge), source/target dims, the scaling statistics' names, each tensor's shape and
dtype, the SHA-256 of the tensor file, the anchor ids and the fingerprints of both encoders (as the caller gives
them), and free ``extra`` metadata.

Loading checks all of it and raises :class:`~latent_core.errors.TranslatorFormatError` on any mismatch (unknown
estimator, other version, missing or extra tensor, shape or dtype disagreeing with the JSON or with the dims, a
tensor file whose hash differs). A fitted translator holding state other than tensors and the known scalar
settings cannot be saved: that is a TranslatorFormatError too.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import torch

from latent_core.batch.formats import read_format_json
from latent_core.errors import LatentCoreError, TranslatorFormatError
from latent_core.translate import TRANSLATORS, AnchorScaler, Translator
from latent_core.validation import as_float

FORMAT = "latent-core-translator"
VERSION = 1
TENSORS_FILE = "translator.safetensors"
META_FILE = "translator.json"
SCALERS = ("source_scaler", "target_scaler")
STATISTICS = ("mean", "scale")
_SCALAR_STATE = {"source_dim_": int, "target_dim_": int, "width_": int}  # fitted non-tensor state, stored in JSON
_PUBLIC_NAME = re.compile(r"^[a-z][a-z0-9_]*_$")  # a fitted attribute: rotation_, weight_...
_DTYPES = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def registry_name(translator: Translator) -> str:
    """The name under which the translator's class is registered in ``TRANSLATORS``."""
    for name in TRANSLATORS:
        if TRANSLATORS.get(name) is type(translator):
            return name
    raise TranslatorFormatError(f"{type(translator).__name__} is not a registered translator; register it with "
                                "@register_translator to save it.")


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def translator_state(translator: Translator) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, settings)`` of a fitted translator: every tensor (CPU, contiguous) and the JSON-able state.

    Raises:
        NotFittedError-like TranslatorFormatError (not fitted), TranslatorFormatError (unsupported state).
    """
    if not hasattr(translator, "source_scaler_"):
        raise TranslatorFormatError(f"{type(translator).__name__} is not fitted: fit it before saving.")
    tensors: dict[str, torch.Tensor] = {}
    for side in SCALERS:
        scaler: AnchorScaler = getattr(translator, side + "_")
        for stat in STATISTICS:
            tensors[f"{side}.{stat}"] = getattr(scaler, stat + "_").detach().cpu().contiguous()
    settings = {"scaling": translator.scaling, "ridge": float(translator.ridge),
                "shrinkage": float(getattr(translator, "shrinkage_", 0.0))}  # the value the fit used ("cv" resolved)
    for name, value in vars(translator).items():
        if (name in ("scaling", "ridge", "shrinkage", "shrinkage_", "shrinkage_scores_")
                or name.rstrip("_") in SCALERS or name.startswith("_")):  # "_...": caches, rebuilt on use
            continue
        if name in _SCALAR_STATE:
            settings[name] = int(value)
        elif isinstance(value, torch.Tensor) and _PUBLIC_NAME.match(name):
            tensors[name] = value.detach().cpu().contiguous()
        else:
            raise TranslatorFormatError(
                f"{type(translator).__name__} holds {name!r} ({type(value).__name__}), which the safe format "
                "(tensors + JSON) cannot express; it cannot be saved without pickle."
            )
    return tensors, settings


def save_translator(translator: Translator, directory: str | Path, *, anchor_ids: list[str] | None = None,
                    fingerprints: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write ``translator.safetensors`` + ``translator.json`` into ``directory`` (created); returns it.

    Args:
        anchor_ids: the ids of the anchor pairs it was fitted on.
        fingerprints: ``{"source": ..., "target": ...}``: fingerprints of both encoders (any strings).
        extra: more JSON-able metadata (e.g. the tables it came from).
    """
    from safetensors.torch import save_file

    name = registry_name(translator)
    tensors, settings = translator_state(translator)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensor_path = directory / TENSORS_FILE
    save_file(tensors, str(tensor_path), metadata={"format": FORMAT, "version": str(VERSION), "estimator": name})
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "estimator": name,
        "class": type(translator).__name__,
        "scaling": settings.pop("scaling"),
        "ridge": settings.pop("ridge"),
        "shrinkage": settings.pop("shrinkage"),
        "source_dim": settings["source_dim_"],
        "target_dim": settings["target_dim_"],
        "state": settings,
        "scaling_statistics": [f"{side}.{stat}" for side in SCALERS for stat in STATISTICS],
        "tensors": {key: {"shape": list(value.shape), "dtype": _dtype_name(value.dtype)}
                    for key, value in tensors.items()},
        "tensors_sha256": _sha256(tensor_path),
        "anchor_ids": [str(i) for i in (anchor_ids or [])],
        "fingerprints": {str(k): str(v) for k, v in (fingerprints or {}).items()},
        "extra": extra or {},
    }
    (directory / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))
    return directory


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def read_meta(directory: str | Path) -> dict[str, Any]:
    """The checked ``translator.json`` of a saved translator (cheap: no tensor is read).

    Raises:
        TranslatorFormatError: missing, not JSON, another format or version, unknown estimator, bad fields.
    """
    path, meta = read_format_json(directory, META_FILE, what="translator", format_name=FORMAT, version=VERSION,
                                  redo="Refit and save the translator again.")
    if meta.get("estimator") not in TRANSLATORS:
        raise TranslatorFormatError(f"{path} names an unknown estimator {meta.get('estimator')!r}; known: "
                                    f"{', '.join(TRANSLATORS)}.")
    for key, kind in (("source_dim", int), ("target_dim", int), ("tensors", dict), ("state", dict)):
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise TranslatorFormatError(f"{path}: field {key!r} is missing or not a {kind.__name__}.")
    state = meta["state"]
    if set(state) != set(_SCALAR_STATE) or not all(isinstance(state[k], int) and state[k] > 0 for k in state):
        raise TranslatorFormatError(f"{path}: field 'state' must give positive {', '.join(_SCALAR_STATE)}.")
    if (state["source_dim_"], state["target_dim_"]) != (meta["source_dim"], meta["target_dim"]):
        raise TranslatorFormatError(f"{path}: the dims disagree with the fitted state.")
    for name in meta["tensors"]:
        if not (name in meta.get("scaling_statistics", ()) or _PUBLIC_NAME.match(name)):
            raise TranslatorFormatError(f"{path} lists a tensor with a forbidden name {name!r}.")
    return meta


def _check_tensors(meta: dict[str, Any], tensors: dict[str, torch.Tensor], where: str) -> None:
    listed, found = set(meta["tensors"]), set(tensors)
    if listed != found:
        missing, unlisted = sorted(listed - found), sorted(found - listed)
        raise TranslatorFormatError(f"{where}: tensors missing {missing} / not in the JSON {unlisted}.")
    for name, spec in meta["tensors"].items():
        tensor = tensors[name]
        if list(tensor.shape) != spec.get("shape") or _dtype_name(tensor.dtype) != spec.get("dtype"):
            raise TranslatorFormatError(f"{where}: tensor {name!r} is {list(tensor.shape)} {_dtype_name(tensor.dtype)}"
                                        f", the JSON says {spec.get('shape')} {spec.get('dtype')}.")
        if spec.get("dtype") not in _DTYPES:
            raise TranslatorFormatError(f"{where}: tensor {name!r} has an unsupported dtype {spec.get('dtype')!r}.")
    dims = {"source_scaler": meta["source_dim"], "target_scaler": meta["target_dim"]}
    for side in SCALERS:
        for stat in STATISTICS:
            key = f"{side}.{stat}"
            if key not in tensors or list(tensors[key].shape) != [dims[side]]:
                raise TranslatorFormatError(f"{where}: scaling statistic {key!r} must be [{dims[side]}].")


def load_translator(directory: str | Path, device: str | torch.device = "cpu") -> tuple[Translator, dict[str, Any]]:
    """A saved translator, ready to ``transform``, and its metadata (``translator.json``).

    Raises:
        TranslatorFormatError: missing files, a tampered tensor file (hash), any mismatch with the JSON, or a
            translator that fails a one-row smoke transform.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    meta = read_meta(directory)
    tensor_path = directory / TENSORS_FILE
    if not tensor_path.is_file():
        raise TranslatorFormatError(f"{tensor_path} is missing.")
    if _sha256(tensor_path) != meta.get("tensors_sha256"):
        raise TranslatorFormatError(f"{tensor_path} does not match the hash in {META_FILE}: it was modified or "
                                    "comes from another save.")
    try:
        tensors = load_file(str(tensor_path), device=str(device))
    except (SafetensorError, OSError, ValueError) as error:
        raise TranslatorFormatError(f"{tensor_path} is not a readable safetensors file ({error}).") from None
    _check_tensors(meta, tensors, str(tensor_path))
    try:
        translator = TRANSLATORS.get(meta["estimator"])(scaling=meta.get("scaling"), ridge=meta.get("ridge", 1e-4),
                                                        shrinkage=meta.get("shrinkage", 0.0))
        translator.shrinkage_ = as_float(translator.shrinkage, "shrinkage")
    except LatentCoreError as error:
        raise TranslatorFormatError(f"{directory / META_FILE}: bad settings ({error}).") from None
    for side in SCALERS:
        scaler = AnchorScaler(meta.get("scaling"))
        scaler.mean_, scaler.scale_ = tensors.pop(f"{side}.mean"), tensors.pop(f"{side}.scale")
        setattr(translator, side + "_", scaler)
    for name, value in meta["state"].items():
        setattr(translator, name, value)
    for name, tensor in tensors.items():
        setattr(translator, name, tensor)
    _smoke_test(translator, meta, directory)
    return translator, meta


def _smoke_test(translator: Translator, meta: dict[str, Any], directory: Path) -> None:
    """One row through ``transform``: a file whose tensors do not fit together fails here, not mid-pipeline."""
    probe = translator.source_scaler_.mean_.float().unsqueeze(0) + 1.0
    try:
        out = translator.transform(probe)
    except (LatentCoreError, RuntimeError, IndexError, AttributeError) as error:
        raise TranslatorFormatError(f"The translator in {str(directory)!r} does not work: {error}") from None
    if list(out.shape) != [1, meta["target_dim"]] or not torch.isfinite(out).all():
        raise TranslatorFormatError(f"The translator in {str(directory)!r} gives {list(out.shape)} or non-finite "
                                    f"output for one row; expected [1, {meta['target_dim']}].")
